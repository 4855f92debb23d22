"""The example project itself works: its model learns on the bundled digits."""

from __future__ import annotations

import os
import re

from conftest import EXAMPLE, TOPIC, run_module


def test_digits_baseline_learns():
    path = os.pathsep.join([str(EXAMPLE / "src"), os.environ["PYTHONPATH"]])
    # One BLAS thread: on a busy shared machine, OpenBLAS threads spinning against other jobs
    # made this 1 s fit take 30 s (the kind of effect env-info's numeric_env records).
    env = {"PYTHONPATH": path, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    done = run_module("digits_baseline.train", "--seed", "0", env=env)
    assert done.returncode == 0, done.stderr
    accuracy = float(done.stdout.strip().split("=")[1])
    assert accuracy > 0.9, done.stdout
    # The README's prefix: an accuracy (a count of test images), which another BLAS kernel or
    # thread count does not change, so it is checked exactly everywhere.
    quoted = re.search(r"prints `(test_accuracy=0\.\d+)`", (TOPIC / "README.md").read_text())
    assert quoted and done.stdout.strip() == quoted[1], done.stdout
