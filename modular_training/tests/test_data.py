"""The split: disjoint on the data itself, fixed by split_seed alone, and the test loader serves it."""

import numpy as np
import torch
from modular_training.data import load_digits_arrays, load_splits
from modular_training.step3_lightning import DigitsDataModule


def rows(x: torch.Tensor) -> set[bytes]:
    return {r.tobytes() for r in x.numpy()}


def test_splits_are_disjoint_and_cover_the_data():
    s = load_splits()
    train, val, test = rows(s.x_train), rows(s.x_val), rows(s.x_test)
    # Checked on the images themselves: no image is in two splits.
    assert not train & val and not train & test and not val & test
    x, _ = load_digits_arrays()
    assert len(np.unique(x, axis=0)) == len(x)  # digits has no duplicate images, so rows = samples
    assert train | val | test == rows(torch.from_numpy(x))
    assert (len(s.x_train), len(s.x_val), len(s.x_test)) == (1257, 270, 270)


def test_split_depends_on_split_seed_only():
    torch.manual_seed(123)
    np.random.seed(123)
    a = load_splits(split_seed=0)
    torch.manual_seed(999)  # the global RNGs must not move the split
    np.random.seed(999)
    b = load_splits(split_seed=0)
    c = load_splits(split_seed=1)
    assert all(torch.equal(p, q) for p, q in zip(a.tensors(), b.tensors(), strict=True))
    assert not torch.equal(a.x_test, c.x_test)


def test_test_dataloader_serves_the_held_out_split():
    dm = DigitsDataModule()
    dm.setup("fit")
    x_test = torch.cat([xb for xb, _ in dm.test_dataloader()])
    x_val = torch.cat([xb for xb, _ in dm.val_dataloader()])
    assert torch.equal(x_test, dm.splits.x_test)
    assert torch.equal(x_val, dm.splits.x_val)
    assert not rows(x_test) & rows(dm.splits.x_train)
