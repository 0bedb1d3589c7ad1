"""Image folders (resnet_nas.data.layout) given as a directory or a tar archive: listed as a
FileSource without decoding, and decoded into memory when a data set is small.

- A directory is listed as it is, every time (a listing is what an index would hold, and
  listing is fast).
- An archive is unpacked once into the cache, member by member (resnet_nas.data.archives),
  with the listing of what it held; later uses read that listing.
- `decode_source` decodes a source into uint8 arrays at one image size, for the trainers'
  in-memory path, in parallel for large sets, and caches the arrays as .npy files read back
  memory-mapped (decoded once, then read back quickly).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from resnet_nas.data import archives
from resnet_nas.data.cache import cache_lock, stem
from resnet_nas.data.dataset import DataError, RawData
from resnet_nas.data.files import FileSource, FileSplit, check_labels, probe_images, read_item
from resnet_nas.data.images import decode_all, warn_skipped
from resnet_nas.data.layout import EVAL_SPLIT_DIRS, IMAGE_EXTENSIONS, is_image_name
from resnet_nas.validation import ConfigError

#: Bump when the layout of the cached files changes, so stale caches are ignored.
_CACHE_FORMAT = 2

#: A first decode or unpack at least this large says so on stderr (a few seconds or more).
NOTE_IMAGES = 2_000
NOTE_ARCHIVE_BYTES = 5 * 2**20
#: A split of at most this many images has every header read (so a single colour image
#: makes a grayscale set RGB); a larger one has PROBE_IMAGES of them read.
PROBE_ALL_MAX = 2_000


def folder_source(path: str | None, cache_dir: Path) -> FileSource:
    """The image-folder data set at `path` (a directory or a tar archive), without its pixels.

    Raises:
      ConfigError: `path` is neither.
      DataError: the layout is wrong (naming the folder or file and what was expected).
    """
    src = Path(path or "").expanduser()
    if not path or not src.exists():
        raise ConfigError(None, "data.path", "an existing directory or tar archive (.tar.gz) "
                          "with train/<class>/ and test/<class>/", path)
    src = src.resolve()
    if src.is_file():
        if not archives.is_archive_name(src.name):
            raise ConfigError(None, "data.path", "a directory or a tar archive (.tar, .tar.gz, "
                              ".tgz, .tar.bz2, .tar.xz)", str(src))
        return _archive_source(src, cache_dir)
    return _directory_source(src)


# -- directories -------------------------------------------------------------------------------
def _layout_root(src: Path) -> Path:
    if (src / "train").is_dir():
        return src
    # Accept one wrapping folder, as archives unpacked by hand often have.
    inner = [d for d in sorted(src.iterdir()) if (d / "train").is_dir()]
    if len(inner) != 1:
        raise DataError(f"{src}: no train/ directory (expected train/<class>/*.jpg and "
                        f"test/<class>/*.jpg here or in one subfolder)")
    return inner[0]


def eval_dir_name(names: set[str]) -> str | None:
    """The evaluation split's folder among `names` (EVAL_SPLIT_DIRS, first found)."""
    return next((d for d in EVAL_SPLIT_DIRS if d in names), None)


def _directory_source(src: Path) -> FileSource:
    root = _layout_root(src)
    ev = eval_dir_name({d.name for d in root.iterdir() if d.is_dir()})
    if ev is None:
        raise DataError(f"{root / 'test'}: missing; expected test/<class>/ (or val/ or "
                        "validation/) images next to train/")
    splits: dict[str, _Files] = {}
    for split in ("train", ev):
        files = _Files([], [])
        for class_dir in sorted(d for d in (root / split).iterdir()
                                if d.is_dir() and not d.name.startswith(".")):
            names = sorted(f for f in os.listdir(class_dir) if is_image_name(f))
            if not names:
                raise DataError(f"{class_dir}: class folder without images "
                                f"({', '.join(IMAGE_EXTENSIONS)})")
            files.paths.extend(f"{split}/{class_dir.name}/{f}" for f in names)
            files.classes.extend([class_dir.name] * len(names))
        splits[split] = files
    digest = hashlib.sha256(f"{_CACHE_FORMAT}\n{root}\n".encode())
    for split in ("train", ev):
        digest.update("\n".join(splits[split].paths).encode())
    return _source(str(root), str(root), splits["train"], splits[ev], digest.hexdigest())


