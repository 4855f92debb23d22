"""Pin what you load: a Hub repo id names a moving branch, a commit sha names fixed bytes.

Loading "user/model" by name alone means "whatever `main` is today": the author can push new
weights, a new tokenizer or new code tomorrow, and your result silently changes. A 40-hex
commit sha cannot move. With `trust_remote_code=True` it matters twice: an unpinned repo can
replace the Python you read and approved with Python you never saw.
"""

from __future__ import annotations

import re
from pathlib import Path

from model_sharing.plumbing import ShareError

COMMIT_SHA = re.compile(r"^[0-9a-f]{40}$")


def is_local_folder(name_or_path: str | Path) -> bool:
    return Path(name_or_path).is_dir()


def require_commit(repo_id: str, revision: str | None) -> str:
    """A repo id must come with a full commit sha; a branch or tag name can move."""
    if revision is None or not COMMIT_SHA.match(revision):
        raise ShareError(
            f"loading {repo_id!r} needs revision=<40-hex commit sha> (got {revision!r}): "
            "a branch like 'main' can change under you; copy the sha from the repo's history"
        )
    return revision


# Calls that fetch a model or its files. A call passes when it pins `revision=` or says
# `local_files_only=True` (a folder on disk, never a Hub lookup); a call that builds a model
# (a callee named *Model* or *For*) also needs `use_safetensors=True`, so a repo that only has
# a pickle is refused instead of unpickled. Mixin classes (DigitsMLP) have no such switch:
# `classifier.load_classifier` fetches only model.safetensors for them.
LOADERS = re.compile(r"([\w.]*)\b(from_pretrained|hf_hub_download|snapshot_download|pipeline)\(")


def _call_text(text: str, open_paren: int) -> str:
    depth = 0
    for i in range(open_paren, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return text[open_paren + 1 : i]
    return text[open_paren + 1 :]


def unpinned_calls(text: str) -> list[str]:
    """Every loading call in `text` (code, a README, a card) that is not pinned, and why."""
    problems = []
    for m in LOADERS.finditer(text):
        callee, func = m.group(1).rstrip("."), m.group(2)
        args = _call_text(text, m.end() - 1)
        if func == "pipeline" and "model=" not in args:
            continue  # pipeline() without a model is not a loading call we can check
        line = text.count("\n", 0, m.start()) + 1
        where = f"line {line}: {callee + '.' if callee else ''}{func}(...)"
        local = re.search(r"local_files_only\s*=\s*True", args)
        if "revision=" not in args and not local:
            problems.append(f"{where} pins no revision=")
        if re.search(r"trust_remote_code\s*=\s*True", args) and "revision=" not in args:
            problems.append(f"{where} trusts remote code without a pinned revision=")
        builds_model = func == "pipeline" or re.search(r"Model|For[A-Z]", callee.split(".")[-1])
        if builds_model and not re.search(r"use_safetensors['\"]?\s*[:=]\s*True", args):
            problems.append(f"{where} does not pass use_safetensors=True")
    return problems
