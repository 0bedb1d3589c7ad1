"""Tests for resnet_nas.data: splits, loaders, the folder cache, fake Keras caches."""

from __future__ import annotations

import gzip
import os
import pickle
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from resnet_nas import data
from resnet_nas.config import DataConfig
from resnet_nas.data import (DataError, Dataset, load_dataset, make_synthetic,
                             normalization_stats, stratified_split)
from resnet_nas.validation import ConfigError

REAL_CIFAR_JPEG = Path(__file__).resolve().parents[1].parent / "shared" / "data" / \
    "cifar10-jpeg.tar.gz"


def _assert_same(a: Dataset, b: Dataset) -> None:
    for key in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key), err_msg=key)
    assert a.class_names == b.class_names


def _rows(x: np.ndarray, y: np.ndarray) -> list[bytes]:
    """Each example as bytes (image + label), sorted: compares splits as multisets."""
    return sorted(xi.tobytes() + int(yi).to_bytes(2, "little") for xi, yi in zip(x, y))


# ---------------------------------------------------------------------------------------------
# stratified_split / normalization_stats
# ---------------------------------------------------------------------------------------------

def test_stratified_split_is_a_partition_with_class_proportions():
    y = np.repeat(np.arange(3), [50, 30, 20])
    kept, held = stratified_split(y, 25, seed=3)
    assert len(held) == 25 and len(kept) == 75
    assert np.intersect1d(kept, held).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([kept, held])), np.arange(100))
    # 25% of each class: 12.5 / 7.5 / 5 -> the largest remainders get the leftover example.
    counts = np.bincount(y[held], minlength=3)
    assert counts.sum() == 25 and abs(counts[0] - 12.5) <= 0.5 and abs(counts[1] - 7.5) <= 0.5
    assert counts[2] == 5
    np.testing.assert_array_equal(stratified_split(y, 25, seed=3)[1], held)
    assert not np.array_equal(stratified_split(y, 25, seed=4)[1], held)
    with pytest.raises(ValueError, match="cannot hold out 101"):
        stratified_split(y, 101, seed=0)


def test_normalization_stats_matches_numpy():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(20, 5, 6, 3), dtype=np.uint8)
    x[..., 2] = 7  # constant channel: std is floored at 1, not 0
    mean, std = normalization_stats(x)
    assert mean.dtype == np.float32 and std.dtype == np.float32 and mean.shape == (3,)
    np.testing.assert_allclose(mean, x.reshape(-1, 3).mean(0), rtol=1e-6)
    np.testing.assert_allclose(std[:2], x.reshape(-1, 3).std(0)[:2], rtol=1e-5)
    assert std[2] == 1.0 and mean[2] == 7.0
    with pytest.raises(ValueError, match="NHWC"):
        normalization_stats(np.zeros((4, 4), np.uint8))


# ---------------------------------------------------------------------------------------------
# digits
# ---------------------------------------------------------------------------------------------

def test_digits_shapes_dtypes_and_partition():
    from sklearn.datasets import load_digits

    ds = load_dataset(DataConfig(name="digits", validation_split=0.2), seed=0)
    assert ds.input_shape == (8, 8, 1) and ds.num_classes == 10
    assert ds.class_names == [str(i) for i in range(10)]
    for x, y in ((ds.x_train, ds.y_train), (ds.x_val, ds.y_val), (ds.x_test, ds.y_test)):
        assert x.dtype == np.uint8 and y.dtype == np.int32 and x.shape[1:] == (8, 8, 1)
        assert len(x) == len(y)
    assert ds.x_train.max() == 255 and ds.x_train.min() == 0
    assert len(ds.x_test) == 359 and len(ds.x_val) == round(0.2 * (1797 - 359))
    assert len(ds.x_train) + len(ds.x_val) + len(ds.x_test) == 1797
    # Train + val + test is exactly the scikit-learn set (as a multiset), scaled to 0..255.
    full = load_digits()
    x_full = np.round(full.images * 255 / 16).astype(np.uint8)[..., None]
    got = _rows(np.concatenate([ds.x_train, ds.x_val, ds.x_test]),
                np.concatenate([ds.y_train, ds.y_val, ds.y_test]))
    assert got == _rows(x_full, full.target)
    assert ds.summary() == "digits: 1150 train / 288 val / 359 test, 8x8x1, 10 classes"


