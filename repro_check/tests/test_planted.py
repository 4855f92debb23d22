"""Every check fails on a planted fault, with a message naming its lesson, and passes once mended.

Each case starts from a copy of `fixtures/good_project` (which passes), plants one fault, then
mends it (often another way than the original, e.g. a seed in a config instead of on the CLI).
"""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import FIXTURES, run_check
from repo_review.fixtures import apply_fixtures, collect_fixtures, compute_fixtures
from repo_review.ghpath import EmptyTraversable
from repro_check.lessons import LESSONS
from repro_check.registry import CHECKS

GOOD = FIXTURES / "good_project"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def restore(*names: str) -> Callable[[Path], None]:
    def mend(p: Path) -> None:
        for name in names:
            src = GOOD / name
            if src.is_dir():
                shutil.copytree(src, p / name, dirs_exist_ok=True)
            else:
                shutil.copy(src, p / name)

    return mend


def remove(*names: str) -> Callable[[Path], None]:
    def plant(p: Path) -> None:
        for name in names:
            shutil.rmtree(p / name) if (p / name).is_dir() else (p / name).unlink()

    return plant


def with_venv(p: Path) -> None:
    """An (empty) project environment: where deptry reads which package gives which module."""
    (p / ".venv/lib/python3.11/site-packages").mkdir(parents=True)


def undeclared_import(p: Path) -> None:
    with_venv(p)
    edit(p / "train.py", "import numpy as np\n", "import numpy as np\nimport requests\n")


def notebook_with_output(p: Path) -> None:
    nb = json.loads((p / "notebooks/explore.ipynb").read_text())
    nb["cells"][0]["execution_count"] = 1
    nb["cells"][0]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["0.91\n"]}]
    (p / "notebooks/explore.ipynb").write_text(json.dumps(nb))


def torch_training(p: Path) -> None:
    (p / "finetune.py").write_text(
        "import torch\n\nmodel = torch.nn.Linear(2, 1)\nloss = model(torch.ones(1, 2)).sum()\nloss.backward()\n"
    )


def fake_receipt_module(p: Path, receipt: dict) -> None:
    """A stand-in for this workshop's receipt module: `validate` exits 2 when `command` is missing."""
    (p / "src/study").mkdir(parents=True)
    (p / "src/study/__init__.py").write_text("")
    (p / "src/study/receipt.py").write_text(
        "import json, sys\n\n\ndef validate_receipt(r):\n    return [] if 'command' in r else ['no command']\n\n\n"
        "if __name__ == '__main__':\n    problems = validate_receipt(json.load(open(sys.argv[2])))\n"
        "    print('error: ' + problems[0], file=sys.stderr) if problems else print('a valid receipt')\n"
        "    sys.exit(2 if problems else 0)\n"
    )
    (p / "results").mkdir(exist_ok=True)
    (p / "results/run.json").write_text(json.dumps(receipt))


