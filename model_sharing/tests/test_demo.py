"""The headline demo runs end to end and every claim in its table holds; bad input is one line."""

from __future__ import annotations

import pytest

from model_sharing import classifier, demo


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
