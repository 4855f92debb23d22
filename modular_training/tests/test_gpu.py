"""The same determinism checks on CUDA. Untested on the machine these examples were written on
(no GPU there); they run wherever `torch.cuda.is_available()`.

PyTorch documents that deterministic cuBLAS needs CUBLAS_WORKSPACE_CONFIG=:4096:8 (or :16:8)
set before CUDA starts; `deterministic=True` makes PyTorch raise instead of silently differing.
"""

import json
import os
import subprocess
import sys

import pytest
from modular_training.resume import FIXED, compare

GPU = ["--trainer.accelerator=gpu", "--trainer.enable_progress_bar=false"]


@pytest.mark.gpu
def test_same_seed_on_gpu_in_separate_processes_gives_identical_weights(tmp_path):
    env = {**os.environ, "CUBLAS_WORKSPACE_CONFIG": ":4096:8"}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "modular_training.step3_cli",
                f"--out={tmp_path / n}",
                *GPU,
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in ("a", "b")
    ]
    for p in procs:
        _, stderr = p.communicate(timeout=600)
        assert p.returncode == 0, stderr[-3000:]
    a, b = (json.loads((tmp_path / n / "run.json").read_text()) for n in ("a", "b"))
    assert a["env"]["device"].startswith("cuda")
    assert a["weights_sha256"] == b["weights_sha256"]
    assert a["metrics"]["test_accuracy"] >= 0.95


@pytest.mark.gpu
@pytest.mark.parametrize("workers", [0, 2])
def test_resume_on_gpu_gives_identical_weights(workers, tmp_path, monkeypatch):
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    import modular_training.resume as resume

    monkeypatch.setattr(resume, "train", _on_gpu(resume.train))
    hashes = compare(tmp_path, FIXED, workers)
    assert len(set(hashes.values())) == 1, hashes


def _on_gpu(train):
    def wrapped(out, setup, workers, extra=(), callbacks=None):
        return train(out, setup, workers, [*extra, "--trainer.accelerator=gpu"], callbacks)

    return wrapped
