"""The example project itself works: its model learns on the bundled digits."""

from __future__ import annotations

import os

from conftest import EXAMPLE, run_module


def test_digits_baseline_learns():
    path = os.pathsep.join([str(EXAMPLE / "src"), os.environ["PYTHONPATH"]])
    # One BLAS thread: on a busy shared machine, OpenBLAS threads spinning against other jobs
    # made this 1 s fit take 30 s (the kind of effect env-info's numeric_env records).
    env = {"PYTHONPATH": path, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    done = run_module("digits_baseline.train", "--seed", "0", env=env)
    assert done.returncode == 0, done.stderr
    accuracy = float(done.stdout.strip().split("=")[1])
    assert accuracy > 0.9, done.stdout
