"""Notebooks, training, data and tracking: checks that read the project's code and notebooks.

"Where training happens" means a source file that calls `.fit(`, `.backward(`, `optimizer.step(`
or builds a Lightning `Trainer(`; test files do not count.
"""

from __future__ import annotations

import json
import re
from typing import Any

from repro_check.lessons import lesson_url, problem

ABSOLUTE_PATH = re.compile(
    r"(/home/[^/\s\"'\\]+/|/Users/[^/\s\"'\\]+/|/root/|[A-Za-z]:\\\\+Users\\\\+)"
)
TRAINING = re.compile(r"\.fit\(|\.backward\(|optimizer\.step\(|\bTrainer\(")
TORCH = re.compile(r"^\s*(import torch|from torch)", re.M)
SEED = re.compile(
    r"""["']--seed["']|^\s*(seed|SEED|random_state|RANDOM_STATE|seed_everything)\s*[:=]|seed_everything\(""",
    re.M,
)
DETERMINISTIC = re.compile(
    r"use_deterministic_algorithms\(\s*True|deterministic\s*=\s*True|deterministic:\s*true"
)
DATA_ID = re.compile(
    r"data_sha256|data_hash|dataset_sha256|\bknown_hash\s*=|\bchecksum\s*=|\bsha256\s*=|\bmd5\s*="
)
BUNDLED_DATA = re.compile(
    r"sklearn\.datasets import|datasets\.load_\w+\(|\bload_(digits|iris|wine|breast_cancer|diabetes)\("
)
DATA_RECORDS = re.compile(
    r"(^|/)(dvc\.yaml|dvc\.lock|[^/]+\.dvc|\.datalad/config|SHA256SUMS|MD5SUMS|[^/]*manifest[^/]*|[^/]+\.sha256)$",
    re.I,
)
TRACKING = re.compile(
    r"[\"']run\.json[\"']|write_run_json\(|import mlflow|mlflow\.|wandb\.init|import wandb|SummaryWriter|TensorBoardLogger|MLFlowLogger|WandbLogger|CSVLogger|dvclive|import aim"
)
LOCKFILE = re.compile(
    r"^(uv\.lock|pixi\.lock|poetry\.lock|conda-lock\.yml|pylock(\.[\w.-]+)?\.toml)$"
)


def is_test(name: str) -> bool:
    """Test code and test fixtures: proof about the project, not the project's own runs."""
    parts = name.split("/")
    return "tests" in parts or "fixtures" in parts or parts[-1].startswith("test_")


def nested_projects(names: list[str] | dict[str, str]) -> list[str]:
    """Folders with their own pyproject.toml: separate projects, reviewed on their own."""
    return sorted(n.removesuffix("pyproject.toml") for n in names if n.endswith("/pyproject.toml"))


def own(texts: dict[str, str]) -> dict[str, str]:
    """The project's own files: not tests or fixtures, not inside a nested project."""
    nested = tuple(nested_projects(texts))
    return {
        n: t for n, t in texts.items() if not is_test(n) and not n.startswith(nested or ("\0",))
    }


def code(texts: dict[str, str]) -> dict[str, str]:
    """The project's own Python sources and notebook code."""
    return {n: t for n, t in own(texts).items() if n.endswith((".py", ".ipynb"))}


CONFIG_SUFFIXES = (".py", ".ipynb", ".yaml", ".yml", ".toml", ".json", ".cfg", ".ini")


def settings(texts: dict[str, str]) -> dict[str, str]:
    """Code and config files, where a seed or a flag is set (not docs, which only talk about it;
    not this workshop's receipt module, which records the seed a run used)."""
    return {
        n: t
        for n, t in own(texts).items()
        if n.endswith(CONFIG_SUFFIXES) and not n.endswith("receipt.py")
    }


def training_files(texts: dict[str, str]) -> list[str]:
    return sorted(n for n, t in code(texts).items() if TRAINING.search(t))


def where(names: list[str]) -> str:
    return ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")


class Jupyter:
    family = "rc-jupyter"
    url = lesson_url("rc-jupyter")
    requires: set[str] = set()


