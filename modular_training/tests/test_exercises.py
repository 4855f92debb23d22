"""Every exercise's checker fails on the untouched starter (with its learner-facing message) and
passes with `solution/` applied; for exercise 01 a differently written answer passes too.

The checkers run as a learner runs them (`python -m pytest <folder>` from the topic folder), on
copies made by conftest, one interpreter per exercise, in the background while other tests work.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from conftest import EXERCISE_FIXTURES, EXERCISES, TOPIC

# What the checker says on the untouched starter.
STARTER_MESSAGE = {
    "01-resume-bit-identical": "the resumed run ended with other weights",
    "02-config-hyperparameter": "the model built from config.yaml is 32 units wide, not 64",
    "03-seed-two-runs": "train(0) twice gave different weights",
}


def outcomes(jobs, name: str) -> dict[str, str]:
    """kind of copy ("starter", "solution", "other") -> "passed", or the failure message."""
    rc, stdout, stderr = jobs[f"exercise {name}"].result()
    assert rc in (0, 1), stdout[-3000:] + stderr[-2000:]  # 1 = some test failed, as expected
    result = {}
    for case in ET.parse(jobs.root / "exercises" / f"{name}.xml").iter("testcase"):
        kind = case.get("classname", "").split(".")[-2]  # <kind>.test_exercise
        failure = case.find("failure")
        problem = failure if failure is not None else case.find("error")
        result[kind] = (
            "passed" if problem is None else problem.get("message", "") + (problem.text or "")
        )
    return result


def test_every_exercise_is_listed():
    names = sorted(p.name for p in EXERCISES.iterdir() if p.is_dir())
    assert names == sorted(STARTER_MESSAGE)
    readme = (TOPIC / "README.md").read_text()
    for name in names:
        assert f"exercises/{name}" in readme, name
        starters = [p for p in (EXERCISES / name).iterdir() if p.is_file() and p.suffix != ".md"]
        assert any("TODO (exercise)" in p.read_text() for p in starters), name


@pytest.mark.parametrize("name", sorted(STARTER_MESSAGE))
def test_checker_fails_on_the_starter_and_passes_with_the_solution(name, jobs):
    result = outcomes(jobs, name)
    assert STARTER_MESSAGE[name] in result["starter"], result["starter"][-2000:]
    assert "Traceback" not in result["starter"]
    assert result["solution"] == "passed", result["solution"][-3000:]


@pytest.mark.parametrize("name", sorted(p.name for p in EXERCISE_FIXTURES.iterdir()))
def test_checker_passes_with_another_correct_answer(name, jobs):
    assert outcomes(jobs, name)["other"] == "passed"
