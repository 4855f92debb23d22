"""Bad input to site-build and slides-check: one `error:` line on stderr, exit 2, nothing left."""

from __future__ import annotations

from pathlib import Path

import pytest
from ml_repro_docs import build, slides_check


def run(main, argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, list[str]]:  # noqa: ANN001
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    return code, err


@pytest.mark.parametrize(
    "main", [build.main, slides_check.main], ids=["site-build", "slides-check"]
)
def test_unknown_option(main, capsys: pytest.CaptureFixture) -> None:  # noqa: ANN001
    code, err = run(main, ["--no-such-flag"], capsys)
    assert code == 2 and len(err) == 1 and err[0].startswith("error:"), err


def test_out_that_cannot_be_created(capsys: pytest.CaptureFixture) -> None:
    code, err = run(build.main, ["--out", "/proc/forbidden/x"], capsys)
    assert code == 2 and len(err) == 1 and err[0].startswith("error:"), err
    assert not Path("/proc/forbidden").exists()


def test_out_that_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    existing = tmp_path / "notes.txt"
    existing.write_text("mine\n")
    code, err = run(build.main, ["--out", str(existing)], capsys)
    assert code == 2 and len(err) == 1 and err[0].startswith("error:"), err
    assert existing.read_text() == "mine\n"


def test_out_folder_it_did_not_make_is_left_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    theirs = tmp_path / "thesis"
    theirs.mkdir()
    (theirs / "chapter1.tex").write_text("keep\n")
    code, err = run(build.main, ["--out", str(theirs)], capsys)
    assert code == 2 and len(err) == 1 and "did not make" in err[0], err
    assert [p.name for p in theirs.iterdir()] == ["chapter1.tex"]


def test_missing_deck(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code, err = run(slides_check.main, [str(tmp_path / "nope.md")], capsys)
    assert code == 2 and len(err) == 1 and err[0].startswith("error:") and "nope.md" in err[0], err