# code: (what good_project gives, plant, mend)
CASES: dict[str, tuple[bool | None, Callable[[Path], None], Callable[[Path], None]]] = {
    "RC101": (True, remove("uv.lock"), restore("uv.lock")),
    "RC102": (
        True,
        lambda p: edit(p / "pyproject.toml", "numpy>=1.26", "numpy>=1.27"),
        lambda p: edit(p / "pyproject.toml", "numpy>=1.27", "numpy>=1.26"),
    ),
    "RC103": (
        True,
        lambda p: edit(p / "pyproject.toml", 'dependencies = ["numpy>=1.26"]\n', ""),
        lambda p: (p / "environment.yml").write_text(
            "dependencies:\n  - python=3.11\n  - numpy=1.26\n  - pip:\n    - requests>=2\n"
        ),
    ),
    "RC104": (
        True,
        lambda p: (p / "requirements.txt").write_text("numpy>=1.26\nscikit-learn\n"),
        lambda p: (p / "requirements.txt").write_text("numpy>=1.26\nscikit-learn==1.5.2\n"),
    ),
    "RC105": (
        None,  # no .venv in the fixture: deptry would have to guess, so the check skips
        undeclared_import,
        lambda p: edit(p / "pyproject.toml", '"numpy>=1.26"]', '"numpy>=1.26", "requests>=2"]'),
    ),
    "RC201": (True, notebook_with_output, restore("notebooks/explore.ipynb")),
    "RC202": (
        True,
        lambda p: edit(
            p / "notebooks/explore.ipynb", "open('results.json')", "open('/Users/bob/results.json')"
        ),
        restore("notebooks/explore.ipynb"),
    ),
    "RC301": (
        True,
        lambda p: edit(
            p / "train.py", '    parser.add_argument("--seed", type=int, default=0)\n', ""
        ),
        lambda p: (
            (p / "configs").mkdir() or (p / "configs/train.yaml").write_text("seed: 0\nlr: 0.1\n")
        ),
    ),
    "RC302": (
        None,  # the study does not use torch
        torch_training,
        lambda p: edit(
            p / "finetune.py",
            "import torch\n",
            "import torch\n\ntorch.use_deterministic_algorithms(True)\n",
        ),
    ),
    "RC401": (
        True,
        lambda p: edit(
            p / "train.py", '"data_sha256": hashlib.sha256(x.tobytes()).hexdigest()', '"n": len(x)'
        ),
        lambda p: (p / "SHA256SUMS").write_text("0" * 64 + "  data/train.csv\n"),
    ),
    "RC501": (
        True,
        lambda p: edit(p / "train.py", 'open("run.json", "w")', 'open("results.json", "w")'),
        lambda p: edit(
            p / "train.py", "import numpy as np\n", "import mlflow\nimport numpy as np\n"
        ),
    ),
    "RC502": (
        None,  # no receipt module of this workshop in the study
        lambda p: fake_receipt_module(p, {"seed": 0}),
        lambda p: (p / "results/run.json").write_text(
            json.dumps({"seed": 0, "command": ["train"]})
        ),
    ),
    "RC601": (
        True,
        lambda p: (p / "model/extra.pt").write_bytes(pickle.dumps({"w": [1.0]}, protocol=4)),
        remove("model/extra.pt"),
    ),
    "RC602": (
        True,
        lambda p: (
            remove("model/model.safetensors")(p) or (p / "model/model.onnx").write_bytes(b"onnx")
        ),
        restore("model/model.safetensors"),
    ),
    "RC603": (
        True,
        lambda p: edit(p / "model/MODEL_CARD.md", "(n = 450 test examples)", "(on our test set)"),
        restore("model/MODEL_CARD.md"),
    ),
    "RC701": (
        True,
        lambda p: edit(p / "README.md", "uv run python train.py --seed 0", "see the paper"),
        restore("README.md"),
    ),
    "RC702": (True, remove("LICENSE"), lambda p: (p / "COPYING").write_text("GPL-3.0\n")),
    "RC703": (
        True,
        lambda p: edit(p / "CITATION.cff", "authors:", "creators:"),
        restore("CITATION.cff"),
    ),
    "RC704": (
        True,
        remove("tests"),
        lambda p: (p / "train_test.py").write_text("def test_x():\n    pass\n"),
    ),
    "RC705": (
        True,
        remove(".github"),
        lambda p: (p / ".gitlab-ci.yml").write_text("test:\n  script: pytest\n"),
    ),
}


def test_every_check_has_a_case() -> None:
    assert sorted(CASES) == sorted(c.__name__ for c in CHECKS)


@pytest.mark.parametrize("code", sorted(CASES))
def test_fails_when_planted_and_passes_when_mended(code: str, good: Path) -> None:
    baseline, plant, mend = CASES[code]
    assert run_check(code, good) is baseline
    plant(good)
    message = run_check(code, good)
    assert isinstance(message, str), f"{code} did not fail on its planted fault: {message!r}"
    check = next(c for c in CHECKS if c.__name__ == code)
    topic = LESSONS[check.family][1]
    assert "Why it matters:" in message
    assert f"`{topic}`" in message or topic == "slides.md" and "closing session" in message
    mend(good)
    assert run_check(code, good) is True