def test_digits_split_deterministic_and_test_split_fixed():
    a = load_dataset(DataConfig(name="digits"), seed=0)
    b = load_dataset(DataConfig(name="digits"), seed=0)
    c = load_dataset(DataConfig(name="digits"), seed=1)
    _assert_same(a, b)
    # Seed moves the validation split, never the test split.
    np.testing.assert_array_equal(a.x_test, c.x_test)
    assert not np.array_equal(a.x_val, c.x_val)
    assert _rows(np.concatenate([a.x_train, a.x_val]), np.concatenate([a.y_train, a.y_val])) \
        == _rows(np.concatenate([c.x_train, c.x_val]), np.concatenate([c.y_train, c.y_val]))


def test_digits_splits_are_stratified():
    ds = load_dataset(DataConfig(name="digits", validation_split=0.25), seed=5)
    train_val = np.concatenate([ds.y_train, ds.y_val])
    expected = np.bincount(train_val, minlength=10) * 0.25
    assert np.all(np.abs(np.bincount(ds.y_val, minlength=10) - expected) <= 1.0)
    # The fixed test split is stratified too (about 20% of each digit).
    full = np.bincount(np.concatenate([train_val, ds.y_test]), minlength=10)
    assert np.all(np.abs(np.bincount(ds.y_test, minlength=10) - 0.2 * full) <= 1.0)


def test_limits_subsample_stratified_and_deterministically():
    cfg = DataConfig(name="digits", validation_split=0.2, limit_train=100, limit_test=50)
    a = load_dataset(cfg, seed=0)
    assert len(a.x_train) == 100 and len(a.x_test) == 50
    assert len(a.x_val) == 25  # shrunk in proportion: 100 * 0.2 / 0.8
    np.testing.assert_array_equal(np.bincount(a.y_train, minlength=10), np.full(10, 10))
    assert np.all(np.bincount(a.y_test, minlength=10) == 5)
    _assert_same(a, load_dataset(cfg, seed=0))
    b = load_dataset(cfg, seed=1)
    np.testing.assert_array_equal(a.x_test, b.x_test)  # test subsample ignores the seed
    assert not np.array_equal(a.x_train, b.x_train)
    # The limited test set is a subset of the full one.
    full = load_dataset(DataConfig(name="digits"), seed=0)
    assert set(_rows(a.x_test, a.y_test)) <= set(_rows(full.x_test, full.y_test))
    # A limit above the size is a no-op.
    big = load_dataset(DataConfig(name="digits", limit_train=10**6, limit_test=10**6))
    _assert_same(big, full)


def test_bad_config_is_a_config_error():
    with pytest.raises(ConfigError, match="did you mean 'cifar10'"):
        load_dataset(DataConfig(name="cifar1"))
    with pytest.raises(ConfigError, match="validation_split"):
        load_dataset(DataConfig(validation_split=0.0))


# ---------------------------------------------------------------------------------------------
# synthetic
# ---------------------------------------------------------------------------------------------

