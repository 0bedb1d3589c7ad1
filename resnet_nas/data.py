"""Data sets: loading, train/validation/test splits, and normalisation statistics.

Every loader returns uint8 images in NHWC layout and int32 labels. The search only ever sees
`x_train`/`x_val` (the validation split is carved out of the training set); `x_test` is the
official test split, reserved for the final evaluation of exported configurations.

Sources (`DataConfig.name`):
  digits         scikit-learn's bundled 8x8 digits; works offline (the default).
  cifar10/100,   Keras' standard download. The standard Keras cache (~/.keras/datasets or
  fashion_mnist  $KERAS_HOME/datasets) is read directly when present, so Keras is imported and the
                 network used only when the data set is not on disk yet.
  folder         train/<class>/*.{jpg,jpeg,png} and test/<class>/* in a directory or a .tar.gz;
                 decoded arrays are cached as .npz (CIFAR-10: ~7 s once, then ~0.4 s).
  synthetic      small, learnable random data for tests.

Keras / TensorFlow are imported only inside the download function (importing them costs seconds).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import re
import sys
import tarfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from resnet_nas.config import DataConfig
from resnet_nas.validation import ConfigError

__all__ = [
    "DataError",
    "Dataset",
    "load_dataset",
    "make_synthetic",
    "normalization_stats",
    "stratified_split",
    "default_cache_dir",
]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")

#: Bump when the layout of cached .npz files changes, so stale caches are ignored.
_CACHE_FORMAT = 1

#: The digits test split is fixed (independent of the search seed) so that test accuracies of
#: different runs are comparable.
_DIGITS_TEST_FRACTION = 0.2
_DIGITS_TEST_SEED = 20_170_731

#: Subsampling the test split (limit_test) must not depend on the seed either.
_TEST_LIMIT_SEED = 7_919

#: 'synthetic' data set served by load_dataset: fixed data, the seed only moves the split.
_SYNTHETIC_SHAPE = (16, 16, 3)
_SYNTHETIC_CLASSES = 4
_SYNTHETIC_TRAIN = 480
_SYNTHETIC_TEST = 160
_SYNTHETIC_DATA_SEED = 1_234

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck"]
FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                         "Sneaker", "Bag", "Ankle boot"]
CIFAR100_CLASSES = [
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle",
    "bottle", "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle",
    "caterpillar", "cattle", "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch",
    "crab", "crocodile", "cup", "dinosaur", "dolphin", "elephant", "flatfish", "forest", "fox",
    "girl", "hamster", "house", "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion",
    "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain", "mouse", "mushroom",
    "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
    "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road",
    "rocket", "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake",
    "spider", "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank",
    "telephone", "television", "tiger", "tractor", "train", "trout", "tulip", "turtle",
    "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
]


class DataError(ValueError):
    """Data on disk (or returned by a download) cannot be used; the message names the file."""


@dataclass
class Dataset:
    """A data set split three ways.

    Attributes:
      name: data set name (DataConfig.name).
      x_train, y_train: training images (uint8, NHWC) and int32 labels.
      x_val, y_val: validation split held out from the training set; used by the search.
      x_test, y_test: the official test split; only for the final evaluation of exported configs.
      num_classes: number of classes (labels are 0..num_classes-1).
      class_names: human-readable name of each label.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    class_names: list[str]

    def __post_init__(self) -> None:
        # Catch wiring mistakes here rather than as shape errors deep inside a Keras model.
        for split in ("train", "val", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if x.ndim != 4 or x.dtype != np.uint8:
                raise ValueError(f"{self.name}: x_{split} must be a uint8 NHWC array, "
                                 f"found {x.dtype} with shape {x.shape}")
            if y.shape != (len(x),):
                raise ValueError(f"{self.name}: y_{split} must have shape ({len(x)},), "
                                 f"found {y.shape}")
            if x.shape[1:] != self.x_train.shape[1:]:
                raise ValueError(f"{self.name}: x_{split} has image shape {x.shape[1:]}, "
                                 f"x_train has {self.x_train.shape[1:]}")
        if len(self.class_names) != self.num_classes:
            raise ValueError(f"{self.name}: {self.num_classes} classes but "
                             f"{len(self.class_names)} class names")

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(height, width, channels) of one image."""
        h, w, c = self.x_train.shape[1:]
        return int(h), int(w), int(c)

    def summary(self) -> str:
        """One line, e.g. 'digits: 1150 train / 288 val / 359 test, 8x8x1, 10 classes'."""
        h, w, c = self.input_shape
        return (f"{self.name}: {len(self.x_train)} train / {len(self.x_val)} val / "
                f"{len(self.x_test)} test, {h}x{w}x{c}, {self.num_classes} classes")


@dataclass
class _Raw:
    """A data set as published: the official train and test splits."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]


# --------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------

def load_dataset(cfg: DataConfig, seed: int = 0) -> Dataset:
    """Loads the data set described by `cfg` and splits off the validation set.

    Args:
      cfg: data settings; validated here.
      seed: seeds the (stratified) validation split and the limit_train subsample. The test
        split and its limit_test subsample do not depend on it.

    Returns:
      The Dataset. With `limit_train`, the validation split is shrunk in proportion
      (limit_train * validation_split / (1 - validation_split) examples) so that smoke runs stay
      small end to end.

    Raises:
      ConfigError: invalid settings or a missing `path`.
      DataError: unusable data (no images, corrupt image, class mismatch, failed download).
    """
    cfg.validate()
    if cfg.name == "digits":
        raw = _load_digits()
    elif cfg.name in _KERAS_DATASETS:
        raw = _load_keras_dataset(cfg.name)
    elif cfg.name == "folder":
        raw = _load_folder(cfg.path, _resolve_cache_dir(cfg.cache_dir))
    elif cfg.name == "synthetic":
        raw = _synthetic_raw(_SYNTHETIC_TRAIN, _SYNTHETIC_TEST, _SYNTHETIC_SHAPE,
                             _SYNTHETIC_CLASSES, _SYNTHETIC_DATA_SEED)
    else:  # pragma: no cover - cfg.validate() rejects other names
        raise ConfigError(None, "data.name", "a known data set", cfg.name)
    return _split(cfg.name, raw, cfg, seed)


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
    raw = _synthetic_raw(n_train + n_val, n_test, tuple(int(s) for s in shape), num_classes, seed)
    keep, held = stratified_split(raw.y_train, n_val, seed)
    return Dataset("synthetic", raw.x_train[keep], raw.y_train[keep], raw.x_train[held],
                   raw.y_train[held], raw.x_test, raw.y_test, num_classes, raw.class_names)


def normalization_stats(x_uint8: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation, in [0, 255] units.

    Computed in float64 over chunks (CIFAR-10 in float64 at once would need 1.2 GB).

    Args:
      x_uint8: images, NHWC (normally the training split).

    Returns:
      (mean, std), each float32 of shape (channels,). std is floored at 1.0 (one grey level) so
      that normalising a constant channel does not divide by zero.
    """
    x = np.asarray(x_uint8)
    if x.ndim != 4 or len(x) == 0:
        raise ValueError(f"normalization_stats: expected a non-empty NHWC array, "
                         f"found shape {x.shape}")
    flat = x.reshape(-1, x.shape[-1])
    chunk = 1 << 20
    total = np.zeros(flat.shape[1], np.float64)
    for start in range(0, len(flat), chunk):
        total += flat[start:start + chunk].sum(axis=0, dtype=np.float64)
    mean = total / len(flat)
    # Two passes rather than E[x^2] - E[x]^2, which loses precision when std << mean.
    sq = np.zeros(flat.shape[1], np.float64)
    for start in range(0, len(flat), chunk):
        diff = flat[start:start + chunk].astype(np.float64) - mean
        sq += np.einsum("ij,ij->j", diff, diff)
    std = np.maximum(np.sqrt(sq / len(flat)), 1.0)
    return mean.astype(np.float32), std.astype(np.float32)


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


def default_cache_dir() -> Path:
    """$RESNET_NAS_CACHE, else ~/.cache/resnet_nas."""
    env = os.environ.get("RESNET_NAS_CACHE")
    return Path(env).expanduser() if env else Path("~/.cache/resnet_nas").expanduser()


# --------------------------------------------------------------------------------------------
# Splitting and limits
# --------------------------------------------------------------------------------------------

def _split(name: str, raw: _Raw, cfg: DataConfig, seed: int) -> Dataset:
    """Carves the validation split out of the training set, then applies the limits."""
    n = len(raw.y_train)
    n_val = int(round(cfg.validation_split * n))
    if n_val < 1 or n_val >= n:
        raise DataError(f"{name}: validation_split={cfg.validation_split} of {n} training "
                        f"examples leaves {n_val} for validation and {n - n_val} for training; "
                        "both need at least one")
    train_idx, val_idx = stratified_split(raw.y_train, n_val, seed)
    if cfg.limit_train is not None and cfg.limit_train < len(train_idx):
        sub = _stratified_subset(raw.y_train[train_idx], cfg.limit_train, (seed, 1))
        train_idx = train_idx[sub]
        frac = cfg.validation_split
        val_limit = max(1, int(round(cfg.limit_train * frac / (1.0 - frac))))
        if val_limit < len(val_idx):
            val_idx = val_idx[_stratified_subset(raw.y_train[val_idx], val_limit, (seed, 2))]
    test_idx = np.arange(len(raw.y_test))
    if cfg.limit_test is not None and cfg.limit_test < len(test_idx):
        test_idx = _stratified_subset(raw.y_test, cfg.limit_test, _TEST_LIMIT_SEED)
    as_labels = lambda y: np.ascontiguousarray(y, dtype=np.int32)  # noqa: E731
    return Dataset(
        name=name,
        x_train=np.ascontiguousarray(raw.x_train[train_idx]),
        y_train=as_labels(raw.y_train[train_idx]),
        x_val=np.ascontiguousarray(raw.x_train[val_idx]),
        y_val=as_labels(raw.y_train[val_idx]),
        x_test=np.ascontiguousarray(raw.x_test[test_idx]),
        y_test=as_labels(raw.y_test[test_idx]),
        num_classes=len(raw.class_names),
        class_names=list(raw.class_names),
    )


def _stratified_subset(y: np.ndarray, n: int, seed) -> np.ndarray:
    """Sorted indices of a stratified sample of `n` of the labels `y`."""
    rng_seed = int(np.random.SeedSequence(seed).generate_state(1)[0])
    return stratified_split(y, n, rng_seed)[1]


# --------------------------------------------------------------------------------------------
# digits (scikit-learn, offline)
# --------------------------------------------------------------------------------------------

def _load_digits() -> _Raw:
    from sklearn.datasets import load_digits  # bundled with scikit-learn: no download

    bunch = load_digits()
    # Pixel values are 0..16; stretch to the 0..255 range every other data set uses.
    x = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    y = bunch.target.astype(np.int32)
    n_test = int(round(_DIGITS_TEST_FRACTION * len(y)))
    train, test = stratified_split(y, n_test, _DIGITS_TEST_SEED)
    return _Raw(x[train], y[train], x[test], y[test], [str(c) for c in range(10)])


# --------------------------------------------------------------------------------------------
# synthetic
# --------------------------------------------------------------------------------------------

def _synthetic_raw(n_train: int, n_test: int, shape: tuple[int, int, int], num_classes: int,
                   seed: int) -> _Raw:
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
    return _Raw(x_train, y_train, x_test, y_test, [f"class_{k}" for k in range(num_classes)])


# --------------------------------------------------------------------------------------------
# Keras data sets: standard cache first, keras.datasets download otherwise
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _KerasSpec:
    # Directories (relative to <keras home>/datasets) holding the extracted files. Keras 3
    # extracts into '<name>-target/<archive top folder>', tf.keras 2 directly into datasets/.
    dirs: tuple[str, ...]
    files: tuple[str, ...]


_KERAS_DATASETS: dict[str, _KerasSpec] = {
    "cifar10": _KerasSpec(
        dirs=("cifar-10-batches-py-target/cifar-10-batches-py", "cifar-10-batches-py"),
        files=tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)),
    "cifar100": _KerasSpec(
        dirs=("cifar-100-python-target/cifar-100-python", "cifar-100-python"),
        files=("train", "test")),
    "fashion_mnist": _KerasSpec(
        dirs=("fashion-mnist",),
        files=("train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz",
               "t10k-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz")),
}


def _keras_cache_roots() -> list[Path]:
    """Candidate '<keras home>/datasets' directories, in the order Keras itself would use."""
    roots: list[Path] = []
    if os.environ.get("KERAS_HOME"):
        roots.append(Path(os.environ["KERAS_HOME"]))
    # Keras reads KERAS_HOME once, at import time; if it is already imported, ask it.
    config = sys.modules.get("keras.src.backend.config")
    if config is not None and hasattr(config, "keras_home"):
        roots.append(Path(config.keras_home()))
    roots.append(Path("~/.keras"))
    # get_file falls back to /tmp/.keras when the keras home is not writable.
    roots.append(Path("/tmp/.keras"))
    unique: list[Path] = []
    for root in roots:
        path = root.expanduser() / "datasets"
        if path not in unique:
            unique.append(path)
    return unique


def _find_keras_cache(name: str) -> Path | None:
    spec = _KERAS_DATASETS[name]
    for root in _keras_cache_roots():
        for sub in spec.dirs:
            folder = root / sub
            if all((folder / f).is_file() for f in spec.files):
                return folder
    return None


def _load_keras_dataset(name: str) -> _Raw:
    folder = _find_keras_cache(name)
    if folder is not None:
        return _KERAS_READERS[name](folder)
    x_train, y_train, x_test, y_test = _keras_download(name)
    names = {"cifar10": CIFAR10_CLASSES, "cifar100": CIFAR100_CLASSES,
             "fashion_mnist": FASHION_MNIST_CLASSES}[name]
    return _Raw(_to_nhwc(x_train, name), _flat_labels(y_train), _to_nhwc(x_test, name),
                _flat_labels(y_test), list(names))


def _keras_download(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Calls keras.datasets.<name>.load_data(), which downloads into the Keras cache."""
    import keras  # deferred: importing Keras (and its backend) takes seconds

    module = {"cifar10": keras.datasets.cifar10, "cifar100": keras.datasets.cifar100,
              "fashion_mnist": keras.datasets.fashion_mnist}[name]
    try:
        (x_train, y_train), (x_test, y_test) = module.load_data()
    except Exception as exc:
        where = ", ".join(str(p) for p in _keras_cache_roots()[:2])
        raise DataError(
            f"{name}: keras.datasets.{name}.load_data() failed ({type(exc).__name__}: {exc}). "
            f"The first use downloads the data set into the Keras cache ({where}), which needs "
            "network access; without it, use data.name 'folder' with an image-folder copy"
        ) from exc
    return x_train, y_train, x_test, y_test


def _to_nhwc(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim == 3:  # grayscale (N, H, W)
        x = x[..., None]
    elif x.ndim == 4 and x.shape[1] in (1, 3) and x.shape[-1] not in (1, 3):
        x = x.transpose(0, 2, 3, 1)  # Keras returns NCHW under image_data_format channels_first
    if x.ndim != 4:
        raise DataError(f"{name}: expected images of rank 3 or 4, found shape {x.shape}")
    return np.ascontiguousarray(x, dtype=np.uint8)


def _flat_labels(y: np.ndarray) -> np.ndarray:
    return np.asarray(y).reshape(-1).astype(np.int32)


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles CIFAR batches, allowing nothing but NumPy array reconstruction."""

    _ALLOWED = frozenset({("numpy", "ndarray"), ("numpy", "dtype"),
                          ("numpy.core.multiarray", "_reconstruct"),
                          ("numpy._core.multiarray", "_reconstruct")})

    def find_class(self, module: str, name: str):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _read_pickle(path: Path) -> dict[str, object]:
    try:
        with open(path, "rb") as f:
            data = _ArrayUnpickler(f, encoding="bytes").load()
        return {k.decode("utf8") if isinstance(k, bytes) else k: v for k, v in data.items()}
    except Exception as exc:
        raise DataError(f"{path}: not a readable CIFAR batch file ({type(exc).__name__}: {exc})"
                        ) from exc


def _read_cifar_batch(path: Path, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    batch = _read_pickle(path)
    if "data" not in batch or label_key not in batch:
        raise DataError(f"{path}: CIFAR batch without 'data' or {label_key!r} "
                        f"(keys: {sorted(batch)})")
    data = np.asarray(batch["data"], dtype=np.uint8)
    labels = np.asarray(batch[label_key], dtype=np.int32).reshape(-1)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(data) != len(labels):
        raise DataError(f"{path}: expected data of shape (N, 3072) and N labels, found "
                        f"{data.shape} and {labels.shape}")
    # Stored as N x (3 planes of 32 x 32): channels first.
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def _meta_names(path: Path, key: str, default: list[str]) -> list[str]:
    if not path.is_file():
        return list(default)
    names = _read_pickle(path).get(key)
    if not isinstance(names, list) or len(names) != len(default):
        return list(default)
    return [n.decode("utf8") if isinstance(n, bytes) else str(n) for n in names]


def _read_cifar10(folder: Path) -> _Raw:
    parts = [_read_cifar_batch(folder / f"data_batch_{i}", "labels") for i in range(1, 6)]
    x_test, y_test = _read_cifar_batch(folder / "test_batch", "labels")
    names = _meta_names(folder / "batches.meta", "label_names", CIFAR10_CLASSES)
    return _Raw(np.ascontiguousarray(np.concatenate([p[0] for p in parts])),
                np.concatenate([p[1] for p in parts]), np.ascontiguousarray(x_test), y_test,
                names)


def _read_cifar100(folder: Path) -> _Raw:
    x_train, y_train = _read_cifar_batch(folder / "train", "fine_labels")
    x_test, y_test = _read_cifar_batch(folder / "test", "fine_labels")
    names = _meta_names(folder / "meta", "fine_label_names", CIFAR100_CLASSES)
    return _Raw(np.ascontiguousarray(x_train), y_train, np.ascontiguousarray(x_test), y_test,
                names)


def _read_idx(path: Path, magic: int, ndim: int) -> np.ndarray:
    """Reads a gzipped IDX file (the MNIST format: big-endian header, then uint8 data)."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise DataError(f"{path}: not a readable gzip file ({exc})") from exc
    header = 4 * (1 + ndim)
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX file ({len(raw)} bytes)")
    fields = np.frombuffer(raw[:header], ">u4")
    dims = tuple(int(d) for d in fields[1:])
    if int(fields[0]) != magic or len(raw) - header != int(np.prod(dims)):
        raise DataError(f"{path}: expected IDX magic {magic} and {int(np.prod(dims))} data bytes, "
                        f"found magic {int(fields[0])} and {len(raw) - header} bytes")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(dims)


def _read_fashion_mnist(folder: Path) -> _Raw:
    y_train = _read_idx(folder / "train-labels-idx1-ubyte.gz", 2049, 1).astype(np.int32)
    x_train = _read_idx(folder / "train-images-idx3-ubyte.gz", 2051, 3)
    y_test = _read_idx(folder / "t10k-labels-idx1-ubyte.gz", 2049, 1).astype(np.int32)
    x_test = _read_idx(folder / "t10k-images-idx3-ubyte.gz", 2051, 3)
    for x, y, what in ((x_train, y_train, "train"), (x_test, y_test, "t10k")):
        if len(x) != len(y):
            raise DataError(f"{folder}: {what} images and labels differ in number "
                            f"({len(x)} vs {len(y)})")
    return _Raw(x_train[..., None].copy(), y_train, x_test[..., None].copy(), y_test,
                list(FASHION_MNIST_CLASSES))


_KERAS_READERS = {"cifar10": _read_cifar10, "cifar100": _read_cifar100,
                  "fashion_mnist": _read_fashion_mnist}


# --------------------------------------------------------------------------------------------
# Image folders (directory or .tar.gz), with an .npz cache of the decoded arrays
# --------------------------------------------------------------------------------------------

@dataclass
class _Listing:
    """Image files of a folder layout, not yet decoded.

    items: (display name, payload, split, class) per image; payload holds the bytes for archive
      members and is None for files on disk (read when decoded).
    """

    items: list[tuple[str, bytes | None, str, str]]
    where: str


def _resolve_cache_dir(cache_dir: str | None) -> Path:
    return Path(cache_dir).expanduser() if cache_dir else default_cache_dir()


def _is_image(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    # Skip hidden files such as macOS '._x.jpg' resource forks that tar archives often carry.
    return not base.startswith(".") and base.lower().endswith(IMAGE_EXTENSIONS)


def _load_folder(path: str | None, cache_dir: Path) -> _Raw:
    src = Path(path or "").expanduser()
    if not path or not src.exists():
        raise ConfigError(None, "data.path", "an existing directory or .tar.gz archive with "
                          "train/<class>/ and test/<class>/", path)
    if src.is_file() and not tarfile.is_tarfile(src):
        raise ConfigError(None, "data.path", "a directory or a .tar.gz archive", str(src),
                          hint="the file is not a tar archive")
    src = src.resolve()
    listing = None
    if src.is_dir():
        listing = _list_directory(src)
        stats = ((name, os.stat(name)) for name, _, _, _ in listing.items)
        key_material = "\n".join(f"{n}\t{st.st_size}\t{st.st_mtime_ns}" for n, st in stats)
    else:
        st = src.stat()
        key_material = f"{st.st_size}\t{st.st_mtime_ns}"
    digest = hashlib.sha256(f"{_CACHE_FORMAT}\n{src}\n{key_material}".encode()).hexdigest()
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", src.name.split(".")[0]) or "data"
    cache_file = cache_dir / f"folder-{stem}-{digest[:16]}.npz"

    cached = _read_cache(cache_file)
    if cached is not None:
        return cached
    if listing is None:
        listing = _list_tar(src)
    raw = _decode_listing(listing)
    _write_cache(cache_file, raw)
    return raw


def _list_directory(src: Path) -> _Listing:
    root = src
    if not (root / "train").is_dir():
        # Accept one wrapping folder, as archives unpacked by hand often have.
        inner = [d for d in sorted(src.iterdir()) if (d / "train").is_dir()]
        if len(inner) != 1:
            raise DataError(f"{src}: no train/ directory (expected train/<class>/*.jpg and "
                            f"test/<class>/*.jpg here or in one subfolder)")
        root = inner[0]
    if not (root / "test").is_dir():
        raise DataError(f"{root / 'test'}: missing; expected test/<class>/ images next to "
                        "train/")
    items: list[tuple[str, bytes | None, str, str]] = []
    for split in ("train", "test"):
        for class_dir in sorted(d for d in (root / split).iterdir()
                                if d.is_dir() and not d.name.startswith(".")):
            files = sorted(f for f in os.listdir(class_dir) if _is_image(f))
            if not files:
                raise DataError(f"{class_dir}: class folder without images "
                                f"({', '.join(IMAGE_EXTENSIONS)})")
            items.extend((str(class_dir / f), None, split, class_dir.name) for f in files)
    return _Listing(items, str(root))


def _list_tar(src: Path) -> _Listing:
    # Read members into memory instead of extracting: no temp space needed, no path traversal.
    found: dict[tuple[str, ...], list[tuple[str, bytes, str, str]]] = {}
    try:
        with tarfile.open(src, "r:*") as tar:
            for member in tar:
                if not member.isfile() or not _is_image(member.name):
                    continue
                parts = PurePosixPath(member.name).parts
                parts = tuple(p for p in parts if p not in (".", ""))
                if len(parts) < 3 or parts[-3] not in ("train", "test"):
                    continue
                fobj = tar.extractfile(member)
                payload = fobj.read() if fobj is not None else b""
                found.setdefault(parts[:-3], []).append(
                    (f"{src}:{member.name}", payload, parts[-3], parts[-2]))
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataError(f"{src}: cannot read archive ({type(exc).__name__}: {exc})") from exc
    roots = [r for r, items in found.items() if any(it[2] == "train" for it in items)]
    if not roots:
        raise DataError(f"{src}: no images under train/<class>/ in the archive "
                        f"(expected {', '.join(IMAGE_EXTENSIONS)} files)")
    if len(roots) > 1:
        shown = ", ".join("/".join(r) or "<top level>" for r in sorted(roots))
        raise DataError(f"{src}: several folders with train/ in the archive ({shown}); "
                        "expected exactly one")
    root = roots[0]
    items = sorted(found[root], key=lambda it: (it[2] != "train", it[3], it[0]))
    where = f"{src}:{'/'.join(root)}" if root else str(src)
    if not any(it[2] == "test" for it in items):
        raise DataError(f"{where}: no images under test/<class>/ in the archive")
    return _Listing(list(items), where)


def _decode_listing(listing: _Listing) -> _Raw:
    train_classes = sorted({c for _, _, s, c in listing.items if s == "train"})
    test_classes = sorted({c for _, _, s, c in listing.items if s == "test"})
    if not train_classes:
        raise DataError(f"{listing.where}: no images under train/<class>/")
    if not test_classes:
        raise DataError(f"{listing.where}: no images under test/<class>/")
    if test_classes != train_classes:
        unknown = sorted(set(test_classes) - set(train_classes))
        missing = sorted(set(train_classes) - set(test_classes))
        raise DataError(f"{listing.where}: test/ classes do not match train/ classes "
                        f"(in test/ only: {unknown}; in train/ only: {missing})")
    index = {c: i for i, c in enumerate(train_classes)}
    x = _decode_images([(name, payload) for name, payload, _, _ in listing.items])
    y = np.array([index[c] for _, _, _, c in listing.items], np.int32)
    is_train = np.array([s == "train" for _, _, s, _ in listing.items])
    return _Raw(x[is_train], y[is_train], x[~is_train], y[~is_train], train_classes)


_GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "F"})


def _decode_images(items: Sequence[tuple[str, bytes | None]]) -> np.ndarray:
    """Decodes images with Pillow into one uint8 NHWC array.

    All images must have the same size. Grayscale images stay single-channel unless any image is
    colour, in which case all become RGB.

    Serial on purpose: on CIFAR-sized JPEGs Pillow spends ~60 us per image mostly in Python,
    and neither threads nor a spawned process pool was faster on 2 cores; the result is cached.

    Raises:
      DataError naming the first file that cannot be decoded or has a different size.
    """
    from PIL import Image, UnidentifiedImageError

    arrays: list[np.ndarray] = []
    size: tuple[int, int] | None = None
    first = ""
    for name, payload in items:
        try:
            source = io.BytesIO(payload) if payload is not None else name
            with Image.open(source) as im:
                mode = "L" if im.mode in _GRAY_MODES else "RGB"
                im = im.convert(mode) if im.mode != mode else im
                arr = np.asarray(im, dtype=np.uint8)
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
            raise DataError(f"{name}: cannot decode image ({type(exc).__name__}: {exc})") from exc
        if size is None:
            size, first = arr.shape[:2], name
        elif arr.shape[:2] != size:
            raise DataError(f"{name}: image is {arr.shape[1]}x{arr.shape[0]} (width x height) "
                            f"but {first} is {size[1]}x{size[0]}; all images must have one size")
        arrays.append(arr)
    if not arrays:
        raise DataError("no images to decode")
    channels = 3 if any(a.ndim == 3 for a in arrays) else 1
    out = np.empty((len(arrays), size[0], size[1], channels), np.uint8)
    for i, arr in enumerate(arrays):
        out[i] = arr[..., None] if arr.ndim == 2 else arr
    return out


def _read_cache(cache_file: Path) -> _Raw | None:
    if not cache_file.is_file():
        return None
    try:
        with np.load(cache_file, allow_pickle=False) as z:
            return _Raw(z["x_train"], z["y_train"], z["x_test"], z["y_test"],
                        [str(s) for s in z["class_names"]])
    except Exception as exc:  # a damaged cache is rebuilt, never fatal
        warnings.warn(f"ignoring unreadable data cache {cache_file}: {exc}", stacklevel=3)
        return None


def _write_cache(cache_file: Path, raw: _Raw) -> None:
    tmp = cache_file.with_name(f"{cache_file.name}.{os.getpid()}.tmp")
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        # Uncompressed: loading must be fast (CIFAR-10: ~180 MB, well under a second).
        with open(tmp, "wb") as f:
            np.savez(f, x_train=raw.x_train, y_train=raw.y_train, x_test=raw.x_test,
                     y_test=raw.y_test, class_names=np.array(raw.class_names, dtype=str))
        os.replace(tmp, cache_file)  # atomic: concurrent loaders never see half a file
    except OSError as exc:
        warnings.warn(f"could not write data cache {cache_file}: {exc}", stacklevel=3)
        tmp.unlink(missing_ok=True)
