"""A tiny causal LM shared as ONE Hub-style folder: weights, config, tokenizer, generation config, card.

A language model is only reusable with the exact tokenizer it was trained with (the ids ARE the
interface) and the decoding settings that produced its outputs. So all of them go in one folder:
`config.json` + `model.safetensors` (a 2-layer GPT-2), `tokenizer.json` (a BPE tokenizer trained
here with the `tokenizers` library), `generation_config.json` (greedy decoding), `sample.json`
(a greedy output to re-check), `run.json` and `README.md`. Anyone loads it with
`AutoModelForCausalLM` + `AutoTokenizer` - no code of ours needed.

Run: `uv run ms-lm --out outputs/tiny-gpt2`
"""

from __future__ import annotations

import json
import math
import random
import sys
import time
from pathlib import Path

import torch
from huggingface_hub import EvalResult, ModelCard, ModelCardData
from safetensors.torch import load_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from tqdm import tqdm
from transformers import GenerationConfig, GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

from model_sharing import card
from model_sharing.data import check_seed, seed_everything, use_one_cpu_thread
from model_sharing.plumbing import OneLineParser, ShareError, check_out, run_at_edge
from model_sharing.receipt import data_sha256, weights_sha256, write_json_atomic, write_run_json

EOS = "<|endoftext|>"
SUBJECTS = ["the cat", "the dog", "a bird", "my friend", "the teacher", "a child", "the robot"]
VERBS = ["sees", "likes", "finds", "follows", "draws", "helps", "carries"]
OBJECTS = ["the ball", "a tree", "the river", "an apple", "the house", "a book", "the moon"]
PLACES = ["in the park", "at home", "near the lake", "after school", "every morning"]
PROMPT = "the robot"


def generate_corpus(n_sentences: int, seed: int) -> list[str]:
    """Seeded sentences from a tiny grammar: the same seed gives the same corpus, byte for byte."""
    rng = random.Random(seed)
    return [
        f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(PLACES)} ."
        for _ in range(n_sentences)
    ]


def train_tokenizer(corpus: list[str], vocab_size: int = 400) -> PreTrainedTokenizerFast:
    """Byte-level BPE, as GPT-2 uses: learned merges + the end-of-text token, wrapped for transformers."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=EOS, eos_token=EOS, pad_token=EOS, model_max_length=64
    )


def token_blocks(corpus: list[str], tok: PreTrainedTokenizerFast, block: int) -> torch.Tensor:
    """One stream of ids, each sentence ended by EOS, cut into fixed-length training blocks."""
    ids: list[int] = []
    for line in corpus:
        ids += tok(line)["input_ids"] + [tok.eos_token_id]
    n = len(ids) // block
    return torch.tensor(ids[: n * block]).view(n, block)


def make_model(vocab_size: int, eos_id: int, n_layer: int = 2) -> GPT2LMHeadModel:
    config = GPT2Config(
        vocab_size=vocab_size,
        n_positions=64,
        n_embd=64,
        n_layer=n_layer,
        n_head=2,
        bos_token_id=eos_id,
        eos_token_id=eos_id,
        # No dropout: the short training run is then a pure function of seed and data order.
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
    )
    model = GPT2LMHeadModel(config)
    model.loss_type = "ForCausalLM"  # the default anyway; naming it silences a transformers warning
    return model


def train_lm(
    model: GPT2LMHeadModel, blocks: torch.Tensor, *, seed: int, steps: int, batch: int = 16
) -> list[float]:
    """AdamW on random blocks (seeded generator); returns the loss of every step."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    losses = []
    for _ in tqdm(range(steps), desc="train tiny-gpt2", leave=False, disable=None):
        x = blocks[torch.randint(len(blocks), (batch,), generator=gen)]
        loss = model(input_ids=x, labels=x).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@torch.no_grad()
def heldout_perplexity(model: GPT2LMHeadModel, blocks: torch.Tensor) -> dict[str, object]:
    """exp(mean next-token loss), over how many tokens, and a 95% interval over the blocks."""
    model.eval()
    logits = model(input_ids=blocks).logits[:, :-1]  # position t predicts token t + 1
    nll = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), blocks[:, 1:].reshape(-1), reduction="none"
    ).view(len(blocks), -1)
    per_block = nll.mean(dim=1).double()
    mean, half = per_block.mean().item(), 1.96 * per_block.std().item() / len(per_block) ** 0.5
    return {
        "heldout_perplexity": math.exp(nll.double().mean().item()),
        "heldout_tokens": nll.numel(),
        "heldout_perplexity_ci95": [math.exp(mean - half), math.exp(mean + half)],
    }


@torch.no_grad()
def greedy_sample(model, tok, prompt: str = PROMPT) -> dict[str, object]:
    """Decode with the model's generation_config (greedy): a deterministic output to ship."""
    model.eval()
    enc = tok(prompt, return_tensors="pt")
    out = model.generate(**enc)
    return {
        "prompt": prompt,
        "output_ids": out[0].tolist(),
        "text": tok.decode(out[0], skip_special_tokens=True),
    }


