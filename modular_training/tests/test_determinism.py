"""The seeds behind the resume fixes: one stream per kind of randomness, no seed shared."""

import torch
from modular_training.determinism import DROPOUT, SHUFFLE, EpochSeededSampler, stream_seed


def test_shuffle_and_dropout_never_share_a_seed():
    """Epoch k's shuffle and step k's dropout used to be seeded alike; now streams keep them apart."""
    shuffle = {stream_seed(0, SHUFFLE, k) for k in range(2000)}
    dropout = {stream_seed(0, DROPOUT, k) for k in range(2000)}
    assert len(shuffle) == len(dropout) == 2000 and not shuffle & dropout


def test_seed_and_counter_do_not_trade_places():
    """(seed 1, step 0) is not (seed 0, step 1): no run's randomness is a shifted copy of another's."""
    seeds = {stream_seed(s, DROPOUT, k) for s in range(20) for k in range(200)}
    assert len(seeds) == 20 * 200


def test_sampler_order_is_a_pure_function_of_seed_and_epoch():
    sampler = EpochSeededSampler(100, seed=3)
    sampler.set_epoch(4)
    first = list(sampler)
    torch.manual_seed(999)  # the global RNG plays no part
    again = EpochSeededSampler(100, seed=3)
    again.set_epoch(4)
    assert list(again) == first and sorted(first) == list(range(100))
    again.set_epoch(5)
    assert list(again) != first