def test_lock_drift_is_found_without_uv(good: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where uv is not installed, the lock is compared with pyproject.toml by reading both."""
    monkeypatch.setattr("repro_check.checks_env.shutil.which", lambda _name: None)
    assert run_check("RC102", good) is True
    edit(good / "pyproject.toml", "numpy>=1.26", "numpy>=1.27")
    assert "numpy>=1.27" in run_check("RC102", good)


def test_a_guarded_import_is_optional(good: Path) -> None:
    """`try: import yaml` is an optional import: deptry flags it, the check does not."""
    with_venv(good)
    edit(
        good / "train.py",
        "import numpy as np\n",
        "import numpy as np\n\ntry:\n    import yaml\nexcept ImportError:\n    yaml = None\n",
    )
    assert run_check("RC105", good) is True


def test_a_torch_zip_checkpoint_is_a_pickle(good: Path) -> None:
    """torch.save writes a zip whose data.pkl is a pickle: found without importing torch."""
    with zipfile.ZipFile(good / "model/last.ckpt", "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({"w": 1}))
    assert "model/last.ckpt" in run_check("RC601", good)


def test_evidence_notebooks_under_fixtures_are_exempt(good: Path) -> None:
    notebook_with_output(good)
    (good / "tests/fixtures").mkdir(parents=True)
    shutil.move(good / "notebooks/explore.ipynb", good / "tests/fixtures/explore.ipynb")
    restore("notebooks/explore.ipynb")(good)
    assert run_check("RC201", good) is True


def test_nothing_local_means_every_check_skips() -> None:
    """`--list-all` and remote (gh:) paths give no local folder: checks skip, none fails."""
    nowhere = EmptyTraversable()
    fixtures = compute_fixtures(nowhere, nowhere, collect_fixtures())
    assert {c.__name__: apply_fixtures(fixtures, c.check) for c in CHECKS} == {
        c.__name__: None for c in CHECKS
    }


def test_bounds_in_a_conda_environment_file(good: Path) -> None:
    """conda's `name=version` is a pin, a channel prefix is not part of the name, `pip` is the installer."""
    env = good / "environment.yml"
    env.write_text("dependencies:\n  - python=3.11\n  - pip\n  - conda-forge::scipy\n")
    assert "environment.yml: scipy" in run_check("RC104", good)
    env.write_text("dependencies:\n  - python=3.11\n  - pip\n  - conda-forge::scipy=1.13\n")
    assert run_check("RC104", good) is True


def test_a_broken_pyproject_is_one_error_line(good: Path) -> None:
    """repo-review itself stops with a traceback on invalid TOML; `repro-check` says it in one line."""
    (good / "pyproject.toml").write_text("[project\nname = 'x'\n")
    script = [sys.executable, "-c", "from repro_check.cli import main; main()", str(good)]
    done = subprocess.run(script, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and "pyproject.toml" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_seed_in_the_docs_or_the_receipt_module_is_not_a_seed(good: Path) -> None:
    """Text about a seed (README) or code that records one (receipt.py) does not set one."""
    CASES["RC301"][1](good)
    (good / "NOTES.md").write_text("Pass a seed in the config:\n\n```yaml\nseed: 0\n```\n")
    (good / "src/study").mkdir(parents=True)
    (good / "src/study/receipt.py").write_text(
        "def write_run_json(\n    seed: int,\n) -> None:\n    pass\n"
    )
    assert isinstance(run_check("RC301", good), str)


def test_a_nested_project_is_reviewed_on_its_own(good: Path) -> None:
    """Training code inside a folder with its own pyproject.toml belongs to that project."""
    CASES["RC301"][1](good)
    assert isinstance(run_check("RC301", good), str)
    (good / "baseline").mkdir()
    shutil.move(good / "train.py", good / "baseline/train.py")
    (good / "baseline/pyproject.toml").write_text('[project]\nname = "baseline"\nversion = "0"\n')
    assert run_check("RC301", good) is None
