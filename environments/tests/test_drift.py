"""The same unpinned requirement resolves to two versions over time; the lock keeps the first."""

from __future__ import annotations

import json

import pytest
from conftest import NO_NETWORK, TOPIC, needs_uv, run_module
from environments.drift import build_wheel


@pytest.fixture(scope="module")
def drift(tmp_path_factory):
    """One run of the demo CLI with the network blocked; its drift.json and figure."""
    out = tmp_path_factory.mktemp("drift")
    figure = str(out / "drift.png")
    done = run_module("environments.drift", "--out", str(out), "--figure", figure, env=NO_NETWORK)
    assert done.returncode == 0, done.stderr
    return json.loads((out / "drift.json").read_text()), out, done.stdout


@needs_uv
def test_unpinned_resolution_drifts_and_lock_holds(drift):
    result, _, _ = drift
    assert result["day1"] == {"uv.lock": "1.0.0", "unpinned": "1.0.0"}
    assert result["day2"]["unpinned"] == "1.1.0"  # a fresh resolve picks the new release
    assert result["day2"]["uv.lock"] == "1.0.0"  # the lock did not move
    assert result["day2"]["locked_install"]["version"] == "1.0.0"
    assert result["day2"]["unpinned_install"]["version"] == "1.1.0"
    assert result["day3"]["uv.lock"] == "1.1.0"  # until the upgrade is asked for


@needs_uv
def test_same_code_same_data_different_number(drift):
    result, out, stdout = drift
    locked = result["day2"]["locked_install"]["spread"]
    unpinned = result["day2"]["unpinned_install"]["spread"]
    assert locked == pytest.approx(2.0)  # population std of the data
    assert unpinned == pytest.approx((32 / 7) ** 0.5)  # sample std: the 1.1.0 behaviour
    assert "2.000" in stdout and "2.138" in stdout
    assert (out / "drift.png").stat().st_size > 5_000


@needs_uv
@pytest.mark.parametrize("document", ["README.md", "slides.md"])
def test_docs_show_the_table_the_demo_prints(drift, document):
    """Every row of the drift table in the docs is a row the demo printed (the numbers are pure
    arithmetic on fixed data, the same on every machine)."""
    _, _, stdout = drift
    printed = {line.rstrip() for line in stdout.splitlines()}
    rows = [
        line.rstrip()
        for line in (TOPIC / document).read_text().splitlines()
        if line.startswith("day ")
    ]
    assert len(rows) >= 5 and any("2.138" in row for row in rows)
    assert [row for row in rows if row not in printed] == []


def test_wheels_are_byte_reproducible(tmp_path):
    """Fixed timestamps: the same wheel (and so the same hash in the lock) on every build."""
    a = build_wheel("1.0.0", tmp_path / "a").read_bytes()
    b = build_wheel("1.0.0", tmp_path / "b").read_bytes()
    assert a == b
    assert a != build_wheel("1.1.0", tmp_path / "c").read_bytes()
