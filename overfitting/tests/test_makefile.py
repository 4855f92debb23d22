"""The Makefile rebuilds every committed figure, one `of-all` run per figure (checked dry)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from overfitting.run_all import EXPERIMENTS

TOPIC = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")
def test_dry_run_lists_one_of_all_run_per_committed_figure():
    done = subprocess.run(
        ["make", "-n", "-B", "figures"], cwd=TOPIC, capture_output=True, text=True, check=True
    )
    runs = re.findall(r"^uv run of-all --full --figures --only (\w+)$", done.stdout, flags=re.M)
    assert sorted(runs) == sorted(EXPERIMENTS)
    assert {f"{name}.png" for name in runs} <= {p.name for p in (TOPIC / "figures").glob("*.png")}
