"""The other traps of the original notebook: each nbcheck catches and marimo refuses.

  stale      the shared `test_size` updated in a new cell, experiment 1 re-run, experiment 2
             forgotten: the table mixes two test sets
  redefined  `features` rewritten under the same name for experiment 2, experiment 1 re-run
  long       the same, with the second `def features` among 20 unrelated cells

Each fixture was made by a real kernel (`jr-make-fixture --trap NAME`). The numbers are checked
against the experiments computed directly here, not against nbcheck's own arithmetic.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
from conftest import TOPIC, run_module
from jupyter_reproducibility.experiments import load_digits_split, train_and_score
from jupyter_reproducibility.make_fixture import TRAPS, run_session
from jupyter_reproducibility.nbcheck import DIFFERS
from jupyter_reproducibility.nbcheck import main as nbcheck_main


def accuracy(C: float, test_size: float = 0.3, binarised: bool = False) -> float:
    split = load_digits_split(seed=0, test_size=test_size)
    X_train, X_test = split.X_train, split.X_test
    if binarised:
        X_train, X_test = (X_train > 0.5).astype(float), (X_test > 0.5).astype(float)
    return train_and_score(X_train, split.y_train, X_test, split.y_test, C=C)


# trap -> (name defined twice, the cells defining it, stored experiment-1 value, fresh value)
EXPECTED = {
    "stale": ("test_size", "3, 8", lambda: accuracy(0.001, 0.5), lambda: accuracy(0.001)),
    "redefined": ("features", "4, 7", lambda: accuracy(1.0, binarised=True), lambda: accuracy(1.0)),
    "long": ("features", "4, 24", lambda: accuracy(1.0, binarised=True), lambda: accuracy(1.0)),
}


@pytest.fixture(scope="module")
def nbcheck_runs() -> dict[str, subprocess.CompletedProcess]:
    """`nbcheck FIXTURE` on the three fixtures, through the command's own `main` in this process
    (one fresh kernel each; the bad-input tests start nbcheck as a process)."""
    done = {}
    for trap in EXPECTED:
        argv = [str(TRAPS[trap].fixture)]
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = nbcheck_main(argv)
        done[trap] = subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())
    return done


@pytest.mark.parametrize("trap", EXPECTED)
def test_nbcheck_catches_the_trap(nbcheck_runs, trap: str) -> None:
    name, cells, stored, fresh = EXPECTED[trap]
    result = nbcheck_runs[trap]
    assert result.returncode == DIFFERS, result.stdout + result.stderr
    out = result.stdout
    assert f"`{name}` is defined in cells {cells}" in out  # the warning points at both cells
    assert "`model_1 = LogisticRegression(C=" in out and "output differs in a fresh run" in out
    assert f"-experiment 1: test accuracy {stored():.3f}" in out  # what the file claims
    assert f"+experiment 1: test accuracy {fresh():.3f}" in out  # what top to bottom gives
    assert f"{stored():.3f}" != f"{fresh():.3f}"


def test_the_stale_table_mixes_two_test_sets() -> None:
    """Experiment 2's stored number is from the old test set, experiment 1's from the new one."""
    nb = nbformat.read(TRAPS["stale"].fixture, as_version=4)
    table = "".join(o.text for o in nb.cells[-1].outputs)
    assert "test set: 50% of the digits" in table
    assert f"experiment 1 | C = 0.001 | {accuracy(0.001, 0.5):.3f}" in table  # new test set
    assert f"experiment 2 | C = 1.0   | {accuracy(1.0, 0.3):.3f}" in table  # old, forgotten
    assert f"{accuracy(1.0, 0.3):.3f}" != f"{accuracy(1.0, 0.5):.3f}"


def as_marimo_cells(fixture: Path, out: Path) -> Path:
    """The notebook's code cells copied into marimo as they are, one marimo cell each."""
    nb = nbformat.read(fixture, as_version=4)
    lines = ["import marimo", "", '__generated_with = "0.25.2"', "app = marimo.App()", ""]
    for cell in nb.cells:
        if cell.cell_type == "code":
            lines += [
                "",
                "@app.cell",
                "def _():",
                textwrap.indent(cell.source, "    "),
                "    return",
            ]
    out.write_text("\n".join([*lines, ""]), encoding="utf-8")
    return out


