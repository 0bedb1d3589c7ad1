"""Train/validation/test splits: the stratified validation split carved out of the training set
and the limits (limit_train, limit_test) of smoke runs.
"""

from __future__ import annotations

import numpy as np

from resnet_nas.config import DataConfig
from resnet_nas.data.dataset import DataError, DataFacts, Dataset, RawData, RawLabels


#: Subsampling the test split (limit_test) must not depend on the seed either.
_TEST_LIMIT_SEED = 7_919


def stratified_split(y: np.ndarray, n_held: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Splits indices of `y` into (kept, held out) with class proportions preserved.

    Each class contributes round-down of its share of `n_held`; the leftover examples go to the
    classes with the largest remainders, so exactly `n_held` are held out.

    Args:
      y: integer labels, shape (N,).
      n_held: how many examples to hold out, 0..N.
      seed: seeds the choice within each class.

    Returns:
      (kept, held): sorted int64 index arrays, disjoint, together covering 0..N-1.
    """
    y = np.asarray(y)
    if not 0 <= n_held <= len(y):
        raise ValueError(f"stratified_split: cannot hold out {n_held} of {len(y)} examples")
    classes, counts = np.unique(y, return_counts=True)
    quota = counts * (n_held / max(len(y), 1))
    take = np.floor(quota).astype(np.int64)
    leftover = n_held - int(take.sum())
    # Stable sort: ties go to the lower class label, which keeps the split deterministic.
    order = np.argsort(-(quota - take), kind="stable")
    take[order[:leftover]] += 1
    rng = np.random.default_rng(seed)
    kept, held = [], []
    for cls, n in zip(classes, take):
        idx = rng.permutation(np.flatnonzero(y == cls))
        held.append(idx[:n])
        kept.append(idx[n:])
    empty = np.zeros(0, np.int64)
    return (np.sort(np.concatenate(kept or [empty])).astype(np.int64),
            np.sort(np.concatenate(held or [empty])).astype(np.int64))


def split_indices(name: str, y_train: np.ndarray, y_test: np.ndarray, cfg: DataConfig,
                  seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which published examples each split takes: (train, validation) indices into the
    published training set, test indices into the published test set.

    The validation split is carved out of the training set (stratified, seeded by `seed`),
    then the limits apply (limit_train shrinks validation in proportion; limit_test does not
    depend on the seed).
    """
    n = len(y_train)
    n_val = int(round(cfg.validation_split * n))
    if n_val < 1 or n_val >= n:
        raise DataError(f"{name}: validation_split={cfg.validation_split} of {n} training "
                        f"examples leaves {n_val} for validation and {n - n_val} for training; "
                        "both need at least one")
    train_idx, val_idx = stratified_split(y_train, n_val, seed)
    if cfg.limit_train is not None and cfg.limit_train < len(train_idx):
        sub = stratified_subset(y_train[train_idx], cfg.limit_train, (seed, 1))
        train_idx = train_idx[sub]
        frac = cfg.validation_split
        val_limit = max(1, int(round(cfg.limit_train * frac / (1.0 - frac))))
        if val_limit < len(val_idx):
            val_idx = val_idx[stratified_subset(y_train[val_idx], val_limit, (seed, 2))]
    test_idx = np.arange(len(y_test))
    if cfg.limit_test is not None and cfg.limit_test < len(test_idx):
        test_idx = stratified_subset(y_test, cfg.limit_test, _TEST_LIMIT_SEED)
    return train_idx, val_idx, test_idx


def _labels(y: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(y, dtype=np.int32)


def split_dataset(name: str, raw: RawData, cfg: DataConfig, seed: int) -> Dataset:
    """Carves the validation split out of the training set, then applies the limits."""
    train_idx, val_idx, test_idx = split_indices(name, raw.y_train, raw.y_test, cfg, seed)
    return Dataset(
        name=name,
        x_train=np.ascontiguousarray(raw.x_train[train_idx]),
        y_train=_labels(raw.y_train[train_idx]),
        x_val=np.ascontiguousarray(raw.x_train[val_idx]),
        y_val=_labels(raw.y_train[val_idx]),
        x_test=np.ascontiguousarray(raw.x_test[test_idx]),
        y_test=_labels(raw.y_test[test_idx]),
        num_classes=len(raw.class_names),
        class_names=list(raw.class_names),
    )


def split_facts(name: str, raw: RawLabels, cfg: DataConfig, seed: int) -> DataFacts:
    """What split_dataset gives of the same data, config and seed, less the pixels."""
    if len(raw.train_shape) != 4:
        raise DataError(f"{name}: expected NHWC training images, found shape {raw.train_shape}")
    for split, shape, y in (("train", raw.train_shape, raw.y_train),
                            ("test", raw.test_shape, raw.y_test)):
        if len(y) != shape[0]:
            raise DataError(f"{name}: {shape[0]} {split} images but {len(y)} {split} labels")
    train_idx, val_idx, test_idx = split_indices(name, raw.y_train, raw.y_test, cfg, seed)
    h, w, c = raw.train_shape[1:]
    return DataFacts(name=name, input_shape=(int(h), int(w), int(c)),
                     class_names=list(raw.class_names), y_train=_labels(raw.y_train[train_idx]),
                     y_val=_labels(raw.y_train[val_idx]), y_test=_labels(raw.y_test[test_idx]))


def stratified_subset(y: np.ndarray, n: int, seed) -> np.ndarray:
    """Sorted indices of a stratified sample of `n` of the labels `y`."""
    rng_seed = int(np.random.SeedSequence(seed).generate_state(1)[0])
    return stratified_split(y, n, rng_seed)[1]
