"""Resume = uninterrupted, bit for bit, after epoch 1 and mid-epoch, with 0 and 2 workers - and the
naive setup does not get there (the lesson is visible, not just asserted)."""

import pytest
from modular_training.resume import FIXED, NAIVE, NO_21938_WORKAROUND, compare


@pytest.mark.parametrize("workers", [0, 2])
def test_fixed_setup_resumes_to_identical_weights(workers, tmp_path):
    hashes = compare(tmp_path, FIXED, workers)
    assert len(set(hashes.values())) == 1, hashes


def test_naive_setup_does_not_resume_to_identical_weights(tmp_path):
    hashes = compare(tmp_path, NAIVE, workers=0)
    reference = hashes.pop("uninterrupted")
    for label, digest in hashes.items():
        assert digest != reference, f"naive resume ({label}) unexpectedly matched"


def test_without_the_21938_workaround_resume_differs(tmp_path):
    """Lightning >= 2.5.3 builds the first resumed epoch's iterator before `set_epoch`."""
    hashes = compare(tmp_path, NO_21938_WORKAROUND, workers=0)
    reference = hashes.pop("uninterrupted")
    assert all(digest != reference for digest in hashes.values()), hashes
