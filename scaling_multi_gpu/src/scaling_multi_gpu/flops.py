"""How many FLOPs is one training step? Counted by PyTorch, checked by hand - the numerator of MFU.

MFU (model FLOPs utilisation) = FLOPs the model needs per second / the device's datasheet peak.
The numerator must be the *model's* FLOPs, not whatever the kernels happened to do, so we count
them once with `torch.utils.flop_counter.FlopCounterMode` while a forward AND backward pass runs on
the "meta" device (shapes only, no data, no compute: ResNet-152 at 224 px costs nothing to count).
FlopCounterMode counts matmuls and convolutions (2 FLOPs per multiply-add) and skips elementwise
work (ReLU, BatchNorm, bias adds), as the papers do. Backward is about 2x forward: one product for
the gradient of the input, one for the gradient of the weights (the first layer needs no input
gradient, so it pays 1x).

For a transformer the same number has a closed form, the one nanoGPT and the scaling-law papers
use: 6 FLOPs per parameter per token (2 forward + 4 backward) plus the attention scores,
12 * layers * width * sequence length per token (QK^T and attention x V, 2 + 4 again).
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def train_flops_per_sample(model: nn.Module, input_shape: tuple[int, ...], batch: int = 2) -> float:
    """Forward + backward FLOPs for ONE sample of `input_shape` (e.g. (3, 224, 224)).

    Counted on a meta-device copy with a batch of 2 in training mode, then divided by 2: with a
    batch of 1, BatchNorm in training mode refuses a 1x1 feature map ("expected more than 1 value
    per channel"), which is what ResNet-152 at 32 px has in its last stage. Matmul and convolution
    FLOPs are linear in the batch, so the per-sample count does not depend on this choice.
    """
    meta = copy.deepcopy(model).to("meta").train()
    x = torch.empty(batch, *input_shape, device="meta")
    with FlopCounterMode(display=False) as counter:
        meta(x).float().sum().backward()
    return counter.get_total_flops() / batch


def conv2d_flops(c_in: int, c_out: int, kernel: int, h_out: int, w_out: int) -> int:
    """Forward FLOPs of one convolution for one sample: 2 per multiply-add, no bias."""
    return 2 * c_in * c_out * kernel * kernel * h_out * w_out


def small_cnn_train_flops(num_classes: int = 10, width: int = 16, image_size: int = 32) -> int:
    """SmallCNN (models.py) by hand: conv1 (no input gradient needed: 1x forward for the weight
    gradient), conv2 and the linear head (2x forward each in backward: input and weight gradient)."""
    conv1 = conv2d_flops(3, width, 3, image_size, image_size)
    conv2 = conv2d_flops(width, 2 * width, 3, image_size // 2, image_size // 2)
    head = 2 * (2 * width * (image_size // 4) ** 2) * num_classes
    forward = conv1 + conv2 + head
    backward = conv1 + 2 * conv2 + 2 * head
    return forward + backward


def transformer_train_flops_per_token(
    n_params: int, n_layers: int, d_model: int, seq_len: int
) -> int:
    """nanoGPT's estimate (Chinchilla appendix / PaLM): 6N + 12 * L * d * T per token.

    `n_params` counts the weights of the matmuls (attention projections, MLP, output head); the
    embedding lookup is no matmul and is left out, as nanoGPT does for the position embedding.
    """
    return 6 * n_params + 12 * n_layers * d_model * seq_len


def achieved_tflops(flops_per_sample: float, samples_per_s: float) -> float:
    """Model FLOPs per second actually delivered, in TFLOP/s."""
    return flops_per_sample * samples_per_s / 1e12


def mfu(achieved: float, peak: float | None) -> float | None:
    """Fraction of the datasheet peak; None (never a made-up number) when the peak is unknown."""
    return achieved / peak if peak else None
