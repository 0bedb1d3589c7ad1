"""Image folders: train/<class>/*.{jpg,jpeg,png} and test/<class>/* in a directory or a
.tar.gz; decoded arrays are cached as .npz (CIFAR-10: ~7 s once, then ~0.4 s).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import sys
import tarfile
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from resnet_nas.data.dataset import DataError, RawData, RawLabels
from resnet_nas.validation import ConfigError


IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")


#: Bump when the layout of cached .npz files changes, so stale caches are ignored.
_CACHE_FORMAT = 1


#: A first decode at least this large says so on stderr (a few seconds or more).
NOTE_IMAGES = 2_000
NOTE_ARCHIVE_BYTES = 5 * 2**20


def default_cache_dir() -> Path:
    """$RESNET_NAS_CACHE, else ~/.cache/resnet_nas."""
    env = os.environ.get("RESNET_NAS_CACHE")
    return Path(env).expanduser() if env else Path("~/.cache/resnet_nas").expanduser()


@dataclass
class _Listing:
    """Image files of a folder layout, not yet decoded.

    items: (display name, payload, split, class) per image; payload holds the bytes for archive
      members and is None for files on disk (read when decoded).
    """

    items: list[tuple[str, bytes | None, str, str]]
    where: str


def resolve_cache_dir(cache_dir: str | None) -> Path:
    return Path(cache_dir).expanduser() if cache_dir else default_cache_dir()


def _is_image(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    # Skip hidden files such as macOS '._x.jpg' resource forks that tar archives often carry.
    return not base.startswith(".") and base.lower().endswith(IMAGE_EXTENSIONS)


def load_folder(path: str | None, cache_dir: Path) -> RawData:
    src, listing, cache_file = _locate(path, cache_dir)
    cached = _read_cache(cache_file)
    if cached is not None:
        return cached
    return _decode_and_cache(src, listing, cache_file, cache_dir)


def folder_labels(path: str | None, cache_dir: Path) -> RawLabels:
    """The labels and image shapes of the folder data at `path`, read from its cache without
    the pixels (the search process needs no more: resnet_nas.data.dataset_facts). A folder not
    cached yet is decoded and cached first, as load_folder would."""
    src, listing, cache_file = _locate(path, cache_dir)
    cached = _read_cache_labels(cache_file)
    if cached is not None:
        return cached
    raw = _read_cache(cache_file) or _decode_and_cache(src, listing, cache_file, cache_dir)
    return RawLabels.of(raw)


def _locate(path: str | None, cache_dir: Path) -> tuple[Path, _Listing | None, Path]:
    """The resolved source, its listing (directories only: an archive is listed when it is
    decoded) and its cache file."""
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
    return src, listing, cache_dir / f"folder-{stem}-{digest[:16]}.npz"


def _decode_and_cache(src: Path, listing: _Listing | None, cache_file: Path,
                      cache_dir: Path) -> RawData:
    # The first decode of a large data set takes minutes: say so (a small one stays quiet), and
    # show a bar on a terminal.
    large = (len(listing.items) >= NOTE_IMAGES if listing is not None
             else src.stat().st_size >= NOTE_ARCHIVE_BYTES)
    if large:
        print(f"{src.name}: first use, decoding its images once (cached in {cache_dir})",
              file=sys.stderr, flush=True)
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


def _decode_listing(listing: _Listing) -> RawData:
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
    return RawData(x[is_train], y[is_train], x[~is_train], y[~is_train], train_classes)


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

    from tqdm.auto import tqdm

    arrays: list[np.ndarray] = []
    size: tuple[int, int] | None = None
    first = ""
    bar = tqdm(items, desc="decoding", unit="img", disable=None, mininterval=1.0,
               file=sys.stderr, leave=False)  # disable=None: only on a terminal
    for name, payload in bar:
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


def _read_cache(cache_file: Path) -> RawData | None:
    if not cache_file.is_file():
        return None
    try:
        with np.load(cache_file, allow_pickle=False) as z:
            return RawData(z["x_train"], z["y_train"], z["x_test"], z["y_test"],
                        [str(s) for s in z["class_names"]])
    except Exception as exc:  # a damaged cache is rebuilt, never fatal
        warnings.warn(f"ignoring unreadable data cache {cache_file}: {exc}", stacklevel=3)
        return None


def _read_cache_labels(cache_file: Path) -> RawLabels | None:
    """The cache's labels and class names, and its image arrays' shapes from their .npy
    headers: the pixels (all but a few bytes of the file) are not read. None where the cache
    is absent or cannot be read so (then it is read whole, and rebuilt if damaged)."""
    if not cache_file.is_file():
        return None
    try:
        with np.load(cache_file, allow_pickle=False) as z:
            train_shape, test_shape = (_npy_shape(z.zip, f"{key}.npy")
                                       for key in ("x_train", "x_test"))
            if train_shape is None or test_shape is None:
                return None
            return RawLabels(train_shape, z["y_train"], test_shape, z["y_test"],
                             [str(s) for s in z["class_names"]])
    except Exception:  # noqa: BLE001 - the whole read decides (and warns)
        return None


def _npy_shape(zf: zipfile.ZipFile, member: str) -> tuple[int, ...] | None:
    """The shape in a .npy member's header (None for a header other than uint8 NHWC)."""
    with zf.open(member) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            return None
    return tuple(shape) if dtype == np.uint8 and len(shape) == 4 else None


def _write_cache(cache_file: Path, raw: RawData) -> None:
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
