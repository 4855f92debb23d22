"""Reusing someone else's model: read its config and card critically, check the bytes, pin it.

Before a published model goes into your thesis: (1) read `config.json` - it says which
architecture the weights fit, how long an input may be, which vocabulary it expects, and what
it does NOT say (data, license, tokenizer); (2) read the card for what a reviewer would ask
(license, data, limitations, evaluation with n and spread, pinned loading code); (3) download
one commit, check the weights' sha256 against the one the Hub lists for that file (its Git LFS
object id), and load with `revision=<that commit>` and `use_safetensors=True`.

Offline, a folder laid out exactly like huggingface_hub's cache stands in for the Hub
(`publish_to_local_hub`): the same `hf_hub_download` / `from_pretrained` calls resolve it with
HF_HUB_OFFLINE=1. Online, `hub_listed_sha256(..., online=True)` asks the Hub itself.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import HfApi, ModelCard, hf_hub_download, try_to_load_from_cache
from transformers import AutoConfig, AutoModel, PreTrainedModel

from model_sharing.pinning import require_commit, unpinned_calls
from model_sharing.plumbing import ShareError
from model_sharing.receipt import sha256_file

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
DISTILBERT = FIXTURES / "distilbert-base-uncased"
LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".onnx", ".h5", ".msgpack")

# What each config field tells a reuser, for the fields worth reading first.
CONFIG_QUESTIONS = {
    "model_type": "which class the Auto classes build from these weights",
    "architectures": "which head the weights include; any other head starts random",
    "vocab_size": "the tokenizer it needs: ids outside this range crash or mean nothing",
    "max_position_embeddings": "the longest input in tokens; longer text must be truncated",
    "dropout": "randomness in train mode: call model.eval() for repeatable outputs",
    "attention_dropout": "more train-mode randomness, inside attention",
    "transformers_version": "the library version that wrote the file",
}


def read_config(path: Path) -> list[tuple[str, Any, str]]:
    """(field, value, why it matters) for the fields a reuser should read first."""
    config = json.loads(Path(path).read_text())
    return [(k, config.get(k, "(not stated)"), why) for k, why in CONFIG_QUESTIONS.items()]


def card_gaps(path: Path) -> list[str]:
    """What a reviewer would ask of this card and it does not answer (empty: nothing missing)."""
    card = ModelCard.load(path)
    meta, text = card.data, card.text
    gaps = [f"no {k} in the metadata" for k in ("license", "datasets") if not getattr(meta, k)]
    if not meta.eval_results:
        gaps.append("no model-index: the scores are prose, no machine can read them")
    if not re.search(r"limitation|bias|out-of-scope", text, re.IGNORECASE):
        gaps.append("no limitations / bias section")
    if not re.search(r"\b\d+\s*/\s*\d+\b|\bn\s*=\s*\d+|interval|±|\+-", text):
        gaps.append("evaluation gives no n and no interval: how sure are the numbers?")
    gaps += [f"how-to code: {p}" for p in unpinned_calls(text)]
    return gaps


def _git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def publish_to_local_hub(
    folder: Path, repo_id: str, cache_dir: Path, *, commit: str | None = None
) -> str:
    """Lay `folder` out as huggingface_hub caches a download of `repo_id`; return the commit.

    Like the Hub: large files are stored under their sha256 (the Git LFS object id the Hub
    lists), small ones under their git blob sha1; `snapshots/<commit>/` links to the blobs and
    `refs/main` names the newest commit. (The commit sha is a stand-in: a hash of the files,
    or the 40-hex `commit` given, e.g. the one a paper names.)
    """
    repo = Path(cache_dir) / f"models--{repo_id.replace('/', '--')}"
    files = sorted(p for p in Path(folder).rglob("*") if p.is_file())
    etags = {}
    for p in files:
        data = p.read_bytes()
        lfs = p.suffix in LFS_SUFFIXES
        etags[p] = hashlib.sha256(data).hexdigest() if lfs else _git_blob_sha1(data)
        (repo / "blobs").mkdir(parents=True, exist_ok=True)
        (repo / "blobs" / etags[p]).write_bytes(data)
    listing = "".join(f"{p.relative_to(folder).as_posix()} {etags[p]}\n" for p in files)
    commit = commit or hashlib.sha1(listing.encode()).hexdigest()
    for p in files:
        link = repo / "snapshots" / commit / p.relative_to(folder)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(Path("../" * (len(p.relative_to(folder).parts) + 1), "blobs", etags[p]))
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    return commit


def hub_listed_sha256(
    repo_id: str,
    filename: str,
    *,
    revision: str,
    cache_dir: Path | None = None,
    online: bool = False,
) -> str:
    """The sha256 the Hub lists for a file at a commit (its Git LFS object id).

    Online it asks the Hub's API; offline the cache keeps LFS files under that same id.
    """
    if online:
        (info,) = HfApi().get_paths_info(repo_id, [filename], revision=revision)
        if info.lfs is None:
            raise ShareError(f"{repo_id}/{filename} is not an LFS file: no sha256 listed")
        return info.lfs.sha256
    cached = try_to_load_from_cache(repo_id, filename, cache_dir=cache_dir, revision=revision)
    if not isinstance(cached, str):
        raise ShareError(f"{repo_id}@{revision[:12]}: {filename} is not in the local Hub stand-in")
    return Path(cached).resolve().name


def download_verified(
    repo_id: str, *, revision: str, cache_dir: Path | None = None, online: bool = False
) -> Path:
    """Fetch model.safetensors at one commit and check its bytes against the listed sha256."""
    require_commit(repo_id, revision)
    path = Path(
        hf_hub_download(repo_id, "model.safetensors", revision=revision, cache_dir=cache_dir)
    )
    listed = hub_listed_sha256(
        repo_id, "model.safetensors", revision=revision, cache_dir=cache_dir, online=online
    )
    got = sha256_file(path)
    if got != listed:
        raise ShareError(
            f"{repo_id}@{revision[:12]}: model.safetensors has sha256 {got[:12]}..., "
            f"the Hub lists {listed[:12]}...: do not use these bytes"
        )
    return path


def load_pinned(
    repo_id: str, *, revision: str, cache_dir: Path | None = None, online: bool = False
) -> PreTrainedModel:
    """Verify the weights, then load exactly that commit, from safetensors only."""
    download_verified(repo_id, revision=revision, cache_dir=cache_dir, online=online)
    return AutoModel.from_pretrained(
        repo_id, revision=revision, cache_dir=cache_dir, use_safetensors=True
    ).eval()


def make_standin_repo(
    out: Path, config_path: Path = DISTILBERT / "config.json", *, seed: int = 0
) -> Path:
    """A tiny, seeded model of the published architecture (dimensions shrunk), with its card.

    The published config says *what* the model is; shrinking dim/layers/vocab keeps the
    architecture but makes a 100 kB stand-in instead of 268 MB of real weights.
    """
    published = json.loads(Path(config_path).read_text())
    small = {"dim": 32, "hidden_dim": 64, "n_layers": 2, "n_heads": 2, "vocab_size": 1000}
    config = AutoConfig.for_model(**{**published, **small})
    torch.manual_seed(seed)
    model = AutoModel.from_config(config)
    out = Path(out)
    model.save_pretrained(out)  # config.json + model.safetensors
    shutil.copy(Path(config_path).with_name("README.md"), out / "README.md")
    return out