def test_synthetic_is_seeded_balanced_and_learnable():
    ds = make_synthetic(n_train=200, n_test=80, shape=(12, 10, 3), num_classes=4, seed=3)
    assert ds.input_shape == (12, 10, 3) and len(ds.x_train) == 200 and len(ds.x_val) == 50
    assert len(ds.x_test) == 80 and ds.x_train.dtype == np.uint8
    assert np.all(np.bincount(ds.y_test, minlength=4) == 20)
    _assert_same(ds, make_synthetic(n_train=200, n_test=80, shape=(12, 10, 3), num_classes=4,
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


# ---------------------------------------------------------------------------------------------
# Image folders
# ---------------------------------------------------------------------------------------------

def _pixel(cls: int, i: int) -> tuple[int, int, int]:
    return (40 * cls + 10, 17 * i % 256, 200)


def _make_folder(root: Path, classes=("cat", "dog", "ant"), n_train=5, n_test=2,
                 test_classes=None, size=(6, 5), mode="RGB") -> Path:
    """train/<class>/i.png (lossless, class-coded colour) and test/<class>/i.png under root."""
    for split, names, n in (("train", classes, n_train), ("test", test_classes or classes,
                                                          n_test)):
        for name in names:
            d = root / split / name
            d.mkdir(parents=True, exist_ok=True)
            cls = sorted(classes).index(name) if name in classes else 9
            for i in range(n):
                colour = _pixel(cls, i)
                img = Image.new("RGB", size, colour)
                if mode == "L":
                    img = Image.new("L", size, colour[0])
                img.save(d / f"{i:03d}.png")
    return root


def _tar(src: Path, archive: Path, arcname: str) -> Path:
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src, arcname=arcname)
    return archive


def _folder_cfg(path: Path, tmp_path: Path, **kw) -> DataConfig:
    return DataConfig(name="folder", path=str(path), cache_dir=str(tmp_path / "cache"),
                      validation_split=kw.pop("validation_split", 0.2), **kw)


def test_folder_directory_decodes_labels_and_pixels(tmp_path):
    root = _make_folder(tmp_path / "imgs")
    # One JPEG among the PNGs: extension case is ignored, non-image files are skipped.
    Image.new("RGB", (6, 5), _pixel(1, 4)).save(root / "train" / "cat" / "extra.JPG")
    (root / "train" / "cat" / "notes.txt").write_text("not an image")
    ds = load_dataset(_folder_cfg(root, tmp_path, validation_split=0.25), seed=0)
    assert ds.class_names == ["ant", "cat", "dog"] and ds.num_classes == 3
    assert ds.input_shape == (5, 6, 3)  # height x width x channels
    assert len(ds.x_train) + len(ds.x_val) == 16 and len(ds.x_test) == 6
    assert len(ds.x_val) == 4
    for x, y in ((ds.x_train, ds.y_train), (ds.x_val, ds.y_val), (ds.x_test, ds.y_test)):
        # The red channel encodes the class; PNG is lossless, the one JPEG close enough.
        assert np.all(np.abs(x[:, 0, 0, 0].astype(int) - (40 * y + 10)) <= 3)
        assert np.all(np.abs(x[..., 2].astype(int) - 200) <= 3)
    assert np.all(np.bincount(ds.y_test) == 2)


def test_folder_tar_gz_with_and_without_top_folder_matches_directory(tmp_path):
    root = _make_folder(tmp_path / "imgs")
    from_dir = load_dataset(_folder_cfg(root, tmp_path), seed=1)
    nested = _tar(root, tmp_path / "nested.tar.gz", "my-data")
    flat = tmp_path / "flat.tar.gz"
    with tarfile.open(flat, "w:gz") as tar:
        tar.add(root / "train", arcname="train")
        tar.add(root / "test", arcname="./test")
    for archive in (nested, flat):
        _assert_same(load_dataset(_folder_cfg(archive, tmp_path), seed=1), from_dir)


def test_folder_grayscale_and_mixed_modes(tmp_path):
    gray = _make_folder(tmp_path / "gray", mode="L")
    ds = load_dataset(_folder_cfg(gray, tmp_path), seed=0)
    assert ds.input_shape == (5, 6, 1)
    # One colour image makes the whole data set RGB (gray replicated across channels).
    Image.new("RGB", (6, 5), (1, 2, 3)).save(gray / "test" / "dog" / "colour.png")
    ds = load_dataset(_folder_cfg(gray, tmp_path), seed=0)
    assert ds.input_shape == (5, 6, 3)
    np.testing.assert_array_equal(ds.x_train[..., 0], ds.x_train[..., 2])


def test_folder_cache_hit_skips_decoding_and_changes_invalidate(tmp_path, monkeypatch):
    root = _make_folder(tmp_path / "imgs")
    archive = _tar(root, tmp_path / "data.tar.gz", "top")
    calls = []
    real_decode = data._decode_images
    monkeypatch.setattr(data, "_decode_images", lambda items: calls.append(1) or
                        real_decode(items))
    first = load_dataset(_folder_cfg(archive, tmp_path), seed=0)
    dir_first = load_dataset(_folder_cfg(root, tmp_path), seed=0)
    assert len(calls) == 2 and len(list((tmp_path / "cache").glob("folder-*.npz"))) == 2

    def no_decode(items):
        raise AssertionError("decoded again despite a cache hit")

    monkeypatch.setattr(data, "_decode_images", no_decode)
    _assert_same(load_dataset(_folder_cfg(archive, tmp_path), seed=0), first)
    _assert_same(load_dataset(_folder_cfg(root, tmp_path), seed=0), dir_first)
    # A changed archive (new size and mtime) or a new file in the directory is decoded afresh.
    Image.new("RGB", (6, 5), (0, 0, 0)).save(root / "train" / "dog" / "new.png")
    with pytest.raises(AssertionError, match="decoded again"):
        load_dataset(_folder_cfg(root, tmp_path), seed=0)
    _tar(root, archive, "top")
    os.utime(archive, ns=(time.time_ns(), time.time_ns() + 10**9))
    with pytest.raises(AssertionError, match="decoded again"):
        load_dataset(_folder_cfg(archive, tmp_path), seed=0)


def test_folder_damaged_cache_is_rebuilt(tmp_path):
    root = _make_folder(tmp_path / "imgs")
    first = load_dataset(_folder_cfg(root, tmp_path), seed=0)
    (cache_file,) = (tmp_path / "cache").glob("folder-*.npz")
    cache_file.write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="unreadable data cache"):
        again = load_dataset(_folder_cfg(root, tmp_path), seed=0)
    _assert_same(again, first)


