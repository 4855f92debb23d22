"""The shared receipt module works in a topic without torch: it imports, writes and compares.

This topic trains scikit-learn and numpy models only; the receipt module is the same file as in
the torch topics (a root test checks that), so it must never need torch itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

TOPIC = Path(__file__).resolve().parents[1]
RECEIPT = [sys.executable, "-m", "overfitting.receipt"]
LADDER = ["--submissions", "200", "--reps", "2", "--n", "1000"]


def run(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=TOPIC, capture_output=True, text=True, timeout=300)


def test_receipt_imports_and_fingerprints_without_torch():
    """`sys.modules['torch'] = None` makes any `import torch` fail, as where torch is absent."""
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import overfitting.receipt as r\n"
        "env = r.env_info()\n"
        "assert env['torch_threads'] is None and env['torch_cpu_capability'] is None, env\n"
        "assert env['scikit-learn'] and env['numpy'], env\n"
        "print(r.weights_sha256({'coef': [1.0, 2.0]}))\n"
    )
    done = run([sys.executable, "-c", code])
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.strip()) == 64


@pytest.fixture(scope="module")
def ladder_runs(tmp_path_factory) -> dict[str, Path]:
    """Two seeds and a repeat of the first, run in-process (the receipt records the command
    `of-ladder ...` all the same; `verify` below re-runs one in a fresh process)."""
    from overfitting import ladder

    root = tmp_path_factory.mktemp("ladder")
    runs = {"a": ("0", root / "a"), "again": ("0", root / "again"), "b": ("1", root / "b")}
    for seed, out in runs.values():
        ladder.run(["--seed", seed, "--out", str(out), *LADDER])
    return {k: out / "run.json" for k, (_, out) in runs.items()}


def test_compare_same_seed_is_identical(ladder_runs, capsys):
    code, out, _ = cli(["compare", str(ladder_runs["a"]), str(ladder_runs["again"])], capsys)
    assert code == 0 and out.startswith("IDENTICAL"), out


def test_compare_other_seed_names_the_seed(ladder_runs, capsys):
    code, out, _ = cli(["compare", str(ladder_runs["a"]), str(ladder_runs["b"])], capsys)
    assert code == 1, out
    causes = out.split("fields known to change bits", 1)[1].split("other fields", 1)[0]
    assert "seed: 0 -> 1" in causes
    receipt = json.loads(ladder_runs["a"].read_text())
    assert receipt["topic"] == "overfitting" and receipt["env"]["torch"] is None
    assert receipt["command"][:3] == ["of-ladder", "--seed", "0"]


def test_the_receipt_says_its_hash_covers_results_not_weights(ladder_runs):
    receipt = json.loads(ladder_runs["a"].read_text())
    assert receipt["weights_file"] == "results.npz"
    assert "results" in receipt["hash_covers"] and "not model weights" in receipt["hash_covers"]


@pytest.mark.verifies("of-ladder")
def test_verify_reruns_a_ladder_receipt_and_says_match(ladder_runs):
    done = run([*RECEIPT, "verify", str(ladder_runs["b"])])
    assert done.returncode == 0 and "MATCH" in done.stdout, done.stdout + done.stderr


# The experiments no other test runs from the command line, at their smallest settings.
SMALLEST = {
    "of-leakage": ("overfitting.leakage", ["--parts", "c_grouped", "--reps", "1"]),
    "of-holdout": ("overfitting.reusable_holdout", ["--n", "300", "--d", "60", "--reps", "1"]),
}  # of-seeds: test_seed_lottery.py verifies its fixture's small grid


@pytest.mark.verifies("of-leakage")
@pytest.mark.verifies("of-holdout")
@pytest.mark.parametrize("kind", SMALLEST)
def test_verify_reruns_each_experiment_and_says_match(kind, tmp_path):
    module, args = SMALLEST[kind]
    done = run([sys.executable, "-m", module, *args, "--out", str(tmp_path / "a")])
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((tmp_path / "a" / "run.json").read_text())["command"][0] == kind
    done = run([*RECEIPT, "verify", str(tmp_path / "a" / "run.json")])
    assert done.returncode == 0 and "MATCH" in done.stdout, done.stdout + done.stderr


# ----------------------------------------------------------------------------- the receipt module
# The receipt module is the same file in every topic; its generic behaviour is tested here, in
# the topic without torch, in-process: writing, `out`, measurements, the cause table, bad input.


@pytest.fixture
def made(tmp_path, monkeypatch) -> Path:
    """A real receipt written by write_run_json (numpy weights beside it), in a fresh folder."""
    import numpy as np
    from overfitting.receipt import weights_sha256, write_run_json

    monkeypatch.chdir(TOPIC)
    out = tmp_path / "run-a"
    weights = {"coef": np.array([1.0, 2.0])}
    np.savez(out.mkdir() or out / "w.npz", **weights)
    return write_run_json(
        out, seed=0, config={"n": 3, "out": str(out)}, metrics={"accuracy": 0.5},
        measurements={"seconds_per_fit": 0.25}, weights_sha256=weights_sha256(weights),
        data_sha256=None, started=0.0, command=["of-ladder", "--n", "3", "--out", str(out)],
        weights_file=out / "w.npz",
    )  # fmt: skip


def edited(path: Path, tmp_path: Path, name: str, **changes) -> Path:
    receipt = json.loads(path.read_text())
    for key, value in changes.items():
        if value is DELETE:
            del receipt[key]
        else:
            receipt[key] = value
    (tmp_path / name).write_text(json.dumps(receipt))
    return tmp_path / name


DELETE = object()


def cli(argv: list[str], capsys) -> tuple[int, str, str]:
    from overfitting.receipt_tools import main

    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(code: int, err: str) -> str:
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (code, err)
    return lines[0]


def test_a_fresh_receipt_is_valid_and_records_out_as_typed(made, capsys):
    receipt = json.loads(made.read_text())
    assert receipt["out"] == str(made.parent) and receipt["command"][-1] == str(made.parent)
    assert receipt["measurements"] == {"seconds_per_fit": 0.25}
    # threadpoolctl and packaging are locked here: the BLAS pools and the requirement names
    assert any(p["internal_api"] for p in receipt["env"]["threadpools"])
    assert receipt["env"]["scikit-learn"] and receipt["env"]["threadpoolctl"]
    assert cli(["validate", str(made)], capsys)[0] == 0


def test_rerun_replaces_only_the_out_value(made):
    from overfitting.receipt_tools import rerun_argv

    receipt = json.loads(made.read_text())
    argv = rerun_argv(receipt, Path("/fresh"))
    assert argv[-4:] == ["--n", "3", "--out", "/fresh"] and str(made.parent) not in argv
    receipt["command"] = ["of-ladder", f"--out={made.parent}", "--n", "3"]
    assert rerun_argv(receipt, Path("/fresh"))[-3:] == ["--out=/fresh", "--n", "3"]
    receipt["command"], receipt["out"] = ["of-ladder", "--n", "3"], None  # the default folder
    assert rerun_argv(receipt, Path("/fresh"))[-4:] == ["--n", "3", "--out", "/fresh"]


def test_measurements_are_reported_never_judged(made, tmp_path, capsys):
    slow = edited(made, tmp_path, "slow.json", measurements={"seconds_per_fit": 99.0},
                  weights_sha256="0" * 64, weights_file=None)  # fmt: skip
    code, out, _ = cli(["compare", str(made), str(slow)], capsys)
    assert code == 1 and out.startswith("WITHIN TOLERANCE"), out
    assert "measured seconds_per_fit: 0.25 -> 99.0 (not judged)" in out
    worse = edited(made, tmp_path, "worse.json", metrics={"accuracy": 0.4},
                   weights_sha256="0" * 64, weights_file=None)  # fmt: skip
    code, out, _ = cli(["compare", str(made), str(worse)], capsys)
    assert code == 1 and out.startswith("DIFFERENT"), out


def test_compare_lists_causes_by_kind_in_order(made, tmp_path, capsys):
    receipt = json.loads(made.read_text())
    cbwr = f"{receipt['env'].get('MKL_CBWR')}-other"  # differs even where MKL_CBWR is set
    env = {**receipt["env"], "torch_threads": 7, "MKL_CBWR": cbwr, "numpy": "0.0"}
    other = edited(made, tmp_path, "b.json", env=env, seed=1, data_sha256="f" * 64)
    out = cli(["compare", str(made), str(other)], capsys)[1]
    causes = out.split("fields known to change bits", 1)[1].split("other fields", 1)[0]
    order = ["env.MKL_CBWR", "env.torch_threads", "env.numpy", "data_sha256", "seed"]
    assert [causes.index(f"  {k}:") for k in order] == sorted(
        causes.index(f"  {k}:") for k in order
    )
    assert "command" not in causes  # the out folder differs by design; `out` is its own field


HOSTILE = {
    "metrics missing": ("compare", {"metrics": DELETE}, "missing field 'metrics'"),
    "metrics null": ("compare", {"metrics": None}, "metrics is NoneType"),
    "command empty": ("compare", {"command": []}, "command is not a non-empty list"),
    "command a string": ("compare", {"command": "of-ladder"}, "command is str"),
    "rerun a number": ("verify", {"rerun": 5}, "rerun is int"),
    "rerun a list": ("verify", {"rerun": ["--out"]}, "rerun is list"),
    "env a string": ("verify", {"env": "cpu"}, "env is str"),
    "verify, command empty": ("verify", {"command": []}, "command is not a non-empty list"),
    "rerun without receipt": ("verify", {"rerun": {"cwd": ".", "out_option": "--out"}}, "rerun.receipt"),
    "validate, rerun a number": ("validate", {"rerun": 5}, "rerun is int"),
    "topic a number": ("verify", {"topic": 3}, "topic is int"),
}  # fmt: skip


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_a_hand_edited_receipt_is_one_error_line_before_any_rerun(
    case, made, tmp_path, capsys, monkeypatch
):
    import overfitting.receipt_tools as tools

    action, changes, message = HOSTILE[case]
    bad = edited(made, tmp_path, "bad.json", **changes)
    monkeypatch.setattr(tools.subprocess, "run", lambda *a, **k: pytest.fail("it re-ran"))
    argv = [action, str(made), str(bad)] if action == "compare" else [action, str(bad)]
    code, _, err = cli(argv, capsys)
    assert message in one_error_line(code, err)


@pytest.mark.parametrize("atol", ["-1", "nan", "inf", "-inf", "x"])
@pytest.mark.parametrize("action", ["compare", "verify"])
def test_a_tolerance_that_is_not_a_finite_number_at_least_zero_is_refused(
    action, atol, made, capsys
):
    argv = [action, str(made), str(made)] if action == "compare" else [action, str(made)]
    code, _, err = cli([*argv, f"--atol={atol}"], capsys)  # = : argparse reads -inf as an option
    assert atol in one_error_line(code, err)


def test_verify_refuses_a_receipt_without_a_rerun_in_one_line(made, tmp_path, capsys):
    bad = edited(made, tmp_path, "norerun.json", rerun=None)
    assert "rerun is null" in one_error_line(*cli(["verify", str(bad)], capsys)[::2])


def test_python_m_receipt_hands_over_to_receipt_tools(made):
    done = run([*RECEIPT, "validate", str(made)])
    assert done.returncode == 0 and "a valid receipt" in done.stdout, done.stdout + done.stderr
