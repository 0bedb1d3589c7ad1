"""Tar archives of image folders, unpacked once into the cache, member by member.

An archive (`.tar`, `.tar.gz`/`.tgz`, `.tar.bz2`, `.tar.xz`) is read as a stream: one member
at a time, never whole into memory, and never seeking (a compressed archive cannot). Each
image member is copied into the cache under a name of ours (`<split>/<class number>/<n><ext>`:
no member name ever becomes a path, so `../` or absolute names cannot escape), and the
listing keeps the member's own name for messages. Links, devices, directories and non-image
members are skipped without being read.

Bounds (a hostile archive is refused in seconds, with one line): an image member larger than
MAX_MEMBER_BYTES (a sparse member that claims gigabytes is refused by its header alone); more
than MAX_MEMBERS members; more bytes than the cache's disk has free (less a margin); and an
archive that expands more than MAX_EXPANSION times its compressed size (image files hardly
compress: a "zip bomb" of zeros does) once past EXPANSION_CHECK_BYTES.

The unpacking is atomic: into a temporary folder renamed into place when complete, under a
lock, so two processes that meet the same archive unpack it once.
"""

from __future__ import annotations

import os
import shutil
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from resnet_nas.data.dataset import DataError
from resnet_nas.data.layout import EVAL_SPLIT_DIRS, is_image_name

#: Largest image member (a 50-megapixel photo as PNG is under 64 MiB).
MAX_MEMBER_BYTES = 64 << 20
#: Most members an archive may have.
MAX_MEMBERS = 20_000_000
#: Free space left on the cache's disk after unpacking.
FREE_MARGIN_BYTES = 1 << 30
#: Largest ratio of unpacked image bytes to compressed bytes read (JPEG and PNG: about 1).
MAX_EXPANSION = 50
#: The expansion check starts after this many unpacked bytes (tiny test archives of flat
#: colours compress well).
EXPANSION_CHECK_BYTES = 64 << 20
#: Longest class name kept from an archive.
MAX_NAME_CHARS = 255

ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")


def is_archive_name(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES)


@dataclass(frozen=True)
class Member:
    """One unpacked image: where it went, and what the archive called it."""

    split: str
    class_name: str
    path: str  # relative to the unpacked folder
    name: str  # the member's name in the archive


class _CountingReader:
    """The archive file, counting the (compressed) bytes tarfile has read from it."""

    def __init__(self, path: Path):
        self._f = open(path, "rb")  # noqa: SIM115 - closed by close()
        self.read_bytes = 0

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        self.read_bytes += len(data)
        return data

    def close(self) -> None:
        self._f.close()


def _member_place(parts: tuple[str, ...]) -> tuple[tuple[str, ...], str, str] | None:
    """(root parts, split, class) of an image member at root/<split>/<class>/<file>."""
    if len(parts) < 3:
        return None
    split = parts[-3].lower()
    if split != "train" and split not in EVAL_SPLIT_DIRS:
        return None
    return parts[:-3], parts[-3], parts[-2]


def unpack(src: Path, dest: Path) -> list[Member]:
    """Unpacks the image members of the tar archive `src` into the new folder `dest`.

    Returns:
      The unpacked members, in archive order (`dest` holds them).

    Raises:
      DataError: an unreadable or hostile archive (naming it and the bound it broke); `dest`
        is then not created.
    """
    tmp = dest.with_name(f"{dest.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        members = _unpack_into(src, tmp)
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return members


def _unpack_into(src: Path, tmp: Path) -> list[Member]:
    free = shutil.disk_usage(tmp).free - FREE_MARGIN_BYTES
    reader = _CountingReader(src)
    members: list[Member] = []
    unpacked = count = 0
    counters: dict[tuple[str, str], int] = {}
    classes: dict[tuple[str, str], int] = {}
    roots: set[tuple[str, ...]] = set()
    try:
        with tarfile.open(fileobj=reader, mode="r|*") as tar:
            for info in tar:
                count += 1
                if count > MAX_MEMBERS:
                    raise DataError(f"{src}: more than {MAX_MEMBERS:,} members; not an image "
                                    "data set this tool unpacks")
                if not info.isfile() or not is_image_name(info.name):
                    continue
                parts = tuple(p for p in PurePosixPath(info.name).parts if p not in (".", ""))
                place = _member_place(parts)
                if place is None:
                    continue
                root, split, class_name = place
                if len(class_name) > MAX_NAME_CHARS or not class_name.isprintable():
                    raise DataError(f"{src}: member {info.name[:300]!r}: a class folder name "
                                    f"must be printable and at most {MAX_NAME_CHARS} characters")
                if info.size > MAX_MEMBER_BYTES:
                    raise DataError(f"{src}: member {info.name[:300]} is {info.size:,} bytes; "
                                    f"an image member may have at most {MAX_MEMBER_BYTES:,}")
                unpacked += info.size
                if unpacked > free:
                    raise DataError(f"{src}: unpacking needs more than the {max(free, 0):,} "
                                    f"bytes free on {tmp.parent}'s disk (less a "
                                    f"{FREE_MARGIN_BYTES >> 30} GiB margin); free space or set "
                                    "data.cache_dir / $RESNET_NAS_CACHE elsewhere")
                roots.add(root)
                key = (split.lower(), class_name)
                cls = classes.setdefault(key, len(classes))
                n = counters.get(key, 0)
                counters[key] = n + 1
                suffix = PurePosixPath(parts[-1]).suffix.lower()
                rel = f"{split.lower()}/{cls:05d}/{n:08d}{suffix}"
                target = tmp / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                fobj = tar.extractfile(info)
                with open(target, "wb") as out:
                    if fobj is not None:
                        shutil.copyfileobj(fobj, out, 1 << 20)
                members.append(Member(split.lower(), class_name, rel, info.name))
                if (unpacked > EXPANSION_CHECK_BYTES
                        and unpacked > MAX_EXPANSION * max(reader.read_bytes, 1)):
                    raise DataError(f"{src}: expands more than {MAX_EXPANSION}x its compressed "
                                    "size; image files hardly compress, so this is not an "
                                    "image archive")
    except (tarfile.TarError, EOFError, OSError, UnicodeError, ValueError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"{src}: cannot read archive ({type(exc).__name__}: {exc})") from None
    finally:
        reader.close()
    if len(roots) > 1:
        shown = ", ".join("/".join(r) or "<top level>" for r in sorted(roots))
        raise DataError(f"{src}: several folders with train/ or test/ in the archive ({shown}); "
                        "expected exactly one")
    return members


def note_first_unpack(src: Path, cache_dir: Path) -> None:
    print(f"{src.name}: first use, unpacking its images once (into {cache_dir})",
          file=sys.stderr, flush=True)
