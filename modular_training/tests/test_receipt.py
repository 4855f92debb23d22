"""Receipts that travel: `mt-drift` plays "another machine" on this one, `compare` / `verify` say
why two headline runs differ, and the README's hashes are predictions: each drift row names the
fingerprint it stands for, and a run with that fingerprint must give that row's hash.

One `mt-drift` run (six `mt-train` processes) is shared by the whole module; the headline check
uses the session's background headline run (conftest's `jobs`), trained in the suite's own
environment, so `ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE` set for the suite reaches it.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import module
from modular_training.drift import another_dispatch, count_test_images, fingerprint
from modular_training.receipt_tools import DEFAULT_ATOL, load_receipt, validate_receipt

TOPIC = Path(__file__).resolve().parents[1]
RECEIPT = [sys.executable, "-m", "modular_training.receipt"]
README = TOPIC / "README.md"
REFERENCE = TOPIC / "tests" / "fixtures" / "headline" / "run.json"  # the README's headline run
X86 = platform.machine().lower() in ("x86_64", "amd64")


def run(argv: list[str], timeout: float = 900, **kw) -> subprocess.CompletedProcess:
    """A hang guard, not a time limit: `timeout` is far above what any command needs."""
    return subprocess.run(argv, cwd=TOPIC, capture_output=True, text=True, timeout=timeout, **kw)


@pytest.fixture(scope="module")
def drift(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("drift")
    # Six trainings: on two cores shared with other jobs this has taken over 15 minutes.
    done = run([sys.executable, "-m", "modular_training.drift", "--out", str(out)], timeout=3600)
    assert done.returncode == 0, done.stderr[-3000:]
    table = json.loads((out / "drift.json").read_text())
    table["out"] = out
    return table


def machine_rows(drift: dict) -> list[dict]:
    return [r for r in drift["rows"] if "seed" not in r["machine"]]


def test_drift_rows_agree_in_accuracy_and_stay_within_tolerance(drift):
    """Another "machine" moves the weights by far less than compare's tolerance and the accuracy
    by at most one test image; whether it changes the bits at all depends on this CPU's kernels
    (on the README's fingerprint it does: checked exactly by the README tests below)."""
    rows = machine_rows(drift)
    assert len(rows) >= 4, [r["machine"] for r in rows]
    one_image = 1 / drift["test_images"]
    first = rows[0]
    for r in rows[1:]:
        assert abs(r["test_accuracy"] - first["test_accuracy"]) <= one_image + 1e-9, r
        assert r["cause"], f"compare named no cause for {r['machine']}"
        assert r["max_abs_diff"] < 1e-4, r  # weights a hair apart at most
        same_bits = r["weights_sha256"] == first["weights_sha256"]
        assert r["verdict"] == ("IDENTICAL" if same_bits else "WITHIN TOLERANCE"), r
        assert (r["max_abs_diff"] == 0) == same_bits, r
        if same_bits:
            print(f"{r['machine']}: same bits as '{first['machine']}' on this CPU's kernels")
    seed_row = next(r for r in drift["rows"] if "seed" in r["machine"])
    assert seed_row["verdict"] == "DIFFERENT" and seed_row["max_abs_diff"] > 1e-2
    assert any("seed" in c for c in seed_row["cause"])
    assert (drift["out"] / "drift.png").stat().st_size > 5000
    assert "| machine |" in (drift["out"] / "drift.md").read_text()


def test_drift_counts_come_from_the_split(drift):
    """ "k/n" in drift.md: n is the test split's size, k the accuracy times n, for every row."""
    n = drift["test_images"]
    assert n == count_test_images() == 270  # 15% of load_digits' 1,797 images
    text = (drift["out"] / "drift.md").read_text()
    for r in drift["rows"]:
        k = round(r["test_accuracy"] * n)
        assert abs(k / n - r["test_accuracy"]) < 1e-6, r  # an accuracy over n images
        assert f"{r['test_accuracy']:.4f} ({k}/{n})" in text, r["machine"]


def test_drift_names_the_setting_that_made_each_machine(drift):
    causes = {r["machine"]: " ".join(r["cause"]) for r in drift["rows"]}
    assert "env.MKL_CBWR: None -> COMPATIBLE" in causes["MKL compatible"]
    assert "env.torch_threads: 1 -> 2" in causes["2 threads"]
    if another_dispatch() is not None:
        assert (
            f"env.ATEN_CPU_CAPABILITY: None -> {another_dispatch()}"
            in causes[f"ATen {another_dispatch()}"]
        )


def test_compare_names_aten_dispatch_with_both_values_and_measures_the_gap(drift):
    aten = another_dispatch()
    if aten is None:
        pytest.skip("this CPU has no second ATen dispatch level to switch to")
    first, other = (
        drift["rows"][0]["receipt"],
        next(r for r in drift["rows"] if "ATen" in r["machine"]),
    )
    done = run([*RECEIPT, "compare", first, other["receipt"]])
    lines = done.stdout.splitlines()
    if other["weights_sha256"] == drift["rows"][0]["weights_sha256"]:  # these kernels agree here
        assert done.returncode == 0 and lines[0].startswith("IDENTICAL"), done.stdout
    else:
        assert done.returncode == 1, done.stdout + done.stderr
        assert lines[0].startswith("WITHIN TOLERANCE: weights_sha256 differ; max |Δw| = "), lines[0]
    assert f'env.ATEN_CPU_CAPABILITY: null -> "{aten}"' in done.stdout
    assert any(line.strip().startswith("metric test_accuracy:") for line in lines)
    # bit-changing fields come first: the ATen line stands above "other fields"
    assert done.stdout.index("ATEN_CPU_CAPABILITY") < done.stdout.index("other fields")


def test_compare_with_a_tight_tolerance_says_different(drift):
    first = drift["rows"][0]
    other = next(r for r in drift["rows"] if r["weights_sha256"] != first["weights_sha256"])
    assert other["max_abs_diff"] > 1e-9, other
    done = run([*RECEIPT, "compare", first["receipt"], other["receipt"], "--atol", "1e-9"])
    assert done.returncode == 1 and done.stdout.startswith("DIFFERENT:"), done.stdout


def test_every_drift_receipt_has_the_documented_fields(drift):
    for r in drift["rows"]:
        assert validate_receipt(load_receipt(Path(r["receipt"]))) == [], r["receipt"]


@pytest.mark.verifies("mt-train")
def test_verify_reruns_with_the_recorded_kernel_setting_and_catches_an_edited_hash(drift, tmp_path):
    """One re-run serves three claims. The MKL row's receipt, its hash edited in a copy: verify
    applies the recorded MKL_CBWR=COMPATIBLE, says the edited copy does not match, and the run it
    made (kept with --out) is IDENTICAL to the row's original receipt: the run reproduces."""
    original = Path(next(r for r in drift["rows"] if r["machine"] == "MKL compatible")["receipt"])
    copy = tmp_path / "edited"
    shutil.copytree(original.parent, copy)
    receipt = json.loads((copy / "run.json").read_text())
    receipt["weights_sha256"] = "0" * 64
    (copy / "run.json").write_text(json.dumps(receipt))
    done = run([*RECEIPT, "verify", str(copy / "run.json"), "--out", str(tmp_path / "rerun")])
    assert done.returncode == 1, done.stdout + done.stderr
    assert "MKL_CBWR=COMPATIBLE" in done.stdout and "MATCH" not in done.stdout, done.stdout
    again = run([*RECEIPT, "compare", str(original), str(tmp_path / "rerun" / "run.json")])
    assert again.returncode == 0 and again.stdout.startswith("IDENTICAL"), again.stdout


def one_error_line(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


def test_verify_refuses_a_receipt_of_another_topic(drift, tmp_path):
    receipt = json.loads(Path(drift["rows"][0]["receipt"]).read_text())
    receipt["topic"], receipt["command"] = "overfitting", ["of-seeds", "--out", "x"]
    (tmp_path / "run.json").write_text(json.dumps(receipt))
    line = one_error_line(run([*RECEIPT, "verify", str(tmp_path / "run.json")]))
    assert "overfitting" in line


def test_compare_bad_input_is_one_error_line(drift, tmp_path):
    first = drift["rows"][0]["receipt"]
    assert "no such file" in one_error_line(
        run([*RECEIPT, "compare", first, str(tmp_path / "no.json")])
    )
    (tmp_path / "list.json").write_text("[1, 2]")
    assert "not a run receipt" in one_error_line(
        run([*RECEIPT, "compare", first, str(tmp_path / "list.json")])
    )
    other = json.loads(Path(first).read_text())
    other["command"] = ["mt-resume", *other["command"][1:]]
    (tmp_path / "other.json").write_text(json.dumps(other))
    assert "two different commands" in one_error_line(
        run([*RECEIPT, "compare", first, str(tmp_path / "other.json")])
    )
    assert one_error_line(run([*RECEIPT, "compare", first]))  # argparse's usage error, one line too


@pytest.mark.gpu
def test_a_cpu_and_a_cuda_run_are_within_tolerance_and_compare_names_the_device(drift, tmp_path):
    env = {**os.environ, "CUBLAS_WORKSPACE_CONFIG": ":4096:8"}
    argv = [sys.executable, "-m", "modular_training.drift", "--cuda", "--out", str(tmp_path)]
    done = run(argv, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    row = next(
        r
        for r in json.loads((tmp_path / "drift.json").read_text())["rows"]
        if r["machine"] == "cuda"
    )
    assert row["verdict"] == "WITHIN TOLERANCE", row
    assert any(c.startswith("env.device: cpu -> cuda") for c in row["cause"]), row["cause"]


# ----------------------------------------------------------------------------- the README's hashes


def fields(text: str) -> dict[str, str]:
    """`key=value key=value` -> dict."""
    return dict(kv.split("=", 1) for kv in text.split())


def readme_rows(text: str) -> list[dict]:
    """The README's drift table: each row's full fingerprint (shared fields + its own), hash, k/n."""
    shared = re.search(r"^Fingerprint of every row: `([^`]*)`", text, re.MULTILINE)
    assert shared, "the README's drift table lacks its 'Fingerprint of every row' line"
    row = r"^\| ([^|]+?) \| [^|]*\| `([^`]*)` \| `([0-9a-f]{12})` \| (0\.\d{4}) \((\d+)/(\d+)\) \|"
    rows = [
        {
            "machine": m[1],
            "fingerprint": {**fields(shared[1]), **fields(m[2])},
            "hash": m[3],
            "accuracy": float(m[4]),
            "k": int(m[5]),
            "n": int(m[6]),
        }
        for m in re.finditer(row, text, re.MULTILINE)
    ]
    assert rows, "no rows found in the README's drift table"
    return rows


def check_against_readme(text: str, receipt: dict) -> tuple[dict | None, str]:
    """The README row whose fingerprint equals this run's, and the assert that its hash is this
    run's; or None and which fields differ from the nearest row."""
    rows = readme_rows(text)
    mine = fingerprint(receipt)
    for r in rows:
        assert set(r["fingerprint"]) == set(mine), f"README row {r['machine']!r} lacks fields"
    for r in rows:
        if r["fingerprint"] == mine:
            assert receipt["weights_sha256"][:12] == r["hash"], (
                f"README row {r['machine']!r} predicts {r['hash']} for this fingerprint "
                f"({mine}); this run gave {receipt['weights_sha256'][:12]}"
            )
            return r, f"README row {r['machine']!r}"

    def differ(r: dict) -> dict:
        return {k: (r["fingerprint"][k], v) for k, v in mine.items() if r["fingerprint"][k] != v}

    nearest = min(rows, key=lambda r: len(differ(r)))
    assert set(differ(nearest)) != {"lock_sha256"}, (
        "uv.lock changed since the README's drift table was made: rerun `uv run mt-drift` and "
        "paste drift.md into the README"
    )
    return (
        None,
        f"no README row has this fingerprint; nearest {nearest['machine']!r}: {differ(nearest)}",
    )


def test_readme_drift_table_counts_come_from_the_split():
    """Machine-independent: every k/n has n = the test split's size and k/n = the accuracy shown;
    the slide quotes the first row's k/n."""
    rows = readme_rows(README.read_text())
    n = count_test_images()
    for r in rows:
        assert r["n"] == n and r["k"] == round(r["accuracy"] * n), r
        assert abs(r["k"] / n - r["accuracy"]) < 5e-5, r
    machines = [r for r in rows if "seed" not in r["machine"]]
    assert len({r["hash"] for r in machines}) == len(machines), (
        "README: a machine row kept the bits"
    )
    slides = (TOPIC / "slides.md").read_text()
    assert f"the same {rows[0]['k']}/{n}**" in slides


def test_readme_headline_block_is_the_reference_run():
    """The README's headline output, its fingerprint table and the drift table's first row all
    describe the committed reference run (tests/fixtures/headline), read independently."""
    from modular_training.receipt import weights_sha256
    from safetensors.torch import load_file

    text = README.read_text()
    shown = re.search(r"^weights_sha256 ([0-9a-f]{64})$", text, re.MULTILINE)[1]
    accuracy = float(re.search(r"^test accuracy (0\.\d{4}) ", text, re.MULTILINE)[1])
    block = dict(re.findall(r"^\| `(\w+)` \| `([^`]*)` \|", text, re.MULTILINE))
    reference = load_receipt(REFERENCE)
    assert block == fingerprint(reference), "README's fingerprint table is not the reference's"
    assert shown == reference["weights_sha256"]
    assert weights_sha256(load_file(REFERENCE.parent / reference["weights_file"])) == shown
    assert f"{reference['metrics']['test_accuracy']:.4f}" == f"{accuracy:.4f}"
    first = readme_rows(text)[0]
    assert first["fingerprint"] == block and first["hash"] == shown[:12]


def test_readme_predicts_this_machines_headline_hash(jobs):
    """The session's headline run (this suite's environment, other-CPU variables included) meets
    the README: exact hash where a row has its fingerprint, else the accuracy within one test
    image and the weights within compare's tolerance of the reference run."""
    rc, _, stderr = jobs["headline_a"].result()
    assert rc == 0, stderr[-3000:]
    path = jobs.root / "a" / "run.json"
    receipt = load_receipt(path)
    row, why = check_against_readme(README.read_text(), receipt)
    print(f"headline {receipt['weights_sha256'][:12]}: {why}")
    reference = load_receipt(REFERENCE)
    gap = max_weight_gap(REFERENCE, path)
    print(f"max |Δw| against the README's run: {gap:.1e}")
    if fingerprint(receipt) == fingerprint(reference):  # the README's own machine: every bit
        assert receipt["weights_sha256"] == reference["weights_sha256"] and gap == 0
    accuracy = receipt["metrics"]["test_accuracy"]
    if row is not None:  # the same bits, so the same accuracy as the row says
        assert f"{accuracy:.4f}" == f"{row['accuracy']:.4f}"
    one_image = 1 / count_test_images()
    assert abs(accuracy - reference["metrics"]["test_accuracy"]) <= one_image + 1e-9
    assert gap < DEFAULT_ATOL, f"max |Δw| {gap:.1e} is beyond compare's tolerance {DEFAULT_ATOL}"


def max_weight_gap(a: Path, b: Path) -> float:
    """max |Δw| between the weights files of two receipts, read with safetensors directly."""
    from safetensors.torch import load_file

    wa, wb = (load_file(p.parent / load_receipt(p)["weights_file"]) for p in (a, b))
    assert wa.keys() == wb.keys()
    return max((wa[k] - wb[k]).abs().max().item() for k in wa)


def test_every_drift_row_the_readme_predicts_has_its_hash(drift):
    """Each drift run against the README: exact where the fingerprint matches a row; elsewhere the
    accuracy within one test image of the README row of the same name."""
    text = README.read_text()
    by_name = {r["machine"]: r for r in readme_rows(text)}
    one_image = 1 / count_test_images()
    matched = []
    for r in drift["rows"]:
        row, why = check_against_readme(text, load_receipt(Path(r["receipt"])))
        print(f"{r['machine']}: {why}")
        matched += [row["machine"]] if row else []
        if r["machine"] in by_name:
            assert abs(r["test_accuracy"] - by_name[r["machine"]]["accuracy"]) <= one_image + 1e-4
    assert len(matched) == len(set(matched)), "two runs claimed the same README row"


@pytest.mark.skipif(not X86, reason="ATEN_CPU_CAPABILITY=avx2 needs an x86 CPU")
def test_an_edited_avx2_hash_in_the_readme_fails_the_check(drift):
    """Planted edit: one character of the README's avx2-row hash changed; the run with that row's
    fingerprint (here: the drift row under ATEN_CPU_CAPABILITY=avx2, or on an AVX2 CPU the plain
    one) must then fail the same check it passes on the real README."""
    text = README.read_text()
    avx2 = next(r for r in readme_rows(text) if r["machine"] == "ATen avx2")
    runs = [load_receipt(Path(r["receipt"])) for r in drift["rows"]]
    run_ = next((x for x in runs if fingerprint(x) == avx2["fingerprint"]), None)
    if run_ is None:
        pytest.skip(
            f"no drift run here has the avx2 row's fingerprint ({avx2['fingerprint']}); "
            f"this CPU's runs: {[fingerprint(x) for x in runs[:2]]}"
        )
    assert check_against_readme(text, run_)[0]["machine"] == "ATen avx2"
    planted = avx2["hash"][:-1] + ("0" if avx2["hash"][-1] != "0" else "1")
    edited = text.replace(f"`{avx2['hash']}`", f"`{planted}`", 1)
    assert edited != text
    with pytest.raises(AssertionError, match="README row 'ATen avx2' predicts"):
        check_against_readme(edited, run_)


@pytest.mark.verifies("mt-monolithic")
def test_verify_reruns_the_monolithic_receipt_and_says_match(jobs):
    code, _, err = jobs["monolithic"].result()
    assert code == 0, err[-2000:]
    done = run([*RECEIPT, "verify", str(jobs.root / "monolithic" / "run.json")])
    assert done.returncode == 0 and "MATCH" in done.stdout, done.stdout + done.stderr[-2000:]


def verify_matches(receipt: Path) -> None:
    done = run([*RECEIPT, "verify", str(receipt)])
    assert done.returncode == 0 and "MATCH" in done.stdout, done.stdout + done.stderr[-2000:]


@pytest.mark.verifies("mt-modular")
def test_verify_reruns_a_step2_receipt_and_says_match(tmp_path):
    done = run([*module("step2_modular", "--epochs=1", f"--out={tmp_path / 'a'}")])
    assert done.returncode == 0, done.stderr[-2000:]
    verify_matches(tmp_path / "a" / "run.json")


@pytest.mark.verifies("mt-predict")
def test_verify_reruns_a_prediction_receipt_and_says_match(jobs, tmp_path):
    code, _, err = jobs["headline_a"].result()
    assert code == 0, err[-2000:]
    best = jobs.root / "a" / "checkpoints" / "best.ckpt"
    done = run(module("predict", f"--ckpt_path={best}", f"--out={tmp_path / 'p'}"))
    assert done.returncode == 0, done.stderr[-2000:]
    verify_matches(tmp_path / "p" / "run.json")


@pytest.mark.verifies("mt-mlflow")
def test_verify_reruns_a_tracked_receipt_and_says_match(tmp_path):
    uri = f"--tracking_uri=sqlite:///{tmp_path / 'mlflow.db'}"
    args = [uri, "--trainer.max_epochs=2", f"--out={tmp_path / 'm'}"]  # as test_mlflow trains
    done = run(module("step4_mlflow", *args))
    assert done.returncode == 0, done.stderr[-2000:]
    verify_matches(tmp_path / "m" / "run.json")
