"""Shared fixtures: offline Hub, one trained digits folder and one tiny-LM folder per session.

The environment is set at import, before any test imports huggingface_hub or torch, so the
offline switch and the thread count apply to this process AND to every subprocess/kernel.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

TOPIC = Path(__file__).resolve().parents[1]
SRC = TOPIC / "src"

os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(SRC), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
)
os.environ["HF_HUB_OFFLINE"] = "1"  # no test may reach the network
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="model_sharing_hf_home_")  # never ~/.cache
atexit.register(shutil.rmtree, os.environ["HF_HOME"], ignore_errors=True)
os.environ.pop("HF_TOKEN", None)
os.environ.setdefault("OMP_NUM_THREADS", "1")  # tiny models; 2 shared cores
os.environ.setdefault("TQDM_DISABLE", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

SEED = 0


def _can_symlink() -> bool:
    with tempfile.TemporaryDirectory() as folder:
        try:
            os.symlink("target", os.path.join(folder, "link"))
        except (OSError, NotImplementedError):
            return False
    return True


# The offline Hub stand-in (reuse.publish_to_local_hub) lays files out as huggingface_hub's
# cache does, with symlinks; Windows allows them only with Developer Mode or as administrator.
def _loopback_up() -> bool:
    import socket

    try:
        with socket.socket() as server:
            server.bind(("127.0.0.1", 0))
            server.listen()
            socket.create_connection(server.getsockname(), timeout=5).close()
    except OSError:
        return False
    return True


# Jupyter kernels talk to their client over 127.0.0.1; a network namespace with `lo` down
# (plain `unshare -n`) has no loopback at all. Offline with loopback, as on a laptop, they run.
needs_loopback = pytest.mark.skipif(
    not _loopback_up(),
    reason="127.0.0.1 is unreachable (a network namespace with lo down, e.g. plain `unshare -n`)"
    " and a Jupyter kernel talks to its client over it",
)

CAN_SYMLINK = _can_symlink()
needs_symlinks = pytest.mark.skipif(
    not CAN_SYMLINK,
    reason="this account cannot create symlinks (Windows without Developer Mode), and the "
    "offline Hub stand-in is a symlinked huggingface_hub cache",
)


# GPU tests: without a usable GPU they skip with a reason, unless the root runner's --gpu=on
# (ML_REPRO_GPU=on) says they must run; then each fails, naming why. What this run saw goes to
# ML_REPRO_DEVICE_FILE, the root matrix's device column.
GPU_MISSING = pytest.StashKey[str]()


def pytest_collection_modifyitems(config, items):
    usable = torch.cuda.is_available()
    if os.environ.get("ML_REPRO_DEVICE_FILE"):
        Path(os.environ["ML_REPRO_DEVICE_FILE"]).write_text("cuda" if usable else "cpu")
    if usable:
        return
    for item in items:
        if "gpu" in item.keywords:
            if os.environ.get("ML_REPRO_GPU") == "on":
                item.stash[GPU_MISSING] = "needs a CUDA GPU"
            else:
                item.add_marker(pytest.mark.skip(reason="needs a CUDA GPU"))


def pytest_runtest_setup(item):
    if (why := item.stash.get(GPU_MISSING, None)) is not None:
        pytest.fail(f"--gpu=on: this gpu test must run, but {why}", pytrace=False)


def run_as_console_script(name: str, argv: list[str]) -> None:
    """Run a `[project.scripts]` command in this process, as its console script would run: the
    receipt records `name ...`, so `receipt verify` can re-run it. One import, shared."""
    import importlib
    import tomllib

    module, func = tomllib.loads((TOPIC / "pyproject.toml").read_text())["project"]["scripts"][
        name
    ].split(":")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys, "argv", [name, *argv])
        mp.setattr(sys.modules["__main__"], "__spec__", None, raising=False)
        assert getattr(importlib.import_module(module), func)(argv) == 0


@pytest.fixture(scope="session")
def digits_folder(tmp_path_factory) -> Path:
    """`ms-train --seed 0`: the shared folder most tests read (never modify it: folder_copy)."""
    out = tmp_path_factory.mktemp("shared") / "digits-mlp"
    run_as_console_script("ms-train", ["--seed", str(SEED), "--out", str(out)])
    return out


@pytest.fixture(scope="session")
def seed1_folder(tmp_path_factory) -> Path:
    """`ms-train --seed 1 --epochs 2`: another training seed, cheaply."""
    out = tmp_path_factory.mktemp("shared") / "digits-mlp-seed1"
    run_as_console_script("ms-train", ["--seed", str(SEED + 1), "--epochs", "2", "--out", str(out)])
    return out


@pytest.fixture(scope="session")
def lm_folder(tmp_path_factory) -> Path:
    from model_sharing.tiny_lm import share_lm

    out = tmp_path_factory.mktemp("shared") / "tiny-gpt2"
    share_lm(out, seed=SEED)
    return out


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> tuple[list[str], Path, Path]:
    """One headline `ms-demo` run, shared: (printed lines, --out folder, figures folder). It
    trains the classifier and the tiny GPT-2 with seed 0 in folders of its own."""
    import contextlib
    import io
    from unittest import mock

    from model_sharing import demo, receipt

    root = tmp_path_factory.mktemp("demo")
    printed = io.StringIO()
    argv = ["--out", str(root / "demo"), "--figures", str(root / "figures")]
    # In this process the command line is pytest's: give the receipt the one a learner types.
    typed = mock.patch.object(receipt, "command_line", lambda: ["ms-demo", *argv])
    with contextlib.redirect_stdout(printed), typed:
        code = demo.main(argv)
    assert code == 0
    return printed.getvalue().splitlines(), root / "demo", root / "figures"


@pytest.fixture(scope="session")
def split():
    from model_sharing.data import load_digits_split

    return load_digits_split(SEED)


@pytest.fixture
def folder_copy(tmp_path, digits_folder) -> Path:
    """A private copy a test may corrupt without touching the session's folder."""
    return Path(shutil.copytree(digits_folder, tmp_path / "copy"))


