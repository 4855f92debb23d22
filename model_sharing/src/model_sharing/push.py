"""Publish a shared folder to the Hugging Face Hub: private by default, checked before upload.

`push` validates the folder first (weights match run.json, card metadata valid), then needs
HF_TOKEN from the environment (never from a file in the repo, never printed), then runs
`create_repo` + `upload_folder`. `--dry-run` lists exactly the files and sizes that would go
up and needs neither token nor network. Loading back by repo id uses the same
`from_pretrained` call as loading the local folder (see classifier.load_classifier).

Run: `uv run ms-push outputs/digits-mlp --repo-id your-name/digits-mlp --dry-run`
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

import huggingface_hub.constants
from huggingface_hub import HfApi

from model_sharing.card import validate_card
from model_sharing.errors import ShareError, run_cli
from model_sharing.safetensors_tools import verify_folder

REQUIRED = ("config.json", "model.safetensors", "README.md")
REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")


def files_to_upload(folder: Path) -> list[tuple[str, int]]:
    """(relative path, size) of every file that goes up; hidden files (temp, caches) stay home."""
    folder = Path(folder)
    return [
        (p.relative_to(folder).as_posix(), p.stat().st_size)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    ]


def check_folder(folder: Path) -> None:
    """Refuse to publish something broken: missing files, modified weights, invalid card."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ShareError(f"{folder} is not a folder")
    missing = [f for f in REQUIRED if not (folder / f).is_file()]
    if missing:
        raise ShareError(f"{folder} lacks {', '.join(missing)}: not a shareable model folder")
    verify_folder(folder)
    validate_card(folder / "README.md")


def push(folder: Path, repo_id: str, *, private: bool = True, dry_run: bool = False) -> str:
    """Everything that can fail offline fails before the first request; returns the repo URL."""
    if not REPO_ID.match(repo_id):
        raise ShareError(f"repo id {repo_id!r} must look like 'user-or-org/model-name'")
    check_folder(folder)
    files = files_to_upload(folder)
    if dry_run:
        for name, size in files:
            print(f"{size:>12,d}  {name}")
        print(f"{sum(s for _, s in files):>12,d}  total, {len(files)} files -> {repo_id}")
        print(f"dry run: nothing uploaded ({'private' if private else 'public'} repo)")
        return f"https://huggingface.co/{repo_id}"
    token = os.environ.get("HF_TOKEN")
    if not token:
        raise ShareError(
            "HF_TOKEN is not set: create a write token at https://huggingface.co/settings/tokens, "
            "export HF_TOKEN=..., or use --dry-run; nothing was uploaded"
        )
    if huggingface_hub.constants.HF_HUB_OFFLINE:
        raise ShareError("HF_HUB_OFFLINE=1 is set: cannot reach the Hub; nothing was uploaded")
    api = HfApi(token=token)
    try:
        url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        api.upload_folder(
            repo_id=repo_id,
            folder_path=str(folder),
            allow_patterns=[name for name, _ in files],  # exactly what --dry-run listed
            commit_message="Upload model folder (weights, config, card, run.json)",
        )
    except Exception as exc:  # network, auth, permission: one line, never the token
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise ShareError(f"upload to {repo_id} failed: {type(exc).__name__}: {first}") from exc
    return str(url)


def _main(argv: list[str] | None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", type=Path, help="a folder written by ms-train or ms-lm")
    p.add_argument("--repo-id", required=True, help="user-or-org/model-name")
    p.add_argument("--public", action="store_true", help="make the repo public (default private)")
    p.add_argument("--dry-run", action="store_true", help="list the files; upload nothing")
    args = p.parse_args(argv)
    url = push(args.folder, args.repo_id, private=not args.public, dry_run=args.dry_run)
    if not args.dry_run:
        print(f"uploaded to {url}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
