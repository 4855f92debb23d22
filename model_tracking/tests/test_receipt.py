"""`receipt verify` re-runs each kind of run.json this topic writes and gets the same bits.

Each re-runs a small receipt a fixture already wrote: the session's 2-epoch `tracking-train`
run (conftest's `small_run`) and its `tracking-sklearn` grid search (`grid_run`). The re-run is
a fresh process started by `verify`, as a learner's would be; `verify` itself runs here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from model_tracking.receipt_tools import main as receipt_main


def verify(receipt: Path, capsys) -> tuple[int, str]:
    code = receipt_main(["verify", str(receipt)])
    printed = capsys.readouterr()
    return code, printed.out + printed.err[-2000:]


@pytest.mark.verifies("tracking-train")
def test_verify_reruns_a_training_receipt_and_says_match(small_run, capsys):
    receipt = small_run.out / "run.json"
    assert json.loads(receipt.read_text())["command"][0] == "tracking-train"
    code, printed = verify(receipt, capsys)
    assert code == 0 and "MATCH" in printed, printed


@pytest.mark.verifies("tracking-sklearn")
def test_verify_reruns_a_grid_search_receipt_and_says_match(grid_run, capsys):
    _, result = grid_run
    receipt = result.out / "run.json"
    assert json.loads(receipt.read_text())["out"] == str(result.out)
    code, printed = verify(receipt, capsys)
    assert code == 0 and "MATCH" in printed, printed
