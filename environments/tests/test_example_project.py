"""The example project itself works: its model learns on the bundled digits."""

from __future__ import annotations

import os

from conftest import EXAMPLE, run_module


def test_digits_baseline_learns():
    path = os.pathsep.join([str(EXAMPLE / "src"), os.environ["PYTHONPATH"]])
    done = run_module("digits_baseline.train", "--seed", "0", env={"PYTHONPATH": path})
    assert done.returncode == 0, done.stderr
    accuracy = float(done.stdout.strip().split("=")[1])
    assert accuracy > 0.9, done.stdout
