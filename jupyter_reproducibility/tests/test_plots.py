"""The slides' figure is drawn from the stored evidence."""

from __future__ import annotations

from pathlib import Path

from jupyter_reproducibility.plots import main


def test_figure_is_written(tmp_path: Path, capsys) -> None:
    assert main(["--out", str(tmp_path)]) == 0
    png = tmp_path / "execution_order.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert 10_000 < png.stat().st_size < 300_000
    assert not list(tmp_path.glob(".*.tmp*"))  # written via a temporary file, then renamed


def test_missing_fixture_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    assert main(["--fixture", str(tmp_path / "nope.ipynb"), "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert not (tmp_path / "execution_order.png").exists()
