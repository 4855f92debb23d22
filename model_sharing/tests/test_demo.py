"""The headline demo runs end to end and every claim in its table holds; bad input is one line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from model_sharing import card, classifier, demo

TOPIC = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_headline_demo(tmp_path, capsys):
    figures = tmp_path / "figures"
    assert demo.main(["--out", str(tmp_path / "demo"), "--figures", str(figures)]) == 0
    out = capsys.readouterr().out
    for claim in (
        "weights_only=False ran the payload",
        "weights_only=True refused, no marker",
        "mixin round trip: weights_sha256 == run.json",
        "Auto classes round trip: bitwise-equal logits",
    ):
        line = next(ln for ln in out.splitlines() if ln.startswith(claim))
        assert line.rstrip().endswith("True"), line
    assert "same classes: True" in out
    card_line = next(ln for ln in out.splitlines() if ln.startswith("card accuracy"))
    assert card_line.rstrip().endswith("(True)"), card_line
    # The README's "What you should see" is this run's table, row for row, and its hash.
    readme = (TOPIC / "README.md").read_text()
    block = readme.split("## What you should see", 1)[1].split("```", 2)[1].strip().splitlines()
    table = [
        ln for ln in out.splitlines() if ln.split("  ")[0] in {b.split("  ")[0] for b in block}
    ]
    assert block == table
    run = json.loads((tmp_path / "demo" / "digits-mlp" / "run.json").read_text())
    assert f"`{run['weights_sha256']}`" in readme
    assert run["weights_file"] == "model.safetensors"
    assert run["rerun"]["receipt"] == "digits-mlp/run.json"  # --out names the parent folder
    # ... and the slides quote the card's accuracy line as the card states it
    m = run["metrics"]
    stated = card.accuracy_text(m["test_correct"], m["test_n"])
    assert stated in (tmp_path / "demo" / "digits-mlp" / "README.md").read_text()
    assert stated in (TOPIC / "slides.md").read_text() and stated in readme
    onnx_diff = re.search(r"ONNX max \|diff\| \(atol [0-9.]+\)\s+(\S+),", out)[1]
    assert f"max |Δlogit| {onnx_diff}" in (TOPIC / "slides.md").read_text()
    assert (figures / "safetensors_layout.png").stat().st_size > 10_000
    assert (figures / "lm_loss.png").stat().st_size > 10_000


def test_bad_argument_is_one_line(tmp_path, capsys):
    assert classifier.main(["--epochs", "0", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: --epochs and --hidden must be positive"]
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seed", "-1"], "error: --seed must be in [0, 2**32), got -1"),
        (["--out", "{file}"], "error: [Errno 20] Not a directory"),
    ],
)
def test_demo_bad_input_is_one_line(tmp_path, capsys, args, message):
    (tmp_path / "a-file").write_text("not a folder")
    args = [a.replace("{file}", str(tmp_path / "a-file")) for a in args]
    out_args = [] if "--out" in args else ["--out", str(tmp_path / "out")]
    assert demo.main([*args, *out_args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(message), err
    assert not (tmp_path / "out").exists()
