"""Splits and limits: the stratified validation split, limit_train / limit_test, and the
normalisation statistics."""

from __future__ import annotations

import numpy as np
import pytest

from resnet_nas.config import DataConfig
from resnet_nas.data import load_dataset, normalization_stats, stratified_split
from resnet_nas.validation import ConfigError
from tests.data.helpers import assert_same, example_rows

# ---------------------------------------------------------------------------------------------
# stratified_split / normalization_stats
# ---------------------------------------------------------------------------------------------

def test_stratified_split_is_a_partition_with_class_proportions():
    y = np.repeat(np.arange(3), [50, 30, 20])
    kept, held = stratified_split(y, 25, seed=3)
    assert len(held) == 25 and len(kept) == 75
    assert np.intersect1d(kept, held).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([kept, held])), np.arange(100))
    # 25% of each class: 12.5 / 7.5 / 5 -> the largest remainders get the leftover example.
    counts = np.bincount(y[held], minlength=3)
    assert counts.sum() == 25 and abs(counts[0] - 12.5) <= 0.5 and abs(counts[1] - 7.5) <= 0.5
    assert counts[2] == 5
    np.testing.assert_array_equal(stratified_split(y, 25, seed=3)[1], held)
    assert not np.array_equal(stratified_split(y, 25, seed=4)[1], held)
    with pytest.raises(ValueError, match="cannot hold out 101"):
        stratified_split(y, 101, seed=0)


def test_normalization_stats_matches_numpy():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(20, 5, 6, 3), dtype=np.uint8)
    x[..., 2] = 7  # constant channel: std is floored at 1, not 0
    mean, std = normalization_stats(x)
    assert mean.dtype == np.float32 and std.dtype == np.float32 and mean.shape == (3,)
    np.testing.assert_allclose(mean, x.reshape(-1, 3).mean(0), rtol=1e-6)
    np.testing.assert_allclose(std[:2], x.reshape(-1, 3).std(0)[:2], rtol=1e-5)
    assert std[2] == 1.0 and mean[2] == 7.0
    with pytest.raises(ValueError, match="NHWC"):
        normalization_stats(np.zeros((4, 4), np.uint8))

def test_limits_subsample_stratified_and_deterministically():
    cfg = DataConfig(name="digits", validation_split=0.2, limit_train=100, limit_test=50)
    a = load_dataset(cfg, seed=0)
    assert len(a.x_train) == 100 and len(a.x_test) == 50
    assert len(a.x_val) == 25  # shrunk in proportion: 100 * 0.2 / 0.8
    np.testing.assert_array_equal(np.bincount(a.y_train, minlength=10), np.full(10, 10))
    assert np.all(np.bincount(a.y_test, minlength=10) == 5)
    assert_same(a, load_dataset(cfg, seed=0))
    b = load_dataset(cfg, seed=1)
    np.testing.assert_array_equal(a.x_test, b.x_test)  # test subsample ignores the seed
    assert not np.array_equal(a.x_train, b.x_train)
    # The limited test set is a subset of the full one.
    full = load_dataset(DataConfig(name="digits"), seed=0)
    assert set(example_rows(a.x_test, a.y_test)) <= set(example_rows(full.x_test, full.y_test))
    # A limit above the size is a no-op.
    big = load_dataset(DataConfig(name="digits", limit_train=10**6, limit_test=10**6))
    assert_same(big, full)


def test_bad_config_is_a_config_error():
    with pytest.raises(ConfigError, match="did you mean 'cifar10'"):
        load_dataset(DataConfig(name="cifar1"))
    with pytest.raises(ConfigError, match="validation_split"):
        load_dataset(DataConfig(validation_split=0.0))



# ---------------------------------------------------------------------------------------------
# dataset_facts: a Dataset's facts without its pixels
# ---------------------------------------------------------------------------------------------

def assert_facts_of(facts, data) -> None:
    assert facts.name == data.name and facts.input_shape == data.input_shape
    assert facts.class_names == data.class_names and facts.num_classes == data.num_classes
    for split in ("train", "val", "test"):
        y, expected = getattr(facts, f"y_{split}"), getattr(data, f"y_{split}")
        assert y.dtype == expected.dtype and y.flags.c_contiguous
        np.testing.assert_array_equal(y, expected)


@pytest.mark.parametrize("cfg", [
    DataConfig(name="digits"),
    DataConfig(name="digits", validation_split=0.3, limit_train=200, limit_test=50),
    DataConfig(name="synthetic", limit_train=40),
], ids=["digits", "digits-limits", "synthetic"])
@pytest.mark.parametrize("seed", [0, 3])
def test_the_facts_are_those_of_the_dataset_of_the_same_config_and_seed(cfg, seed):
    from resnet_nas.data import dataset_facts

    assert_facts_of(dataset_facts(cfg, seed), load_dataset(cfg, seed))


def test_facts_refuse_labels_that_do_not_match_the_images():
    from resnet_nas.data import DataError, RawLabels
    from resnet_nas.data.splits import split_facts

    raw = RawLabels((10, 4, 4, 3), np.zeros(9, np.int64), (2, 4, 4, 3), np.zeros(2, np.int64),
                    ["a"])
    with pytest.raises(DataError, match="10 train images but 9 train labels"):
        split_facts("x", raw, DataConfig(name="digits"), 0)
