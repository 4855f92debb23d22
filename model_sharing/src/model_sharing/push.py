"""Publish a shared folder to the Hugging Face Hub: private by default, checked before upload.

`push` validates the folder first (weights match run.json, card metadata valid), then needs a
token: `HF_TOKEN` from the environment, or the one `hf auth login` stored (never a file in the
repo, never printed), then runs `create_repo` + `upload_folder`. `--dry-run` lists exactly the
files and sizes that would go up and needs neither token nor network.

Two ways up, side by side: `upload_folder` sends the checked folder as it is (our card,
run.json); `--via mixin` calls `PyTorchModelHubMixin.push_to_hub`, which re-saves the model into
a temporary folder first - config, weights and the mixin's own generic card, no run.json.

Run: `uv run ms-push outputs/digits-mlp --repo-id your-name/digits-mlp --dry-run`
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import huggingface_hub.constants
from huggingface_hub import HfApi, get_token

from model_sharing.card import validate_card
from model_sharing.classifier import load_classifier
from model_sharing.plumbing import OneLineParser, ShareError, run_at_edge
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


def hub_token() -> str:
    """HF_TOKEN if set, else the token `hf auth login` stored; refuse before any request."""
    token = get_token()
    if not token:
        raise ShareError(
            "no Hugging Face token: run `hf auth login` or export HF_TOKEN=... (a write token "
            "from https://huggingface.co/settings/tokens), or use --dry-run; nothing was uploaded"
        )
    if huggingface_hub.constants.HF_HUB_OFFLINE:
        raise ShareError("HF_HUB_OFFLINE=1 is set: cannot reach the Hub; nothing was uploaded")
    return token


def push(
    folder: Path, repo_id: str, *, private: bool = True, dry_run: bool = False, via: str = "folder"
) -> str:
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
    token = hub_token()
    try:
        if via == "mixin":  # the one-liner: save_pretrained into a temp folder, then upload it
            load_classifier(folder).push_to_hub(repo_id, private=private, token=token)
            return f"https://huggingface.co/{repo_id}"
        api = HfApi(token=token)
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
    p = OneLineParser(prog="ms-push", description=__doc__.splitlines()[0])
    p.add_argument("folder", type=Path, help="a folder written by ms-train or ms-lm")
    p.add_argument("--repo-id", required=True, help="user-or-org/model-name")
    p.add_argument("--public", action="store_true", help="make the repo public (default private)")
    p.add_argument("--dry-run", action="store_true", help="list the files; upload nothing")
    p.add_argument(
        "--via",
        choices=["folder", "mixin"],
        default="folder",
        help="upload_folder of this folder (default) or the mixin's push_to_hub (digits only)",
    )
    args = p.parse_args(argv)
    url = push(
        args.folder, args.repo_id, private=not args.public, dry_run=args.dry_run, via=args.via
    )
    if not args.dry_run:
        print(f"uploaded to {url}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_at_edge(lambda: _main(argv))


if __name__ == "__main__":
    sys.exit(main())
