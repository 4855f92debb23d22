"""Every command's edge: the bad-input sweep declared in pyproject.toml ([tool.ml-repro.commands]),
run in-process, and the other side of the rule: a crash after the first optimiser step keeps the
run (its checkpoints, its folder) and says where to resume from."""

import errno
import importlib
import signal
import sys
import tomllib
from pathlib import Path

import lightning as L
import pytest
import torch
from modular_training.plumbing import run_at_edge
from modular_training.step3_cli import main as mt_train
from modular_training.step3_cli import train

TOPIC = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((TOPIC / "pyproject.toml").read_text())
SCRIPTS = PYPROJECT["project"]["scripts"]
DECLARED = PYPROJECT["tool"]["ml-repro"]["commands"]
LINUX = sys.platform == "linux"


def sweep_cases() -> list:
    """What the repository's sweep runs: an unknown flag; each output at a place that cannot be
    created and at an existing file; each float option at nan. Every one is bad input."""
    cases = []
    for name, spec in DECLARED.items():
        cases.append(pytest.param(name, "--no-such-flag", None, id=f"{name} --no-such-flag"))
        for out in spec["outs"]:
            cases.append(
                pytest.param(
                    name,
                    out,
                    "FORBIDDEN",
                    id=f"{name} {out} /proc/forbidden/x",
                    marks=pytest.mark.skipif(not LINUX, reason="needs Linux's /proc"),
                )
            )
            cases.append(pytest.param(name, out, "FILE", id=f"{name} {out} existing-file"))
        for option in spec["floats"]:
            cases.append(pytest.param(name, option, "nan", id=f"{name} {option} nan"))
    return cases


def test_every_command_is_declared_for_the_sweep():
    assert DECLARED.keys() == SCRIPTS.keys()


def call(name: str, argv: list[str]) -> int:
    """Run a [project.scripts] entry in-process; a parser's exit counts as its return code."""
    module, func = SCRIPTS[name].split(":")
    try:
        return getattr(importlib.import_module(module), func)(argv)
    except SystemExit as exc:
        return exc.code


@pytest.mark.parametrize(("name", "option", "value"), sweep_cases())
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(
    name, option, value, tmp_path, monkeypatch, capfd
):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)  # relative defaults (outputs/, mlflow.db) would land here
    existing = tmp_path / "existing.txt"
    existing.write_text("keep me\n")
    fresh = tmp_path / "fresh"
    spec = DECLARED[name]
    out = spec["outs"][0] if spec["outs"] else None
    if value is None:
        argv = [*spec["args"], option]
    elif value == "nan":
        argv = [*spec["args"], out, str(fresh), option, "nan"]
    else:
        target = "/proc/forbidden/x" if value == "FORBIDDEN" else str(existing)
        argv = [*spec["args"], option, target]
    capfd.readouterr()
    rc = call(name, argv)
    err = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
    assert rc == 2, err
    assert len(err) == 1 and err[0].startswith("error:"), err
    # The line names what was wrong: the flag, the path or the option.
    named = {None: option, "nan": option.lstrip("-").split(".")[-1], "FILE": str(existing)}
    assert named.get(value, "/proc/forbidden/x") in err[0], err
    assert not fresh.exists() and existing.read_text() == "keep me\n"
    assert list(cwd.iterdir()) == []


def test_predict_refuses_zero_threads_and_an_unwritable_out_before_the_checkpoint(tmp_path, capfd):
    assert call("mt-predict", ["--ckpt_path", "x.ckpt", "--threads", "0"]) == 2
    assert capfd.readouterr().err.strip() == (
        "error: mt-predict: argument --threads: must be at least 1, got 0"
    )
    assert call("mt-predict", ["--ckpt_path", "x.ckpt", "--out", str(tmp_path / "f" / "x")]) == 2
    assert "--ckpt_path x.ckpt: checkpoint not found" in capfd.readouterr().err


