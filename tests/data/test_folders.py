"""Image folders and .tar.gz archives, and their decoded-array cache."""

from __future__ import annotations

import os
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from resnet_nas import data
from resnet_nas.config import DataConfig
from resnet_nas.data import DataError, archives, folders, load_dataset
from resnet_nas.validation import ConfigError
from tests.data.helpers import assert_same
from tests.data.helpers import image_pixel as _pixel
from tests.data.helpers import make_image_folder as _make_folder
from tests.helpers import SHARED_DATA

# ---------------------------------------------------------------------------------------------
# Image folders
# ---------------------------------------------------------------------------------------------

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
        assert_same(load_dataset(_folder_cfg(archive, tmp_path), seed=1), from_dir)


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
    real_decode = folders.decode_all
    monkeypatch.setattr(folders, "decode_all", lambda *a, **k: calls.append(1) or
                        real_decode(*a, **k))
    first = load_dataset(_folder_cfg(archive, tmp_path), seed=0)
    dir_first = load_dataset(_folder_cfg(root, tmp_path), seed=0)
    # two splits each, decoded once; the archive is unpacked once into the cache
    assert len(calls) == 4 and len(list((tmp_path / "cache").glob("decoded-*"))) == 2
    assert len(list((tmp_path / "cache").glob("unpacked-data-*"))) == 1

    def no_decode(*args, **kw):
        raise AssertionError("decoded again despite a cache hit")

    monkeypatch.setattr(folders, "decode_all", no_decode)
    assert_same(load_dataset(_folder_cfg(archive, tmp_path), seed=0), first)
    assert_same(load_dataset(_folder_cfg(root, tmp_path), seed=0), dir_first)
    # A changed archive (new size and mtime), a new file in the directory, or a file replaced
    # in place is decoded afresh.
    Image.new("RGB", (6, 5), (0, 0, 0)).save(root / "train" / "dog" / "new.png")
    with pytest.raises(AssertionError, match="decoded again"):
        load_dataset(_folder_cfg(root, tmp_path), seed=0)
    monkeypatch.setattr(folders, "decode_all", real_decode)
    load_dataset(_folder_cfg(root, tmp_path), seed=0)
    monkeypatch.setattr(folders, "decode_all", no_decode)
    Image.new("RGB", (6, 5), (9, 9, 9)).save(root / "train" / "dog" / "new.png")
    os.utime(root / "train" / "dog" / "new.png", ns=(time.time_ns(), time.time_ns() + 10**9))
    with pytest.raises(AssertionError, match="decoded again"):
        load_dataset(_folder_cfg(root, tmp_path), seed=0)
    _tar(root, archive, "top")
    os.utime(archive, ns=(time.time_ns(), time.time_ns() + 10**9))
    with pytest.raises(AssertionError, match="decoded again"):
        load_dataset(_folder_cfg(archive, tmp_path), seed=0)


def test_folder_damaged_cache_is_rebuilt(tmp_path):
    root = _make_folder(tmp_path / "imgs")
    first = load_dataset(_folder_cfg(root, tmp_path), seed=0)
    (cache,) = (tmp_path / "cache").glob("decoded-*")
    (cache / "x_train.npy").write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="unreadable data cache"):
        again = load_dataset(_folder_cfg(root, tmp_path), seed=0)
    assert_same(again, first)


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
    with pytest.raises(ConfigError, match="a directory or a tar archive"):
        load_dataset(_folder_cfg(not_tar, tmp_path))
    fake = tmp_path / "fake.tar.gz"
    fake.write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="fake.tar.gz: cannot read archive"):
        load_dataset(_folder_cfg(fake, tmp_path))

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


