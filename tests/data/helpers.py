"""Shared helpers of the data tests."""

from __future__ import annotations

import numpy as np

from resnet_nas.data import Dataset


def assert_same(a: Dataset, b: Dataset) -> None:
    for key in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key), err_msg=key)
    assert a.class_names == b.class_names


def example_rows(x: np.ndarray, y: np.ndarray) -> list[bytes]:
    """Each example as bytes (image + label), sorted: compares splits as multisets."""
    return sorted(xi.tobytes() + int(yi).to_bytes(2, "little") for xi, yi in zip(x, y))
