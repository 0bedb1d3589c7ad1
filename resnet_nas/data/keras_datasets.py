"""CIFAR-10/100 and Fashion-MNIST: the standard Keras cache (~/.keras/datasets or
$KERAS_HOME/datasets) is read directly when present, so Keras is imported and the network used
only when the data set is not on disk yet.
"""

from __future__ import annotations

import gzip
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from resnet_nas.data.dataset import DataError, RawData


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


@dataclass(frozen=True)
class _KerasSpec:
    # Directories (relative to <keras home>/datasets) holding the extracted files. Keras 3
    # extracts into '<name>-target/<archive top folder>', tf.keras 2 directly into datasets/.
    dirs: tuple[str, ...]
    files: tuple[str, ...]


KERAS_DATASETS: dict[str, _KerasSpec] = {
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


#: Each Keras data set's image shape and class count (known without its files).
KERAS_SHAPES: dict[str, tuple[tuple[int, int, int], int]] = {
    "cifar10": ((32, 32, 3), 10), "cifar100": ((32, 32, 3), 100),
    "fashion_mnist": ((28, 28, 1), 10)}


def _keras_cache_roots() -> list[Path]:
    """Candidate '<keras home>/datasets' directories, in the order Keras itself would use."""
    roots: list[Path] = []
    if os.environ.get("KERAS_HOME"):
        roots.append(Path(os.environ["KERAS_HOME"]))
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
    spec = KERAS_DATASETS[name]
    for root in _keras_cache_roots():
        for sub in spec.dirs:
            folder = root / sub
            if all((folder / f).is_file() for f in spec.files):
                return folder
    return None


def load_keras_dataset(name: str) -> RawData:
    folder = _find_keras_cache(name)
    if folder is not None:
        return _KERAS_READERS[name](folder)
    x_train, y_train, x_test, y_test = _keras_download(name)
    names = {"cifar10": CIFAR10_CLASSES, "cifar100": CIFAR100_CLASSES,
             "fashion_mnist": FASHION_MNIST_CLASSES}[name]
    return RawData(_to_nhwc(x_train, name), _flat_labels(y_train), _to_nhwc(x_test, name),
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


def _read_cifar10(folder: Path) -> RawData:
    parts = [_read_cifar_batch(folder / f"data_batch_{i}", "labels") for i in range(1, 6)]
    x_test, y_test = _read_cifar_batch(folder / "test_batch", "labels")
    names = _meta_names(folder / "batches.meta", "label_names", CIFAR10_CLASSES)
    return RawData(np.ascontiguousarray(np.concatenate([p[0] for p in parts])),
                np.concatenate([p[1] for p in parts]), np.ascontiguousarray(x_test), y_test,
                names)


def _read_cifar100(folder: Path) -> RawData:
    x_train, y_train = _read_cifar_batch(folder / "train", "fine_labels")
    x_test, y_test = _read_cifar_batch(folder / "test", "fine_labels")
    names = _meta_names(folder / "meta", "fine_label_names", CIFAR100_CLASSES)
    return RawData(np.ascontiguousarray(x_train), y_train, np.ascontiguousarray(x_test), y_test,
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


def _read_fashion_mnist(folder: Path) -> RawData:
    y_train = _read_idx(folder / "train-labels-idx1-ubyte.gz", 2049, 1).astype(np.int32)
    x_train = _read_idx(folder / "train-images-idx3-ubyte.gz", 2051, 3)
    y_test = _read_idx(folder / "t10k-labels-idx1-ubyte.gz", 2049, 1).astype(np.int32)
    x_test = _read_idx(folder / "t10k-images-idx3-ubyte.gz", 2051, 3)
    for x, y, what in ((x_train, y_train, "train"), (x_test, y_test, "t10k")):
        if len(x) != len(y):
            raise DataError(f"{folder}: {what} images and labels differ in number "
                            f"({len(x)} vs {len(y)})")
    return RawData(x_train[..., None].copy(), y_train, x_test[..., None].copy(), y_test,
                list(FASHION_MNIST_CLASSES))


_KERAS_READERS = {"cifar10": _read_cifar10, "cifar100": _read_cifar100,
                  "fashion_mnist": _read_fashion_mnist}
