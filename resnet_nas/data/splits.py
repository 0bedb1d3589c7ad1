"""Train/validation/test splits: the stratified validation split carved out of the training set
and the limits (limit_train, limit_test) of smoke runs.
"""

from __future__ import annotations

import numpy as np

from resnet_nas.config import DataConfig
from resnet_nas.data.dataset import DataError, DataFacts, Dataset, RawData, RawLabels
from resnet_nas.data.files import FileSource, FileSplit


#: Subsampling the test split (limit_test) must not depend on the seed either.
_TEST_LIMIT_SEED = 7_919
#: A split with more unreadable images than this fraction is refused (a few corrupt files
#: are skipped with a warning; more means the data set is broken, not a file).
MAX_SKIPPED_FRACTION = 0.01


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


def check_skipped(split: str, skipped: list[str], total: int) -> None:
    """Refuses a published split (its files: 'train' is the training and validation splits'
    together) with more than MAX_SKIPPED_FRACTION of its images unreadable.

    Raises:
      DataError: naming how many and the first few.
    """
    if total and len(skipped) > MAX_SKIPPED_FRACTION * total:
        head = "; ".join(skipped[:5]) + (" ..." if len(skipped) > 5 else "")
        raise DataError(f"{len(skipped)} of the {total} images of the {split} split are "
                        f"unreadable (more than {MAX_SKIPPED_FRACTION:.0%}): {head}")


def _readable(idx: np.ndarray, ok: np.ndarray | None, skipped: dict[int, str], split: str,
              out: dict[str, list[str]]) -> np.ndarray:
    if ok is None:
        out[split] = []
        return idx
    keep = ok[idx]
    out[split] = [skipped.get(int(i), str(i)) for i in idx[~keep]]
    return idx[keep]


def split_dataset(name: str, raw: RawData, cfg: DataConfig, seed: int) -> Dataset:
    """Carves the validation split out of the training set, then applies the limits; images
    that did not decode (RawData.ok_*) are left out of the splits they fell in.

    Raises:
      DataError: a split with more than MAX_SKIPPED_FRACTION of its images unreadable.
    """
    train_idx, val_idx, test_idx = split_indices(name, raw.y_train, raw.y_test, cfg, seed)
    names = {s: {i: n for sp, i, n in raw.skipped if sp == s} for s in ("train", "test")}
    for split, ok in (("train", raw.ok_train), ("test", raw.ok_test)):
        if ok is not None:  # the published split's files, whatever the limits take of them
            check_skipped(split, list(names[split].values()), len(ok))
    skipped: dict[str, list[str]] = {}
    train_idx = _readable(train_idx, raw.ok_train, names["train"], "train", skipped)
    val_idx = _readable(val_idx, raw.ok_train, names["train"], "val", skipped)
    test_idx = _readable(test_idx, raw.ok_test, names["test"], "test", skipped)
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
        skipped=skipped,
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
                     y_val=_labels(raw.y_train[val_idx]), y_test=_labels(raw.y_test[test_idx]),
                     channels=int(c), preprocessing=_preprocessing(cfg, True))


def _preprocessing(cfg: DataConfig, one_size: bool) -> str:
    if cfg.preprocessing != "auto":
        return cfg.preprocessing
    return "cifar" if one_size else "inception"


def split_files(source: FileSource, cfg: DataConfig, seed: int
                ) -> tuple[FileSplit, FileSplit, FileSplit]:
    """The train, validation and test splits of a data set on disk, as files: the
    validation split held out of the training files (stratified, seeded), as split_dataset
    does with arrays."""
    train_idx, val_idx, test_idx = split_indices(source.where, source.train.labels,
                                                 source.test.labels, cfg, seed)
    return (source.train.subset(train_idx), source.train.subset(val_idx),
            source.test.subset(test_idx))


def file_facts(source: FileSource, cfg: DataConfig, seed: int) -> DataFacts:
    """What the trials of a data set on disk get, less the pixels."""
    train, val, test = split_files(source, cfg, seed)
    return DataFacts(name=cfg.name, input_shape=source.probe.shape,
                     class_names=list(source.class_names), y_train=_labels(train.labels),
                     y_val=_labels(val.labels), y_test=_labels(test.labels), resizable=True,
                     channels=source.probe.channels,
                     preprocessing=_preprocessing(cfg, source.probe.shape is not None))


def stratified_subset(y: np.ndarray, n: int, seed) -> np.ndarray:
    """Sorted indices of a stratified sample of `n` of the labels `y`."""
    rng_seed = int(np.random.SeedSequence(seed).generate_state(1)[0])
    return stratified_split(y, n, rng_seed)[1]