def test_folder_class_mismatch_is_reported(tmp_path):
    root = _make_folder(tmp_path / "imgs", classes=("cat", "dog"), test_classes=("cat", "emu"))
    with pytest.raises(DataError, match=r"in test/ only: \['emu'\]; in train/ only: \['dog'\]"):
        load_dataset(_folder_cfg(root, tmp_path))
    archive = _tar(root, tmp_path / "d.tar.gz", "d")
    with pytest.raises(DataError, match="emu"):
        load_dataset(_folder_cfg(archive, tmp_path))


def test_folder_errors_name_the_offending_path(tmp_path):
    missing = tmp_path / "nope.tar.gz"
    with pytest.raises(ConfigError, match="nope.tar.gz"):
        load_dataset(_folder_cfg(missing, tmp_path))
    not_tar = tmp_path / "plain.txt"
    not_tar.write_text("hello")
    with pytest.raises(ConfigError, match="not a tar archive"):
        load_dataset(_folder_cfg(not_tar, tmp_path))

    no_test = tmp_path / "no_test"
    _make_folder(no_test)
    for p in sorted((no_test / "test").rglob("*"), reverse=True):
        p.unlink() if p.is_file() else p.rmdir()
    (no_test / "test").rmdir()
    with pytest.raises(DataError, match=r"no_test/test: missing"):
        load_dataset(_folder_cfg(no_test, tmp_path))

    no_train = tmp_path / "no_train"
    (no_train / "test" / "a").mkdir(parents=True)
    with pytest.raises(DataError, match="no_train: no train/ directory"):
        load_dataset(_folder_cfg(no_train, tmp_path))

    empty = tmp_path / "empty"
    (empty / "train").mkdir(parents=True)
    (empty / "test").mkdir()
    with pytest.raises(DataError, match="no images under train"):
        load_dataset(_folder_cfg(empty, tmp_path))
    (empty / "train" / "cat").mkdir()
    with pytest.raises(DataError, match="train/cat: class folder without images"):
        load_dataset(_folder_cfg(empty, tmp_path))

    archive = tmp_path / "no_images.tar.gz"
    (tmp_path / "txt" / "train" / "a").mkdir(parents=True)
    (tmp_path / "txt" / "train" / "a" / "x.txt").write_text("x")
    _tar(tmp_path / "txt", archive, "txt")
    with pytest.raises(DataError, match="no_images.tar.gz: no images under train"):
        load_dataset(_folder_cfg(archive, tmp_path))


def test_folder_corrupt_or_odd_sized_image_is_named(tmp_path):
    root = _make_folder(tmp_path / "imgs")
    bad = root / "train" / "dog" / "broken.png"
    bad.write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError, match=r"dog/broken\.png: cannot decode image"):
        load_dataset(_folder_cfg(root, tmp_path))
    archive = _tar(root, tmp_path / "d.tar.gz", "d")
    with pytest.raises(DataError, match=r"d\.tar\.gz:d/train/dog/broken\.png: cannot decode"):
        load_dataset(_folder_cfg(archive, tmp_path))
    bad.unlink()
    Image.new("RGB", (7, 5), (0, 0, 0)).save(root / "test" / "cat" / "wide.png")
    with pytest.raises(DataError, match=r"wide\.png: image is 7x5 .* all images must have one"):
        load_dataset(_folder_cfg(root, tmp_path))


def test_folder_cache_dir_defaults_to_env(tmp_path, monkeypatch):
    monkeypatch.setenv("RESNET_NAS_CACHE", str(tmp_path / "envcache"))
    root = _make_folder(tmp_path / "imgs", n_train=3, n_test=1)
    load_dataset(DataConfig(name="folder", path=str(root)), seed=0)
    assert len(list((tmp_path / "envcache").glob("folder-imgs-*.npz"))) == 1