def test_a_corrupt_image_is_skipped_and_named_and_too_many_refuse_the_split(tmp_path):
    root = _make_folder(tmp_path / "imgs", classes=("cat", "dog"), n_train=80, n_test=2)
    bad = root / "train" / "dog" / "broken.png"
    bad.write_bytes(b"\x89PNG not really")
    # 1 of 161 training images: skipped with a warning naming it, and counted
    with pytest.warns(UserWarning, match=r"skipped 1 unreadable image.*dog/broken\.png"):
        ds = load_dataset(_folder_cfg(root, tmp_path, validation_split=0.25), seed=0)
    assert len(ds.x_train) + len(ds.x_val) == 160
    assert sum(len(v) for v in ds.skipped.values()) == 1
    assert any("broken.png" in name for name in ds.skipped["train"] + ds.skipped["val"])
    # more than 1% of a split: the split is refused, naming the files
    (root / "test" / "cat" / "cut.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    archive = _tar(root, tmp_path / "d.tar.gz", "d")
    with pytest.warns(UserWarning), pytest.raises(
            DataError, match=r"1 of the 5 images of the test split are unreadable.*cut\.png"):
        load_dataset(_folder_cfg(archive, tmp_path), seed=0)


def test_images_of_mixed_sizes_are_brought_to_the_asked_shape(tmp_path):
    root = _make_folder(tmp_path / "imgs")
    Image.new("RGB", (17, 5), (40 * 1 + 10, 0, 200)).save(root / "test" / "cat" / "wide.png")
    cfg = _folder_cfg(root, tmp_path)
    assert data.dataset_facts(cfg).input_shape is None  # no one size: the space must say
    with pytest.raises(DataError, match="mixed sizes: set the training resolution"):
        load_dataset(cfg)
    ds = load_dataset(cfg, input_shape=(4, 4, 3))
    assert ds.input_shape == (4, 4, 3) and len(ds.x_test) == 7
    # the wide image kept its central box: still the class colour
    assert np.all(np.abs(ds.x_test[..., 0].astype(int) - (40 * ds.y_test + 10)[:, None, None])
                  <= 3)


def test_folder_cache_dir_defaults_to_env(tmp_path, monkeypatch):
    monkeypatch.setenv("RESNET_NAS_CACHE", str(tmp_path / "envcache"))
    root = _make_folder(tmp_path / "imgs", n_train=3, n_test=1)
    load_dataset(DataConfig(name="folder", path=str(root)), seed=0)
    assert len(list((tmp_path / "envcache").glob("decoded-imgs-*"))) == 1

SHARED_CIFAR_JPEG = SHARED_DATA / "cifar10-jpeg.tar.gz"


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_CIFAR_JPEG.is_file(), reason=f"{SHARED_CIFAR_JPEG} not present")
def test_real_cifar10_jpeg_archive_and_a_second_load_from_the_cache(tmp_path, monkeypatch):
    cfg = DataConfig(name="folder", path=str(SHARED_CIFAR_JPEG), cache_dir=str(tmp_path))
    ds = load_dataset(cfg, seed=0)
    assert ds.input_shape == (32, 32, 3)
    assert len(ds.x_train) == 40000 and len(ds.x_val) == 10000 and len(ds.x_test) == 10000
    assert ds.class_names == data.CIFAR10_CLASSES
    assert np.all(np.bincount(ds.y_test) == 1000)
    assert data.dataset_facts(cfg).preprocessing == "cifar"  # one image size
    monkeypatch.setattr(folders, "decode_all", lambda *a, **k: pytest.fail("decoded again"))
    monkeypatch.setattr(archives, "unpack", lambda *a, **k: pytest.fail("unpacked again"))
    assert_same(ds, load_dataset(cfg, seed=0))



def test_a_large_first_decode_says_so_and_a_cached_one_is_quiet(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(folders, "NOTE_IMAGES", 10)  # the test folder counts as large
    root = _make_folder(tmp_path / "imgs")
    load_dataset(_folder_cfg(root, tmp_path))
    assert "imgs: first use at 6x5, decoding its 21 images once" in capsys.readouterr().err
    load_dataset(_folder_cfg(root, tmp_path))
    assert "decoding" not in capsys.readouterr().err


@pytest.mark.parametrize("limits", [{}, {"limit_train": 5, "limit_test": 3}])
def test_a_folder_gives_its_facts_without_decoding_its_pixels(tmp_path, monkeypatch, limits):
    from tests.data.test_splits import assert_facts_of

    root = _make_folder(tmp_path / "imgs")
    cfg = _folder_cfg(root, tmp_path, **limits)

    def pixels(*args, **kw):
        raise AssertionError("decoded the pixels")

    monkeypatch.setattr(folders, "decode_all", pixels)
    facts = data.dataset_facts(cfg, seed=2)
    assert not list((tmp_path / "cache").glob("decoded-*"))
    monkeypatch.undo()
    assert_facts_of(facts, load_dataset(cfg, seed=2))


@pytest.mark.parametrize("eval_dir", ["val", "validation"])
def test_val_or_validation_is_the_evaluation_split(tmp_path, eval_dir):
    from tests.data.helpers import make_photo_folder

    root = make_photo_folder(tmp_path / "photos", eval_dir=eval_dir)
    facts = data.dataset_facts(_folder_cfg(root, tmp_path))
    assert len(facts.y_test) == 6 and facts.input_shape is None and facts.resizable
    assert facts.preprocessing == "inception"  # photos of mixed sizes