CONVERTED = ["redefined", "stale"]


@pytest.fixture(scope="module")
def marimo_runs(tmp_path_factory) -> dict:
    """Each fixture's cells copied into marimo as they are, and `marimo convert` of two of them;
    then one `marimo check` over all five files (it names the file of every finding)."""
    folder = tmp_path_factory.mktemp("marimo")
    files = {
        ("copied", t): as_marimo_cells(TRAPS[t].fixture, folder / f"copied_{t}.py")
        for t in EXPECTED
    }
    for trap in CONVERTED:
        app = folder / f"converted_{trap}.py"
        converted = run_module("marimo", "convert", str(TRAPS[trap].fixture), "-o", str(app))
        assert converted.returncode == 0, converted.stderr
        files["converted", trap] = app
    checked = run_module("marimo", "check", *map(str, files.values()))
    findings = (checked.stdout + checked.stderr).split("critical[")
    return {"files": files, "returncode": checked.returncode, "findings": findings[1:]}


def findings_for(marimo_runs, path: Path) -> list[str]:
    return [f for f in marimo_runs["findings"] if f"{path.name}:" in f]


@pytest.mark.parametrize("trap", EXPECTED)
def test_marimo_check_refuses_the_trap(marimo_runs, trap: str) -> None:
    name = EXPECTED[trap][0]
    assert marimo_runs["returncode"] != 0
    found = findings_for(marimo_runs, marimo_runs["files"]["copied", trap])
    assert any(f"Variable '{name}' is defined in multiple cells" in f for f in found), found


@pytest.mark.parametrize("trap", CONVERTED)
def test_marimo_convert_keeps_only_the_top_to_bottom_meaning(marimo_runs, trap: str) -> None:
    """`marimo convert` renames the second definition (`features_1`, `test_size_1`), so the app
    it writes runs the top-to-bottom notebook: the fresh number, never the stored one."""
    name, _, stored, fresh = EXPECTED[trap]
    app = marimo_runs["files"]["converted", trap]
    assert f"{name}_1" in app.read_text(encoding="utf-8")
    assert findings_for(marimo_runs, app) == []  # marimo check accepts it
    ran = subprocess.run([sys.executable, str(app)], capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr
    assert f"experiment 1: test accuracy {fresh():.3f}" in ran.stdout
    assert f"experiment 1: test accuracy {stored():.3f}" not in ran.stdout


@pytest.mark.slow
@pytest.mark.parametrize("trap", EXPECTED)
def test_make_fixture_rebuilds_the_trap(trap: str) -> None:
    """The evidence is reproducible: the scripted session gives the committed notebook again."""
    rebuilt = run_session(TRAPS[trap].clean, TRAPS[trap].session, verbose=False)
    stored = nbformat.read(TRAPS[trap].fixture, as_version=4)
    as_run = [
        [(c.source, c.get("execution_count"), c.get("outputs")) for c in nb.cells]
        for nb in (rebuilt, stored)
    ]
    assert as_run[0] == as_run[1]


@pytest.mark.parametrize("document", ["README.md", "slides.md"])
def test_docs_quote_what_the_fixtures_store_and_what_a_fresh_run_gives(document: str) -> None:
    text = (TOPIC / document).read_text(encoding="utf-8")
    for trap, (_, _, stored, fresh) in EXPECTED.items():
        row = next(line for line in text.splitlines() if line.startswith(f"| `trap_{trap}"))
        assert row.endswith(f"| {stored():.3f} | {fresh():.3f} |"), row
    long = nbformat.read(TRAPS["long"].fixture, as_version=4)
    assert f"cell {EXPECTED['long'][1].split(', ')[1]} of {len(long.cells)}" in text
