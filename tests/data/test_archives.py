"""Tar archives of image folders: unpacked once, member by member, under bounds; a hostile
archive is refused with one line and leaves nothing in the cache."""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import pytest

from resnet_nas.config import DataConfig
from resnet_nas.data import DataError, archives, dataset_facts, file_source, load_dataset
from tests.data.helpers import assert_same, encoded_image, make_image_folder


def _cfg(path: Path, tmp_path: Path) -> DataConfig:
    return DataConfig(name="folder", path=str(path), cache_dir=str(tmp_path / "cache"))


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _small_archive(path: Path, mode: str = "w:gz", extra=()) -> Path:
    with tarfile.open(path, mode) as tar:
        for split, n in (("train", 3), ("test", 1)):
            for c, name in enumerate(("ant", "bee")):
                for i in range(n):
                    _add(tar, f"d/{split}/{name}/{i}.png",
                         encoded_image((40 * c + 10, 0, 200), (6, 5), "PNG"))
        for name, data in extra:
            _add(tar, name, data)
    return path


def _nothing_unpacked(tmp_path: Path) -> bool:
    cache = tmp_path / "cache"
    return not any(p.name.startswith("unpacked-") for p in cache.glob("*")) if cache.exists() \
        else True


@pytest.mark.parametrize("mode, suffix", [("w", ".tar"), ("w:gz", ".tar.gz"),
                                          ("w:bz2", ".tar.bz2"), ("w:xz", ".tar.xz")])
def test_every_tar_compression_unpacks_to_the_same_data(tmp_path, mode, suffix):
    ref = load_dataset(_cfg(make_image_folder(tmp_path / "dir", classes=("ant", "bee"),
                                              n_train=3, n_test=1), tmp_path), seed=0)
    archive = _small_archive(tmp_path / f"a{suffix}", mode)
    ds = load_dataset(_cfg(archive, tmp_path), seed=0)
    assert ds.class_names == ["ant", "bee"] and len(ds.x_test) == 2
    np.testing.assert_array_equal(ds.y_train, ref.y_train)


def test_member_names_never_become_paths(tmp_path):
    evil = [("../../escape/train/ant/9.png", encoded_image((1, 2, 3), (6, 5), "PNG")),
            ("/abs/train/ant/9.png", encoded_image((1, 2, 3), (6, 5), "PNG"))]
    archive = _small_archive(tmp_path / "a.tar.gz", extra=evil)
    with pytest.raises(DataError, match="several folders with train/ or test/"):
        dataset_facts(_cfg(archive, tmp_path))
    assert not (tmp_path / "escape").exists() and not Path("/abs").exists()
    assert _nothing_unpacked(tmp_path)
    # links and non-images are skipped, not followed
    with tarfile.open(tmp_path / "b.tar.gz", "w:gz") as tar:
        _add(tar, "train/ant/0.png", encoded_image((10, 0, 200), (6, 5), "PNG"))
        _add(tar, "test/ant/0.png", encoded_image((10, 0, 200), (6, 5), "PNG"))
        link = tarfile.TarInfo("train/ant/1.png")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
        _add(tar, "train/ant/notes.txt", b"hello")
    source = file_source(_cfg(tmp_path / "b.tar.gz", tmp_path))
    assert len(source.train) == 1


def test_a_member_claiming_gigabytes_is_refused_by_its_header(tmp_path):
    archive = tmp_path / "claims.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("train/ant/huge.jpg")
        info.size = 8 << 30  # the header says 8 GiB; no data follows
        tar.addfile(info)
    assert archive.stat().st_size < 1000
    with pytest.raises(DataError, match=r"huge\.jpg is 8,589,934,592 bytes; an image member "
                                        r"may have at most 67,108,864"):
        dataset_facts(_cfg(archive, tmp_path))
    assert _nothing_unpacked(tmp_path)


@pytest.mark.skipif(shutil.which("tar") is None or shutil.which("truncate") is None,
                    reason="GNU tar not installed")
def test_a_sparse_archive_of_two_8_gb_members_is_refused(tmp_path):
    src = tmp_path / "src" / "train" / "ant"
    src.mkdir(parents=True)
    for name in ("a.jpg", "b.jpg"):
        subprocess.run(["truncate", "-s", "8G", str(src / name)], check=True)
    archive = tmp_path / "sparse.tar.gz"
    subprocess.run(["tar", "-czSf", str(archive), "-C", str(tmp_path / "src"), "train"],
                   check=True)
    assert archive.stat().st_size < 10_000
    with pytest.raises(DataError, match="an image member may have at most"):
        dataset_facts(_cfg(archive, tmp_path))
    assert _nothing_unpacked(tmp_path)


def test_an_archive_that_expands_like_a_bomb_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(archives, "EXPANSION_CHECK_BYTES", 1 << 20)
    zeros = bytes(2 << 20)  # compresses about 1000x; a JPEG about 1x
    archive = _small_archive(tmp_path / "bomb.tar.gz",
                             extra=[(f"d/train/ant/z{i}.jpg", zeros) for i in range(3)])
    with pytest.raises(DataError, match="expands more than 50x its compressed size"):
        dataset_facts(_cfg(archive, tmp_path))
    assert _nothing_unpacked(tmp_path)


def test_too_many_members_or_too_little_disk_is_refused(tmp_path, monkeypatch):
    archive = _small_archive(tmp_path / "a.tar.gz")
    monkeypatch.setattr(archives, "MAX_MEMBERS", 5)
    with pytest.raises(DataError, match="more than 5 members"):
        dataset_facts(_cfg(archive, tmp_path))
    monkeypatch.setattr(archives, "MAX_MEMBERS", 100)
    monkeypatch.setattr(archives, "FREE_MARGIN_BYTES", 1 << 62)
    with pytest.raises(DataError, match="unpacking needs more than the 0 bytes free"):
        dataset_facts(_cfg(archive, tmp_path))
    assert _nothing_unpacked(tmp_path)


def test_an_archive_is_unpacked_once_and_its_copy_survives_a_damaged_listing(tmp_path,
                                                                              monkeypatch):
    archive = _small_archive(tmp_path / "a.tar.gz")
    first = load_dataset(_cfg(archive, tmp_path), seed=0)
    calls = []
    real = archives.unpack
    monkeypatch.setattr(archives, "unpack", lambda *a: calls.append(1) or real(*a))
    assert_same(load_dataset(_cfg(archive, tmp_path), seed=0), first)
    assert calls == []
    (listing,) = (tmp_path / "cache").glob("unpacked-*/listing.npz")
    listing.write_bytes(b"garbage")
    with pytest.raises(DataError, match="damaged"):
        dataset_facts(_cfg(archive, tmp_path))
    assert_same(load_dataset(_cfg(archive, tmp_path), seed=0), first)  # unpacked again
    assert calls == [1]