@pytest.mark.slow
@pytest.mark.skipif(not REAL_CIFAR_JPEG.is_file(), reason=f"{REAL_CIFAR_JPEG} not present")
def test_real_cifar10_jpeg_archive_and_fast_second_load(tmp_path):
    cfg = DataConfig(name="folder", path=str(REAL_CIFAR_JPEG), cache_dir=str(tmp_path))
    ds = load_dataset(cfg, seed=0)
    assert ds.input_shape == (32, 32, 3)
    assert len(ds.x_train) == 40000 and len(ds.x_val) == 10000 and len(ds.x_test) == 10000
    assert ds.class_names == data.CIFAR10_CLASSES
    assert np.all(np.bincount(ds.y_test) == 1000)
    start = time.perf_counter()
    again = load_dataset(cfg, seed=0)
    assert time.perf_counter() - start < 2.0
    _assert_same(ds, again)


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

    monkeypatch.setattr(data, "_keras_download", no_download)
    return home


def test_cifar10_from_fake_keras_cache(keras_home):
    x_train, y_train, x_test, y_test = _write_cifar10(
        keras_home / "datasets" / "cifar-10-batches-py-target" / "cifar-10-batches-py")
    ds = load_dataset(DataConfig(name="cifar10", validation_split=0.2), seed=0)
    assert ds.input_shape == (32, 32, 3) and ds.class_names == data.CIFAR10_CLASSES
    assert len(ds.x_train) == 24 and len(ds.x_val) == 6
    np.testing.assert_array_equal(ds.x_test, x_test)
    np.testing.assert_array_equal(ds.y_test, y_test)
    assert _rows(np.concatenate([ds.x_train, ds.x_val]), np.concatenate([ds.y_train, ds.y_val])) \
        == _rows(x_train, y_train)


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
    monkeypatch.setattr(data, "_keras_cache_roots", lambda: [tmp_path / "datasets"])
    calls = []

    def fake_download(name):
        calls.append(name)
        rng = np.random.default_rng(0)
        # channels_first output, labels shaped (N, 1), as keras.datasets may return them
        return (rng.integers(0, 256, (20, 3, 32, 32), dtype=np.uint8),
                (np.arange(20) % 10).reshape(-1, 1).astype(np.uint8),
                rng.integers(0, 256, (10, 3, 32, 32), dtype=np.uint8),
                (np.arange(10) % 10).reshape(-1, 1).astype(np.uint8))

    monkeypatch.setattr(data, "_keras_download", fake_download)
    ds = load_dataset(DataConfig(name="cifar10", validation_split=0.5))
    assert calls == ["cifar10"]
    assert ds.input_shape == (32, 32, 3) and ds.y_test.dtype == np.int32
    assert ds.y_test.shape == (10,) and len(ds.x_train) == 10


def test_data_module_does_not_import_keras():
    code = ("import sys; from resnet_nas import data; from resnet_nas.config import DataConfig; "
            "data.load_dataset(DataConfig(name='synthetic')); "
            "assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules")
    import subprocess
    env = dict(os.environ, PYTHONPATH=str(Path(data.__file__).parents[1]))
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


# Keras' own loaders read the fake files too: proves the fakes have the real on-disk format, and
# that our reader finds what a real keras download leaves behind (Keras 3 layout).

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
    monkeypatch.setattr(data, "_keras_cache_roots", lambda: [home / "datasets"])
    monkeypatch.setattr(data, "_keras_download",
                        lambda name: pytest.fail(f"tried to download {name}"))

    (kx, ky), (kxt, kyt) = cifar10.load_data()  # extracts like a real download
    ds = load_dataset(DataConfig(name="cifar10", validation_split=0.2))
    np.testing.assert_array_equal(ds.x_test, kxt)
    np.testing.assert_array_equal(ds.y_test, kyt.reshape(-1))
    assert _rows(np.concatenate([ds.x_train, ds.x_val]),
                 np.concatenate([ds.y_train, ds.y_val])) == _rows(kx, ky.reshape(-1))

    (fx, fy), (fxt, fyt) = fashion_mnist.load_data()
    ds = load_dataset(DataConfig(name="fashion_mnist"))
    np.testing.assert_array_equal(ds.x_test[..., 0], fxt)
    np.testing.assert_array_equal(ds.y_test, fyt)
    assert len(ds.x_train) + len(ds.x_val) == len(fx)