def test_resume_refuses_a_figure_it_cannot_write(tmp_path, capfd):
    for figure in (tmp_path, "/proc/forbidden/resume.png"):  # a folder; a place with no folder
        assert call("mt-resume", ["--figure", str(figure)]) == 2
        err = capfd.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"error: mt-resume: --figure {figure}"), err


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("sqlite:///", "names no database file"),
        ("sqlite:////proc/forbidden/mlflow.db", "cannot write in /proc"),
        ("mlflow.db", "needs a scheme"),
    ],
)
def test_mlflow_refuses_a_tracking_uri_before_training(uri, expected, tmp_path, capfd):
    out = tmp_path / "out"
    assert call("mt-mlflow", [f"--tracking_uri={uri}", f"--out={out}"]) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0], err
    assert not out.exists()  # refused before the run, not after it


def test_lightning_test_names_a_bad_checkpoint_and_its_option(tmp_path, capfd):
    bad = tmp_path / "BAD"
    bad.write_bytes(b"not a checkpoint")
    assert call("mt-lightning", ["test", f"--ckpt_path={bad}", f"--out={tmp_path / 'o'}"]) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: --ckpt_path {bad}: checkpoint unreadable")


# ---- A crash is not bad input -------------------------------------------------------------
FAST = ["--trainer.enable_progress_bar=false", "--trainer.max_epochs=3"]
STEPS_PER_EPOCH = 40  # 1,257 training images in batches of 32


class FailAt(L.Callback):
    """Raise `error` once optimiser step `step` is done (step 0: before the first one)."""

    def __init__(self, step: int, error: BaseException) -> None:
        self.step, self.error = step, error

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            raise self.error


def last_epoch(out: Path) -> int:
    return torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)["epoch"]


@pytest.mark.parametrize(
    "error",
    [ValueError("nan in training_step"), OSError(errno.ENOSPC, "No space left on device")],
    ids=["ValueError", "disk-full"],
)
def test_a_crash_after_the_first_step_keeps_the_run(error, tmp_path, capfd):
    out = tmp_path / "run"
    with pytest.raises(type(error)):  # through the edge: a traceback and exit 1, never exit 2
        run_at_edge(lambda: train([f"--out={out}", *FAST], callbacks=[FailAt(45, error)]))
    assert last_epoch(out) == 0  # epoch 0's checkpoint, to resume from
    assert (out / "config.yaml").is_file()
    assert f"training crashed at step 45; checkpoints kept: resume with --ckpt_path {out}" in (
        capfd.readouterr().err
    )


def test_the_same_error_before_the_first_step_is_bad_input(tmp_path, capfd):
    out = tmp_path / "run"
    args = [f"--out={out}", *FAST]
    rc = run_at_edge(lambda: train(args, callbacks=[FailAt(0, ValueError("bad setting"))]))
    assert rc == 2 and capfd.readouterr().err.strip() == "error: bad setting"
    assert not out.exists()  # ours, and nothing trained: removed


def test_a_scheduler_that_fails_at_epoch_4_keeps_the_checkpoints(tmp_path, capfd):
    """Only flags: OneCycleLR told 3 steps refuses the 4th (it steps once per epoch here), at
    the end of epoch 3. (The best val_acc, and so the checkpoints, stop moving after epoch 1.)"""
    out = tmp_path / "run"
    args = [
        f"--out={out}",
        "--trainer.enable_progress_bar=false",
        "--trainer.max_epochs=6",
        "--lr_scheduler=torch.optim.lr_scheduler.OneCycleLR",
        "--lr_scheduler.max_lr=0.01",
        "--lr_scheduler.total_steps=3",
    ]
    with pytest.raises(ValueError, match="Tried to step 4 times"):
        mt_train(args)
    assert last_epoch(out) >= 1  # what the run had saved before the crash is still there
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["best.ckpt", "last.ckpt"]
    assert "checkpoints kept" in capfd.readouterr().err


def test_ctrl_c_keeps_the_checkpoints_and_says_so(tmp_path, capfd):
    out = tmp_path / "run"
    handler = signal.getsignal(signal.SIGINT)  # Lightning ignores further Ctrl-C while it stops
    try:
        with pytest.raises(SystemExit) as stopped:  # Lightning's own exit after a Ctrl-C
            train([f"--out={out}", *FAST], callbacks=[FailAt(45, KeyboardInterrupt())])
    finally:
        signal.signal(signal.SIGINT, handler)
    assert stopped.value.code == 1
    assert last_epoch(out) == 0
    assert "training interrupted (Ctrl-C) at step 45; checkpoints kept" in capfd.readouterr().err
