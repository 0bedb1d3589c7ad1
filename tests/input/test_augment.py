"""Numpy augmentation (resnet_nas.input.augment) and the checks of in-memory data
(resnet_nas.input.arrays)."""

from __future__ import annotations

import numpy as np
import pytest

from resnet_nas.config import AugmentConfig, TrainConfig
from resnet_nas.input import ArrayInput
from resnet_nas.input.augment import crop_flip_numpy, random_augment_numpy, steps_per_epoch
from tests.train.helpers import make_data


def test_crop_at_the_centre_without_flip_is_the_identity():
    x = np.random.default_rng(0).integers(0, 256, (3, 6, 5, 3), dtype=np.uint8)
    out = crop_flip_numpy(x, np.full((3, 2), 2), np.zeros(3, bool), 2, "reflect")
    np.testing.assert_array_equal(out, x)


def test_corner_crop_reflect_and_zero_padding_and_flip():
    x = np.arange(16, dtype=np.uint8).reshape(1, 4, 4, 1)
    top_left = crop_flip_numpy(x, np.zeros((1, 2), int), np.zeros(1, bool), 1, "reflect")
    # reflect padding of row [0 1 2 3] by one is [1 0 1 2 3 2]; the crop keeps [1 0 1 2].
    np.testing.assert_array_equal(top_left[0, 1, :, 0], [1, 0, 1, 2])
    np.testing.assert_array_equal(top_left[0, 0, :, 0], [5, 4, 5, 6])  # reflected row 1
    zero = crop_flip_numpy(x, np.zeros((1, 2), int), np.zeros(1, bool), 1, "zero")
    assert zero[0, 0].sum() == 0 and zero[0, :, 0].sum() == 0
    np.testing.assert_array_equal(zero[0, 1:, 1:, 0], x[0, :3, :3, 0])
    flipped = crop_flip_numpy(x, np.zeros((1, 2), int), np.ones(1, bool), 0, "reflect")
    np.testing.assert_array_equal(flipped[0, :, :, 0], x[0, :, ::-1, 0])


def test_random_augmentation_draws_per_example():
    x = np.repeat(np.random.default_rng(1).integers(0, 256, (1, 8, 8, 3), dtype=np.uint8), 64, 0)
    out = random_augment_numpy(x, np.random.default_rng(0), AugmentConfig(4, True))
    assert len({img.tobytes() for img in out}) > 20
    same = random_augment_numpy(x, np.random.default_rng(0), AugmentConfig(0, False))
    assert same is x


def test_per_batch_augmentation_moves_every_example_alike():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (8, 8, 8, 3), dtype=np.uint8)
    cfg = AugmentConfig(4, True, per_example=False)
    seen = set()
    for seed in range(12):
        out = random_augment_numpy(x, np.random.default_rng(seed), cfg)
        # One offset and one flip for the batch: the batch equals one crop_flip of all of it.
        matches = [(r, c, f) for r in range(9) for c in range(9) for f in (False, True)
                   if np.array_equal(out, crop_flip_numpy(x, np.full((8, 2), (r, c)),
                                                          np.full(8, f), 4, "reflect"))]
        assert matches, "the batch was not moved by one shared offset/flip"
        seen.add(matches[0])
    assert len(seen) > 3  # ... and the shared draw changes between batches


# -- checks -----------------------------------------------------------------------------------


def test_steps_per_epoch_drops_the_ragged_batch_and_rejects_a_too_large_batch():
    assert steps_per_epoch(100, 32) == 3
    with pytest.raises(ValueError, match="batch_size.*at most the 10 training examples"):
        steps_per_epoch(10, 32)


def test_check_dataset_names_the_bad_field():
    data = make_data(n_train=64, n_val=16)
    cfg = TrainConfig(batch_size=16)
    ArrayInput(data).check(cfg)
    data.x_val = data.x_val.astype(np.float32)
    with pytest.raises(ValueError, match="x_val: expected uint8 NHWC"):
        ArrayInput(data).check(cfg)
    data = make_data(n_train=64, n_val=16)
    data.y_train = data.y_train + 10
    with pytest.raises(ValueError, match=r"y_train: expected labels in \[0, 4\)"):
        ArrayInput(data).check(cfg)
    data = make_data(n_train=64, n_val=16, size=4)
    with pytest.raises(ValueError, match="reflect padding"):
        ArrayInput(data).check(TrainConfig(batch_size=16,
                                           augment=AugmentConfig(crop_padding=4)))