@dataclass
class _Files:
    """A split's images: paths relative to the root, class folder names, and (archives) each
    member's own name."""

    paths: list[str]
    classes: list[str]
    names: list[str] | None = None


def _source(where: str, root: str, train: _Files, test: _Files, key: str) -> FileSource:
    class_names = sorted(set(train.classes))
    if not class_names:
        raise DataError(f"{where}: no images under train/<class>/")
    if not test.paths:
        raise DataError(f"{where}: no images under test/<class>/ (or val/, validation/)")
    test_classes = sorted(set(test.classes))
    if test_classes != class_names:
        unknown = sorted(set(test_classes) - set(class_names))
        missing = sorted(set(class_names) - set(test_classes))
        raise DataError(f"{where}: test/ classes do not match train/ classes "
                        f"(in test/ only: {unknown}; in train/ only: {missing})")
    index = {c: i for i, c in enumerate(class_names)}

    def split_of(files: _Files) -> FileSplit:
        return FileSplit(root=root, labels=np.array([index[c] for c in files.classes], np.int32),
                         paths=np.array([p.encode() for p in files.paths], dtype=bytes),
                         names=None if files.names is None else np.array(
                             [n.encode() for n in files.names], dtype=bytes), where=where)

    train_split, test_split = split_of(train), split_of(test)
    probe = probe_images([train_split, test_split], all_up_to=PROBE_ALL_MAX)
    source = FileSource("folder", where, class_names, train_split, test_split, probe, key)
    check_labels(source)
    return source


# -- archives ----------------------------------------------------------------------------------
_INDEX = "listing.npz"


def _archive_source(src: Path, cache_dir: Path) -> FileSource:
    st = src.stat()
    digest = hashlib.sha256(
        f"{_CACHE_FORMAT}\n{src}\n{st.st_size}\t{st.st_mtime_ns}".encode()).hexdigest()
    unpacked = cache_dir / f"unpacked-{stem(src)}-{digest[:16]}"
    with cache_lock(cache_dir / f".{unpacked.name}.lock"):
        if not (unpacked / _INDEX).is_file():
            shutil.rmtree(unpacked, ignore_errors=True)
            if st.st_size >= NOTE_ARCHIVE_BYTES:
                archives.note_first_unpack(src, cache_dir)
            members = archives.unpack(src, unpacked)
            _write_listing(unpacked, members)
    members = _read_listing(unpacked, src)
    # in the order a directory lists them: by class, then by (member) name
    train_items = sorted((m for m in members if m.split == "train"),
                         key=lambda m: (m.class_name, m.name))
    ev = eval_dir_name({m.split for m in members} - {"train"})
    if not train_items:
        raise DataError(f"{src}: no images under train/<class>/ in the archive "
                        f"(expected {', '.join(IMAGE_EXTENSIONS)} files)")
    if ev is None:
        raise DataError(f"{src}: no images under test/<class>/ (or val/, validation/) in the "
                        "archive")
    test_items = sorted((m for m in members if m.split == ev),
                        key=lambda m: (m.class_name, m.name))

    def files(items: list[archives.Member]) -> _Files:
        return _Files([m.path for m in items], [m.class_name for m in items],
                      [m.name for m in items])

    return _source(str(src), str(unpacked), files(train_items), files(test_items), digest)


def _write_listing(unpacked: Path, members: list[archives.Member]) -> None:
    arrays = {key: np.array([getattr(m, key).encode("utf-8", "surrogateescape")
                             for m in members], dtype=bytes)
              for key in ("split", "class_name", "path", "name")}
    tmp = unpacked / f"{_INDEX}.tmp"
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    os.replace(tmp, unpacked / _INDEX)


def _read_listing(unpacked: Path, src: Path) -> list[archives.Member]:
    try:
        with np.load(unpacked / _INDEX, allow_pickle=False) as z:
            cols = [[v.decode("utf-8", "surrogateescape") for v in z[k]]
                    for k in ("split", "class_name", "path", "name")]
    except Exception as exc:  # noqa: BLE001 - a damaged listing: unpack again next time
        (unpacked / _INDEX).unlink(missing_ok=True)
        raise DataError(f"{src}: its unpacked copy in {unpacked} is damaged ({exc}); it will "
                        "be unpacked again on the next run") from None
    return [archives.Member(*row) for row in zip(*cols)]


# -- decoded into memory -----------------------------------------------------------------------
_ARRAYS = ("x_train", "ok_train", "x_test", "ok_test")


