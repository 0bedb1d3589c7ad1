"""Synthetic data, and the Dataset type's own checks."""

from __future__ import annotations

import numpy as np
import pytest

from resnet_nas.config import DataConfig
from resnet_nas.data import Dataset, load_dataset, make_synthetic
from tests.data.helpers import assert_same

# ---------------------------------------------------------------------------------------------
# synthetic
# ---------------------------------------------------------------------------------------------

def test_synthetic_is_seeded_balanced_and_learnable():
    ds = make_synthetic(n_train=200, n_test=80, shape=(12, 10, 3), num_classes=4, seed=3)
    assert ds.input_shape == (12, 10, 3) and len(ds.x_train) == 200 and len(ds.x_val) == 50
    assert len(ds.x_test) == 80 and ds.x_train.dtype == np.uint8
    assert np.all(np.bincount(ds.y_test, minlength=4) == 20)
    assert_same(ds, make_synthetic(n_train=200, n_test=80, shape=(12, 10, 3), num_classes=4,
                                    seed=3))
    other = make_synthetic(n_train=200, n_test=80, shape=(12, 10, 3), num_classes=4, seed=4)
    assert not np.array_equal(ds.x_train, other.x_train)
    # Learnable: a nearest-class-mean classifier fit on train does well on test; chance is 25%.
    means = np.stack([ds.x_train[ds.y_train == k].reshape(-1, 120 * 3).mean(0)
                      for k in range(4)])
    dist = ((ds.x_test.reshape(80, -1)[:, None, :] - means[None]) ** 2).sum(-1)
    assert (dist.argmin(1) == ds.y_test).mean() > 0.9
    gray = make_synthetic(n_train=20, n_test=8, shape=(8, 8, 1), num_classes=2, n_val=6)
    assert gray.input_shape == (8, 8, 1) and len(gray.x_val) == 6
    with pytest.raises(ValueError, match="num_classes"):
        make_synthetic(num_classes=1)


def test_synthetic_data_set_via_load_dataset():
    ds = load_dataset(DataConfig(name="synthetic", validation_split=0.25), seed=2)
    assert ds.input_shape == (16, 16, 3) and ds.num_classes == 4
    assert len(ds.x_train) + len(ds.x_val) == 480 and len(ds.x_val) == 120
    # Data is fixed; only the split depends on the seed.
    other = load_dataset(DataConfig(name="synthetic", validation_split=0.25), seed=3)
    np.testing.assert_array_equal(ds.x_test, other.x_test)
    assert not np.array_equal(ds.x_val, other.x_val)


def test_dataset_rejects_inconsistent_arrays():
    x = np.zeros((4, 2, 2, 1), np.uint8)
    y = np.zeros(4, np.int32)
    with pytest.raises(ValueError, match="y_val must have shape"):
        Dataset("t", x, y, x, y[:3], x, y, 1, ["a"])
    with pytest.raises(ValueError, match="uint8 NHWC"):
        Dataset("t", x.astype(np.float32), y, x, y, x, y, 1, ["a"])


