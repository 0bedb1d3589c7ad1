"""Synthetic data: small, learnable random images for tests and smoke runs."""

from __future__ import annotations

import numpy as np

from resnet_nas.data.dataset import Dataset, RawData
from resnet_nas.data.splits import stratified_split


#: 'synthetic' data set served by load_dataset: fixed data, the seed only moves the split.
SYNTHETIC_SHAPE = (16, 16, 3)


SYNTHETIC_CLASSES = 4


SYNTHETIC_TRAIN = 480


SYNTHETIC_TEST = 160


SYNTHETIC_DATA_SEED = 1_234


def make_synthetic(n_train: int = 256, n_test: int = 64,
                   shape: tuple[int, int, int] = (16, 16, 3), num_classes: int = 4,
                   seed: int = 0, n_val: int | None = None) -> Dataset:
    """Random but learnable data: a smooth per-class mean image plus noise.

    A nearest-class-mean classifier gets almost all of it right, so a tiny network learns it in
    a few epochs; the classes are balanced.

    Args:
      n_train: training examples (after the validation split).
      n_test: test examples.
      shape: (height, width, channels) of one image.
      num_classes: number of classes (>= 2).
      seed: seeds the class patterns and the noise.
      n_val: validation examples; default max(num_classes, n_train // 4).

    Returns:
      A Dataset named 'synthetic'.
    """
    if n_val is None:
        n_val = max(num_classes, n_train // 4)
    for key, value, minimum in (("n_train", n_train, 1), ("n_test", n_test, 1),
                                ("n_val", n_val, 1), ("num_classes", num_classes, 2)):
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"make_synthetic: {key} must be an integer >= {minimum}, "
                             f"found {value!r}")
    if len(shape) != 3 or any(int(s) < 1 for s in shape) or shape[2] not in (1, 3):
        raise ValueError(f"make_synthetic: shape must be (height, width, 1 or 3), found {shape!r}")
    raw = synthetic_raw(n_train + n_val, n_test, tuple(int(s) for s in shape), num_classes, seed)
    keep, held = stratified_split(raw.y_train, n_val, seed)
    return Dataset("synthetic", raw.x_train[keep], raw.y_train[keep], raw.x_train[held],
                   raw.y_train[held], raw.x_test, raw.y_test, num_classes, raw.class_names)


def synthetic_raw(n_train: int, n_test: int, shape: tuple[int, int, int], num_classes: int,
                   seed: int) -> RawData:
    h, w, c = shape
    rng = np.random.default_rng(seed)
    # Smooth class patterns: a coarse random grid blown up to full size (nearest neighbour), so
    # that the signal is spatial and survives convolutions and pooling.
    gh, gw = min(4, h), min(4, w)
    coarse = rng.uniform(-70.0, 70.0, size=(num_classes, gh, gw, c))
    rows = np.arange(h) * gh // h
    cols = np.arange(w) * gw // w
    means = 128.0 + coarse[:, rows][:, :, cols]

    def sample(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.permutation(np.arange(n) % num_classes).astype(np.int32)
        noise = rng.normal(0.0, 40.0, size=(n, h, w, c))
        brightness = rng.normal(0.0, 10.0, size=(n, 1, 1, 1))
        x = np.clip(np.round(means[y] + noise + brightness), 0, 255).astype(np.uint8)
        return x, y

    x_train, y_train = sample(n_train)
    x_test, y_test = sample(n_test)
    return RawData(x_train, y_train, x_test, y_test, [f"class_{k}" for k in range(num_classes)])
