"""The "use it" half: `mt-predict` loads the headline run's checkpoint with `load_from_checkpoint`
and gets back exactly the run's test accuracy and weights."""

import csv
import json

from modular_training.predict import main


def test_predict_from_the_checkpoint_matches_the_training_run(jobs, tmp_path, capsys):
    rc, _, stderr = jobs["headline_a"].result()
    assert rc == 0, stderr[-2000:]
    trained = json.loads((jobs.root / "a" / "run.json").read_text())
    best = jobs.root / "a" / "checkpoints" / "best.ckpt"
    assert main([f"--ckpt_path={best}", f"--out={tmp_path}"]) == 0
    predicted = json.loads((tmp_path / "run.json").read_text())
    assert predicted["weights_sha256"] == trained["weights_sha256"]
    assert abs(predicted["metrics"]["test_accuracy"] - trained["metrics"]["test_accuracy"]) < 1e-6
    rows = list(csv.DictReader((tmp_path / "predictions.csv").open()))
    assert len(rows) == 270
    correct = sum(r["label"] == r["predicted"] for r in rows)
    assert correct / len(rows) == predicted["metrics"]["test_accuracy"]
    assert predicted["data_sha256"] == trained["data_sha256"]  # same split, rebuilt from the ckpt
    assert predicted["weights_sha256"] in capsys.readouterr().out


def test_predict_refuses_a_missing_checkpoint_in_one_line(tmp_path, capsys):
    assert main([f"--ckpt_path={tmp_path / 'nope.ckpt'}", f"--out={tmp_path / 'out'}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: --ckpt_path {tmp_path / 'nope.ckpt'}: checkpoint not found"]
    assert not (tmp_path / "out").exists()