def share_lm(
    out: Path,
    *,
    seed: int = 0,
    steps: int = 120,
    n_sentences: int = 2000,
    out_root: Path | None = None,
) -> dict[str, object]:
    """Train and write the complete folder. Returns the greedy sample that was saved.

    `out_root`: the folder `--out` named, when `out` is a sub-folder of it (as in ms-demo).
    """
    started = time.time()
    use_one_cpu_thread()
    seed_everything(seed)
    corpus = generate_corpus(n_sentences, seed)
    heldout = generate_corpus(200, seed + 10_000)  # same grammar, other sentences
    tok = train_tokenizer(corpus)
    blocks, test_blocks = token_blocks(corpus, tok, 32), token_blocks(heldout, tok, 32)
    model = make_model(len(tok), tok.eos_token_id)
    losses = train_lm(model, blocks, seed=seed, steps=steps)
    model.generation_config = GenerationConfig(
        do_sample=False,
        max_new_tokens=16,
        bos_token_id=tok.eos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.eos_token_id,
    )
    sample = greedy_sample(model, tok)

    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)  # config.json, model.safetensors, generation_config.json
    tok.save_pretrained(out)  # tokenizer.json, tokenizer_config.json
    write_json_atomic(out / "sample.json", sample)
    write_run_json(
        out,
        seed=seed,
        config={"n_layer": 2, "n_embd": 64, "steps": steps, "n_sentences": n_sentences},
        metrics={
            **heldout_perplexity(model, test_blocks),
            "first_train_loss": losses[0],
            "last_train_loss": losses[-1],
        },
        # Hash what was saved: GPT-2 ties lm_head to the embedding, so the file holds that
        # tensor once while state_dict() lists it twice.
        weights_sha256=weights_sha256(load_file(out / "model.safetensors")),
        weights_file=out / "model.safetensors",
        out_root=out_root,
        data_sha256=data_sha256(blocks, test_blocks),
        started=started,
    )
    write_json_atomic(out / "losses.json", {"train_loss": losses})
    write_lm_card(out)
    return sample


def write_lm_card(folder: Path, repo_id: str = "your-name/tiny-gpt2") -> Path:
    """The Hub's card template filled from run.json, as `card.write_classifier_card` does."""
    run = card.read_run(folder)
    m = run["metrics"]
    data = ModelCardData(
        model_name="tiny-gpt2",
        license="mit",
        library_name="transformers",
        pipeline_tag="text-generation",
        language="en",
        tags=["gpt2", "reproducibility-workshop"],
        datasets=["generated-templated-sentences"],
        metrics=["perplexity"],
        eval_results=[
            EvalResult(
                task_type="text-generation",
                dataset_type="generated-templated-sentences",
                dataset_name="held-out generated sentences",
                dataset_split=f"{m['heldout_tokens']} tokens, corpus seed {run['seed']} + 10000",
                metric_type="perplexity",
                metric_value=round(m["heldout_perplexity"], 3),
            )
        ],
    )
    low, high = m["heldout_perplexity_ci95"]
    lm_card = ModelCard.from_template(
        data,
        model_id="tiny-gpt2",
        model_summary="A 2-layer GPT-2 trained for a few hundred steps on sentences generated "
        "from a tiny seeded grammar, with its own byte-level BPE tokenizer. Weights, tokenizer, "
        "generation config and a greedy sample (`sample.json`) ship together.",
        model_type="GPT-2 decoder, 2 layers, 64-dim, 2 heads",
        direct_use="Teaching: what a complete, loadable language-model release contains. Greedy "
        "decoding of `sample.json`'s prompt must reproduce its `output_ids` exactly.",
        out_of_scope_use="Any real text: it knows only a 7x7x7x5 template grammar.",
        bias_risks_limitations="Outputs are not English beyond the template grammar. Perplexity "
        "is measured on sentences from the same grammar, so it says nothing about real text.",
        get_started_code=f'''```python
from transformers import AutoModelForCausalLM, AutoTokenizer

revision = "<commit sha>"  # pin the commit you evaluated: "main" can change under you
tok = AutoTokenizer.from_pretrained("{repo_id}", revision=revision)
model = AutoModelForCausalLM.from_pretrained("{repo_id}", revision=revision, use_safetensors=True)
ids = tok("the robot", return_tensors="pt")
print(tok.decode(model.generate(**ids)[0], skip_special_tokens=True))
```''',
        training_data=f"{run['config']['n_sentences']} sentences generated with seed "
        f"{run['seed']} from the grammar in `tiny_lm.py`.",
        training_regime=f"fp32 on CPU; AdamW, config {json.dumps(run['config'], sort_keys=True)}",
        testing_data="200 sentences generated with seed + 10000 (same grammar, other sentences), "
        f"cut into 32-token blocks: {m['heldout_tokens']} predicted tokens.",
        testing_metrics="Perplexity = exp(mean next-token cross-entropy); the 95% interval is "
        "exp(mean +- 1.96 standard errors) over the held-out blocks.",
        results=f"perplexity {m['heldout_perplexity']:.3f} over {m['heldout_tokens']} tokens "
        f"(95% interval {low:.3f}-{high:.3f})",
        citation_bibtex=card.CITATION,
        citation_apa=card.CITATION_APA,
        more_information=card.provenance_table(run),
        model_card_authors="generated by `ms-lm` from run.json",
    )
    return card.write_card(lm_card, folder)


def _main(argv: list[str] | None) -> int:
    p = OneLineParser(prog="ms-lm", description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=120)
    p.add_argument("--out", type=Path, default=Path("outputs/tiny-gpt2"))
    args = p.parse_args(argv)
    if args.steps < 1:
        raise ShareError("--steps must be positive")
    check_seed(args.seed)
    sample = share_lm(check_out(args.out), seed=args.seed, steps=args.steps)
    run = json.loads((args.out / "run.json").read_text())
    print(f"held-out perplexity {run['metrics']['heldout_perplexity']:.2f}")
    print(f"greedy sample: {sample['text']!r}")
    for f in sorted(args.out.iterdir()):
        print(f"{f.stat().st_size:>9,d}  {f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_at_edge(lambda: _main(argv))


if __name__ == "__main__":
    sys.exit(main())