def run_python(*args: str, env: dict | None = None, cwd: Path | None = None):
    """Start `python ...` with this interpreter; a CLI test never relies on console scripts."""
    import subprocess

    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=240,
        env=env if env is not None else os.environ.copy(),
        cwd=cwd,
    )


@pytest.fixture(scope="session")
def strangers(lm_folder, digits_folder, tmp_path_factory) -> dict[str, dict]:
    """What a stranger without our package gets, from one fresh process (our src off the path):
    "lm" loads the tiny GPT-2 folder; "remote_code" loads the Auto-classes folder, which ships
    its class file, from an offline Hub at a pinned commit (see the fresh_load_*.py scripts)."""
    import json

    from model_sharing.classifier import load_classifier
    from model_sharing.data import fixed_batch, load_digits_split
    from model_sharing.hf_native import from_mixin_model
    from model_sharing.reuse import publish_to_local_hub
    from safetensors.torch import save_file

    tmp = tmp_path_factory.mktemp("strangers")
    here = Path(__file__).resolve().parent
    jobs = {"lm": [str(here / "fresh_load_lm.py"), str(lm_folder)]}
    if CAN_SYMLINK:  # the offline Hub stand-in is a symlinked huggingface_hub cache
        from_mixin_model(load_classifier(digits_folder)).save_pretrained(tmp / "native")
        commit = publish_to_local_hub(tmp / "native", "someone/digits-native", tmp / "hub")
        save_file({"x": fixed_batch(load_digits_split()).contiguous()}, str(tmp / "x.safetensors"))
        jobs["remote_code"] = [str(here / "fresh_load_remote_code.py"), str(tmp / "hub")]
        jobs["remote_code"] += ["someone/digits-native", commit, str(tmp / "x.safetensors")]
        jobs["remote_code"] += [str(tmp / "logits.safetensors")]
    (tmp / "jobs.json").write_text(json.dumps(list(jobs.values())))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = run_python(str(here / "fresh_strangers.py"), str(tmp / "jobs.json"), env=env, cwd=tmp)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = [json.loads(ln) for ln in proc.stdout.splitlines() if ln.startswith("{")]
    found = dict(zip(jobs, results, strict=True))
    if "remote_code" in found:
        found["remote_code"] |= {"commit": commit, "logits": tmp / "logits.safetensors"}
    return found
