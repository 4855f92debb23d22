"""Steps 1 and 2: the same computation, so bit-identical weights; and the model learns."""

import json

from modular_training.data import load_splits
from modular_training.receipt import weights_sha256

from modular_training import step2_modular


def test_monolithic_and_modular_give_identical_weights(jobs, tmp_path):
    rc, stdout, stderr = jobs["monolithic"].result()
    assert rc == 0, stderr
    step1 = json.loads((jobs.root / "monolithic" / "run.json").read_text())
    assert step2_modular.main([f"--out={tmp_path}"]) == 0
    step2 = json.loads((tmp_path / "run.json").read_text())
    assert step1["weights_sha256"] == step2["weights_sha256"]
    assert step1["data_sha256"] == step2["data_sha256"]
    for receipt in (step1, step2):
        assert receipt["metrics"]["test_accuracy"] >= 0.95  # it learned, not just ran
    for name in ("run.json", "model.safetensors", "training_curve.png"):
        assert (tmp_path / name).stat().st_size > 0


def test_different_seeds_give_different_weights():
    splits = load_splits()
    hashes = set()
    for seed in (0, 1):
        model, _ = step2_modular.fit(
            step2_modular.Config(seed=seed, epochs=1), splits, verbose=False
        )
        hashes.add(weights_sha256(model.state_dict()))
    assert len(hashes) == 2


def test_modular_refuses_negative_lr(tmp_path, capsys):
    assert step2_modular.main(["--lr=-0.1", f"--out={tmp_path / 'x'}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: lr must be positive, got -0.1"]
    assert not (tmp_path / "x").exists()  # nothing half-written