def _content_key(source: FileSource) -> str:
    """The source's key, and for a directory every file's size and time (its files may be
    replaced in place, which the listing does not show)."""
    h = hashlib.sha256(source.key.encode())
    if source.train.names is None and not source.train.records:  # a directory of the user's
        for split in (source.train, source.test):
            for p in split.file_paths():
                st = os.stat(p)
                h.update(f"{st.st_size}\t{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def decode_source(source: FileSource, shape: tuple[int, int, int], cache_dir: Path,
                  progress: bool = True) -> RawData:
    """Every image of `source` decoded at `shape` (height, width, channels): an image of
    another size keeps its central box of that aspect ratio, resized (resnet_nas.data.images).

    Unreadable images are skipped with a warning naming them (RawData.ok_* marks them);
    arrays are cached in `cache_dir` and read back memory-mapped.
    """
    digest = hashlib.sha256(f"{_CACHE_FORMAT}\n{_content_key(source)}\n{shape}".encode())
    where = Path(source.where)
    out = cache_dir / f"decoded-{stem(where)}-{digest.hexdigest()[:16]}"
    with cache_lock(cache_dir / f".{out.name}.lock"):
        raw = _read_decoded(out, source)
        if raw is not None:
            return _warned(raw)
        n = len(source.train) + len(source.test)
        if n >= NOTE_IMAGES:
            print(f"{where.name}: first use at {shape[1]}x{shape[0]}, decoding its {n:,} "
                  f"images once (cached in {cache_dir})", file=sys.stderr, flush=True)
        arrays: dict[str, np.ndarray] = {}
        errors: list[tuple[str, int, str, str]] = []
        for key, split in (("train", source.train), ("test", source.test)):
            dec = decode_all(read_item, split.locators(), split.name, shape[2], shape[:2],
                             progress=progress)
            x = np.zeros((len(split), *shape), np.uint8)
            x[dec.ok] = dec.x
            arrays[f"x_{key}"], arrays[f"ok_{key}"] = x, dec.ok
            errors.extend((key, int(i), split.name(int(i)), why) for i, why in dec.errors)
        _write_decoded(out, arrays, errors)
        raw = _read_decoded(out, source) or _raw(source, arrays, errors)
    return _warned(raw)


def _warned(raw: RawData) -> RawData:
    warn_skipped([text for _, _, text in raw.skipped])
    return raw


def _raw(source: FileSource, arrays: dict[str, np.ndarray],
         errors: list[tuple[str, int, str, str]]) -> RawData:
    return RawData(arrays["x_train"], source.train.labels, arrays["x_test"], source.test.labels,
                   list(source.class_names), ok_train=arrays["ok_train"],
                   ok_test=arrays["ok_test"],
                   skipped=tuple((split, i, f"{name}: {why}") for split, i, name, why in errors))


def _write_decoded(out: Path, arrays: dict[str, np.ndarray],
                   errors: list[tuple[str, int, str, str]]) -> None:
    tmp = out.with_name(f"{out.name}.{os.getpid()}.tmp")
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for key, value in arrays.items():
            np.save(tmp / f"{key}.npy", value)
        (tmp / "skipped.json").write_text(json.dumps(errors))
        shutil.rmtree(out, ignore_errors=True)
        os.replace(tmp, out)  # atomic: concurrent readers never see half of it
    except OSError as exc:
        warnings.warn(f"could not write data cache {out}: {exc}", stacklevel=3)
        shutil.rmtree(tmp, ignore_errors=True)


def _read_decoded(out: Path, source: FileSource) -> RawData | None:
    if not out.is_dir():
        return None
    try:
        arrays = {key: np.load(out / f"{key}.npy", mmap_mode="r", allow_pickle=False)
                  for key in _ARRAYS}
        errors = [(str(a), int(b), str(c), str(d))
                  for a, b, c, d in json.loads((out / "skipped.json").read_text())]
        if len(arrays["x_train"]) != len(source.train) or \
                len(arrays["x_test"]) != len(source.test):
            raise ValueError("its arrays do not match the listing")
    except Exception as exc:  # noqa: BLE001 - a damaged cache is rebuilt, never fatal
        warnings.warn(f"ignoring unreadable data cache {out}: {exc}", stacklevel=3)
        shutil.rmtree(out, ignore_errors=True)
        return None
    return _raw(source, arrays, errors)  # type: ignore[arg-type]
