"""Shared helpers of the data tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from resnet_nas.data import Dataset


def assert_same(a: Dataset, b: Dataset) -> None:
    for key in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key), err_msg=key)
    assert a.class_names == b.class_names


def example_rows(x: np.ndarray, y: np.ndarray) -> list[bytes]:
    """Each example as bytes (image + label), sorted: compares splits as multisets."""
    return sorted(xi.tobytes() + int(yi).to_bytes(2, "little") for xi, yi in zip(x, y))


def image_pixel(cls: int, i: int) -> tuple[int, int, int]:
    return (40 * cls + 10, 17 * i % 256, 200)


def make_image_folder(root: Path, classes=("cat", "dog", "ant"), n_train=5, n_test=2,
                 test_classes=None, size=(6, 5), mode="RGB") -> Path:
    """train/<class>/i.png (lossless, class-coded colour) and test/<class>/i.png under root."""
    for split, names, n in (("train", classes, n_train), ("test", test_classes or classes,
                                                          n_test)):
        for name in names:
            d = root / split / name
            d.mkdir(parents=True, exist_ok=True)
            cls = sorted(classes).index(name) if name in classes else 9
            for i in range(n):
                colour = image_pixel(cls, i)
                img = Image.new("RGB", size, colour)
                if mode == "L":
                    img = Image.new("L", size, colour[0])
                img.save(d / f"{i:03d}.png")
    return root