class RC201(Jupyter):
    "Notebooks are committed without outputs (evidence kept under a fixtures/ folder is exempt)"

    @staticmethod
    def check(notebooks: dict[str, Any]) -> bool | str | None:
        if not notebooks:
            return None
        with_outputs = [
            n
            for n, nb in notebooks.items()
            if not is_test(n)
            and any(
                c.get("outputs") or c.get("execution_count") for c in (nb or {}).get("cells", [])
            )
        ]
        if not with_outputs:
            return True
        what = f"Notebooks stored with outputs: {where(with_outputs)}."
        why = "stored outputs look like results but may come from cells run out of order, or from code that no longer exists."
        return problem(what, why, "rc-jupyter")


class RC202(Jupyter):
    "No notebook holds an absolute path of someone's machine (/home/..., /Users/..., C:\\Users\\...)"

    @staticmethod
    def check(notebooks: dict[str, Any]) -> bool | str | None:
        if not notebooks:
            return None
        found = {
            n: m.group(0)
            for n, nb in notebooks.items()
            if (m := ABSOLUTE_PATH.search(json.dumps(nb)))
        }
        if not found:
            return True
        what = (
            "Absolute paths: " + "; ".join(f"{n} ({p})" for n, p in list(found.items())[:4]) + "."
        )
        why = "a path of your machine does not exist on anyone else's, so the notebook stops at that cell."
        return problem(what, why, "rc-jupyter")


class Training:
    family = "rc-training"
    url = lesson_url("rc-training")
    requires: set[str] = set()


class RC301(Training):
    "Where training happens, a seed is set in the config or on the command line"

    @staticmethod
    def check(texts: dict[str, str]) -> bool | str | None:
        trains = training_files(texts)
        if not trains:
            return None
        configs = settings(texts)
        if any(SEED.search(t) for t in configs.values()):
            return True
        what = f"Training code ({where(trains)}) sets no seed: no `--seed` option, no `seed:` in a config."
        why = "every run then starts from other random weights and splits, so nobody can get your number again."
        return problem(what, why, "rc-training")


class RC302(Training):
    "Where torch trains, deterministic algorithms are switched on"

    @staticmethod
    def check(texts: dict[str, str]) -> bool | str | None:
        sources = code(texts)
        torch_trains = [n for n in training_files(texts) if TORCH.search(sources[n])]
        if not torch_trains:
            return None
        configs = settings(texts)
        if any(DETERMINISTIC.search(t) for t in configs.values()):
            return True
        what = f"torch trains in {where(torch_trains)} without `torch.use_deterministic_algorithms(True)` or Lightning `Trainer(deterministic=True)`."
        why = "some GPU and CPU kernels add in varying order, so the same seed can still give other weights."
        return problem(what, why, "rc-training")


class RC401:
    "Data is identified: a data hash, a manifest, a DVC/DataLad record, a checked download, or bundled data with a lock"

    family = "rc-data"
    url = lesson_url("rc-data")
    requires: set[str] = set()

    @staticmethod
    def check(
        texts: dict[str, str], repo_files: list[str], receipts: dict[str, Any]
    ) -> bool | str | None:
        trains = training_files(texts)
        if not trains:
            return None
        sources = code(texts)
        if any(DATA_RECORDS.search(n) for n in repo_files):
            return True
        if any(isinstance(r, dict) and r.get("data_sha256") for r in receipts.values()):
            return True
        if any(DATA_ID.search(t) for n, t in sources.items() if not n.endswith("receipt.py")):
            return True
        # Data shipped inside a package is identified by that package's locked version.
        if any(LOCKFILE.match(n) for n in repo_files) and any(
            BUNDLED_DATA.search(t) for t in sources.values()
        ):
            return True
        what = f"Training code ({where(trains)}) reads data that nothing identifies: no data hash, manifest, DVC or DataLad record, no checksum on a download."
        why = "a dataset that changes under the same name (a re-export, a fixed label, a new split) changes your results silently."
        return problem(what, why, "rc-data")
