"""FLOP counts (the numerator of MFU) and the peak table (its denominator), checked by hand."""

from __future__ import annotations

import pytest
import torch
from scaling_multi_gpu.flops import (
    small_cnn_train_flops,
    train_flops_per_sample,
    transformer_train_flops_per_token,
)
from scaling_multi_gpu.models import SmallCNN, build_model
from torch import nn

from scaling_multi_gpu import hwinfo


@pytest.mark.parametrize("image_size", [32, 64])
def test_small_cnn_count_matches_the_hand_computed_one(image_size):
    counted = train_flops_per_sample(
        SmallCNN(10, image_size=image_size), (3, image_size, image_size)
    )
    assert counted == small_cnn_train_flops(10, image_size=image_size)
    # 32 px by hand: conv1 2*3*16*9*32*32 = 884,736; conv2 2*16*32*9*16*16 = 2,359,296;
    # head 2*2048*10 = 40,960. Forward + backward (1x, 2x, 2x) = 8,970,240.
    if image_size == 32:
        assert counted == 8_970_240


@pytest.fixture(scope="module")
def resnet152_on_meta() -> nn.Module:
    pytest.importorskip("torchvision", reason="needs the vision extra: uv sync --extra vision")
    with torch.device("meta"):  # shapes only: no 60M weights initialised
        return build_model("resnet152", 100, 224, seed=0)


def test_resnet152_at_224px_is_about_69_gflop_per_image(resnet152_on_meta):
    flops = train_flops_per_sample(resnet152_on_meta, (3, 224, 224))
    assert flops / 1e9 == pytest.approx(69, abs=4)
    assert round(flops / 1e9, 1) == 68.8  # the number the README quotes
    # torchvision's own figure: 11.5 GMACs forward = 23 GFLOP; training = 3x forward.
    assert flops / 3 / 1e9 == pytest.approx(23.0, abs=0.5)


def test_resnet152_at_32px_no_longer_crashes_in_batchnorm(resnet152_on_meta):
    model = resnet152_on_meta
    # The cause, kept visible: a batch of ONE at 32 px leaves a 1x1 map in the last stage, and
    # BatchNorm in training mode cannot take statistics over a single value per channel.
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        train_flops_per_sample(model, (3, 32, 32), batch=1)
    flops = train_flops_per_sample(model, (3, 32, 32))  # batch 2 by default
    assert flops == pytest.approx(train_flops_per_sample(model, (3, 32, 32), batch=4))
    assert 1.0e9 < flops < 2.0e9  # ~ (32/224)^2 of the 224 px count, plus the head


class TinyBlock(nn.Module):
    """A bias-free pre-norm transformer block with hand-written attention (no fused kernel)."""

    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv, self.proj = nn.Linear(d, 3 * d, bias=False), nn.Linear(d, d, bias=False)
        self.up, self.down = nn.Linear(d, 4 * d, bias=False), nn.Linear(4 * d, d, bias=False)
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, t, 3, self.heads, d // self.heads).unbind(2)
        q, k, v = (z.transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-1, -2) / (d // self.heads) ** 0.5).softmax(-1)
        x = x + self.proj((att @ v).transpose(1, 2).reshape(b, t, d))
        return x + self.down(torch.relu(self.up(self.norm2(x))))


class TinyLM(nn.Module):
    def __init__(self, vocab=64, d=32, heads=4, layers=2) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.blocks = nn.Sequential(*(TinyBlock(d, heads) for _ in range(layers)))
        self.head = nn.Linear(d, vocab, bias=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.embed(tokens)))


def test_transformer_rule_6n_plus_attention_matches_the_counter():
    vocab, d, layers, seq = 64, 32, 2, 16
    model = TinyLM(vocab, d, 4, layers)
    matmul_params = sum(p.numel() for n, p in model.named_parameters() if n.endswith("weight") and p.dim() == 2 and not n.startswith("embed"))  # fmt: skip
    rule = transformer_train_flops_per_token(matmul_params, layers, d, seq)
    tokens = torch.randint(0, vocab, (2, seq))
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        model(tokens).sum().backward()
    assert counter.get_total_flops() / tokens.numel() == rule
    assert rule != 6 * matmul_params  # the attention term is not negligible at this width


def test_peak_table_holds_dense_figures():
    """Datasheets also print 2:4-sparsity peaks, twice the dense ones. On these tensor cores dense
    TF32 runs at half the dense BF16 rate: a row typed from the sparsity column breaks the ratio."""
    for name, peaks in hwinfo.PEAK_TFLOPS:
        if "tf32" in peaks and "bf16" in peaks:
            assert peaks["tf32"] == pytest.approx(peaks["bf16"] / 2, rel=0.02), name
        if "bf16" in peaks and "fp16" in peaks:
            assert peaks["bf16"] == peaks["fp16"], name
        assert peaks["fp32"] < min(v for k, v in peaks.items() if k != "fp32"), name


def test_mfu_divides_by_the_column_of_the_math_mode_really_used():
    h200 = dict(hwinfo.PEAK_TFLOPS)["H200"]
    # fp32 data with TF32 allowed (PyTorch's default for cuDNN convolutions) is a TF32 run:
    assert hwinfo.mfu_peak("NVIDIA H200", "fp32", allow_tf32=True) == h200["tf32"]
    assert hwinfo.mfu_peak("NVIDIA H200", "fp32", allow_tf32=False) == h200["fp32"]
    assert hwinfo.mfu_peak("NVIDIA H200", "bf16", allow_tf32=False) == h200["bf16"]
    assert hwinfo.mfu_peak("NVIDIA H200", "fp32", True, devices=4) == 4 * h200["tf32"]  # dp on 4
    assert hwinfo.peak_tflops("NVIDIA V100", "tf32") is None  # no TF32 there: unknown, not made up
    assert hwinfo.mfu_peak("cpu", "fp32", True) is None


def test_cuda_status_names_why_a_gpu_is_not_usable():
    usable, why = hwinfo.cuda_status()
    assert usable == torch.cuda.is_available()
    if not usable:
        assert why == "no GPU" or why.startswith("torch cannot use the GPU"), why


def test_six_n_rule_beside_scaling_model_parallels_model():
    """scaling-model-parallel's model is a transformer's MLP part (no attention: the attention term
    is 0). Each sample is one "token". 6N holds for every layer but the first, whose INPUT needs no
    gradient (data, not an activation): it pays 4 FLOPs per weight, not 6."""
    model_parallel = pytest.importorskip("scaling_multi_gpu.model_parallel")
    cfg = model_parallel.Config()
    model = model_parallel.build_model(cfg)
    weights = {n: p for n, p in model.named_parameters() if p.dim() == 2}
    n_matmul = sum(p.numel() for p in weights.values())
    first = next(iter(weights.values())).numel()
    counted = train_flops_per_sample(model, (model_parallel.FEATURES,), batch=4)
    rule = transformer_train_flops_per_token(n_matmul, n_layers=2, d_model=cfg.dim, seq_len=0)
    assert rule == 6 * n_matmul
    assert counted == rule - 2 * first
