"""CIFAR-10/100 and Fashion-MNIST read from (fake) Keras caches, and the download path."""

from __future__ import annotations

import gzip
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest

from resnet_nas import data
from resnet_nas.config import DataConfig
from resnet_nas.data import DataError, keras_datasets, load_dataset
from tests.data.helpers import example_rows

# ---------------------------------------------------------------------------------------------
# Keras data sets: fake caches in the exact on-disk format, never the network
# ---------------------------------------------------------------------------------------------

def _write_cifar10(folder: Path, n_per_batch=6, n_test=5, seed=0):
    """Writes the cifar-10-batches-py files; returns the expected NHWC arrays."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    xs, ys = [], []
    for i, fname in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        n = n_test if fname == "test_batch" else n_per_batch
        flat = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, size=n)]
        with open(folder / fname, "wb") as f:
            pickle.dump({b"batch_label": fname.encode(), b"labels": labels, b"data": flat,
                         b"filenames": [b"x.png"] * n}, f, protocol=4)
        xs.append(flat.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        ys.append(np.array(labels))
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [n.encode() for n in data.CIFAR10_CLASSES],
                     b"num_vis": 3072}, f, protocol=4)
    return np.concatenate(xs[:5]), np.concatenate(ys[:5]), xs[5], ys[5]


def _write_idx(path: Path, array: np.ndarray, magic: int) -> None:
    header = np.array([magic, *array.shape], ">u4").tobytes()
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def _write_fashion(folder: Path, n_train=30, n_test=10, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    x_train = rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8)
    x_test = rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8)
    y_train = np.arange(n_train) % 10
    y_test = np.arange(n_test) % 10
    _write_idx(folder / "train-labels-idx1-ubyte.gz", y_train, 2049)
    _write_idx(folder / "train-images-idx3-ubyte.gz", x_train, 2051)
    _write_idx(folder / "t10k-labels-idx1-ubyte.gz", y_test, 2049)
    _write_idx(folder / "t10k-images-idx3-ubyte.gz", x_test, 2051)
    return x_train, y_train, x_test, y_test


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    """An empty KERAS_HOME; any attempt to download fails the test."""
    home = tmp_path / "keras_home"
    monkeypatch.setenv("KERAS_HOME", str(home))

    def no_download(name):
        raise AssertionError(f"tried to download {name}")

    monkeypatch.setattr(keras_datasets, "_keras_download", no_download)
    return home


def test_cifar10_from_fake_keras_cache(keras_home):
    x_train, y_train, x_test, y_test = _write_cifar10(
        keras_home / "datasets" / "cifar-10-batches-py-target" / "cifar-10-batches-py")
    ds = load_dataset(DataConfig(name="cifar10", validation_split=0.2), seed=0)
    assert ds.input_shape == (32, 32, 3) and ds.class_names == data.CIFAR10_CLASSES
    assert len(ds.x_train) == 24 and len(ds.x_val) == 6
    np.testing.assert_array_equal(ds.x_test, x_test)
    np.testing.assert_array_equal(ds.y_test, y_test)
    assert example_rows(np.concatenate([ds.x_train, ds.x_val]), np.concatenate([ds.y_train, ds.y_val])) \
        == example_rows(x_train, y_train)


def test_cifar10_old_tf_keras_layout_and_cifar100(keras_home):
    _, _, x_test, _ = _write_cifar10(keras_home / "datasets" / "cifar-10-batches-py")
    ds = load_dataset(DataConfig(name="cifar10"), seed=0)
    np.testing.assert_array_equal(ds.x_test, x_test)

    folder = keras_home / "datasets" / "cifar-100-python-target" / "cifar-100-python"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for split, n in (("train", 40), ("test", 12)):
        with open(folder / split, "wb") as f:
            pickle.dump({b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                         b"fine_labels": [i % 100 for i in range(n)],
                         b"coarse_labels": [i % 20 for i in range(n)]}, f, protocol=4)
    ds = load_dataset(DataConfig(name="cifar100", validation_split=0.25), seed=0)
    assert ds.num_classes == 100 and ds.class_names[:2] == ["apple", "aquarium_fish"]
    assert len(ds.x_train) == 30 and len(ds.x_test) == 12 and ds.input_shape == (32, 32, 3)
    np.testing.assert_array_equal(ds.y_test, np.arange(12))


def test_fashion_mnist_from_fake_keras_cache(keras_home):
    _, _, x_test, y_test = _write_fashion(keras_home / "datasets" / "fashion-mnist")
    ds = load_dataset(DataConfig(name="fashion_mnist", validation_split=0.2, limit_test=5))
    assert ds.input_shape == (28, 28, 1) and ds.class_names[0] == "T-shirt/top"
    assert len(ds.x_train) == 24 and len(ds.x_val) == 6 and len(ds.x_test) == 5
    full = load_dataset(DataConfig(name="fashion_mnist"))
    np.testing.assert_array_equal(full.x_test[..., 0], x_test)
    np.testing.assert_array_equal(full.y_test, y_test)


def test_corrupt_keras_cache_file_is_named(keras_home):
    folder = keras_home / "datasets" / "fashion-mnist"
    _write_fashion(folder)
    with gzip.open(folder / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(b"\x00\x00\x08\x03short")
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz"):
        load_dataset(DataConfig(name="fashion_mnist"))


def test_missing_keras_cache_goes_through_keras_download(tmp_path, monkeypatch):
    monkeypatch.setattr(keras_datasets, "_keras_cache_roots", lambda: [tmp_path / "datasets"])
    calls = []

    def fake_download(name):
        calls.append(name)
        rng = np.random.default_rng(0)
        # channels_first output, labels shaped (N, 1), as keras.datasets may return them
        return (rng.integers(0, 256, (20, 3, 32, 32), dtype=np.uint8),
                (np.arange(20) % 10).reshape(-1, 1).astype(np.uint8),
                rng.integers(0, 256, (10, 3, 32, 32), dtype=np.uint8),
                (np.arange(10) % 10).reshape(-1, 1).astype(np.uint8))

    monkeypatch.setattr(keras_datasets, "_keras_download", fake_download)
    ds = load_dataset(DataConfig(name="cifar10", validation_split=0.5))
    assert calls == ["cifar10"]
    assert ds.input_shape == (32, 32, 3) and ds.y_test.dtype == np.int32
    assert ds.y_test.shape == (10,) and len(ds.x_train) == 10


def test_keras_loaders_agree_with_fake_caches(tmp_path, monkeypatch):
    pytest.importorskip("keras")
    from keras.src.datasets import cifar10, fashion_mnist
    from keras.src.utils.file_utils import get_file

    home = tmp_path / "kh"
    staging = tmp_path / "staging" / "cifar-10-batches-py"
    _write_cifar10(staging, n_per_batch=10000, seed=5)  # Keras insists on 10,000 per batch
    (home / "datasets").mkdir(parents=True)
    # Uncompressed tar: gzip of 150 MB of random bytes would take seconds; Keras reads both.
    with tarfile.open(home / "datasets" / "cifar-10-batches-py-target_archive", "w") as tar:
        tar.add(staging, arcname="cifar-10-batches-py")
    _write_fashion(home / "datasets" / "fashion-mnist", seed=6)

    def offline_get_file(*args, **kwargs):
        # Same as Keras, but in our temp home and without the hash of the real archive.
        kwargs.update(cache_dir=str(home), file_hash=None)
        return get_file(*args, **kwargs)

    monkeypatch.setattr(cifar10, "get_file", offline_get_file)
    monkeypatch.setattr(fashion_mnist, "get_file", offline_get_file)
    monkeypatch.setattr(keras_datasets, "_keras_cache_roots", lambda: [home / "datasets"])
    monkeypatch.setattr(keras_datasets, "_keras_download",
                        lambda name: pytest.fail(f"tried to download {name}"))

    (kx, ky), (kxt, kyt) = cifar10.load_data()  # extracts like a real download
    ds = load_dataset(DataConfig(name="cifar10", validation_split=0.2))
    np.testing.assert_array_equal(ds.x_test, kxt)
    np.testing.assert_array_equal(ds.y_test, kyt.reshape(-1))
    assert example_rows(np.concatenate([ds.x_train, ds.x_val]),
                 np.concatenate([ds.y_train, ds.y_val])) == example_rows(kx, ky.reshape(-1))

    (fx, fy), (fxt, fyt) = fashion_mnist.load_data()
    ds = load_dataset(DataConfig(name="fashion_mnist"))
    np.testing.assert_array_equal(ds.x_test[..., 0], fxt)
    np.testing.assert_array_equal(ds.y_test, fyt)
    assert len(ds.x_train) + len(ds.x_val) == len(fx)
