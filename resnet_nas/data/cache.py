"""Where a data set's derived files live (unpacked archives, TFRecord indexes, decoded
arrays), and the lock that lets two processes build one of them once."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Iterator
from pathlib import Path


def default_cache_dir() -> Path:
    """$RESNET_NAS_CACHE, else ~/.cache/resnet_nas."""
    env = os.environ.get("RESNET_NAS_CACHE")
    return Path(env).expanduser() if env else Path("~/.cache/resnet_nas").expanduser()


def resolve_cache_dir(cache_dir: str | None) -> Path:
    return Path(cache_dir).expanduser() if cache_dir else default_cache_dir()


def stem(path: Path) -> str:
    """A file-name-safe short name of a data set's file or folder."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", path.name.split(".")[0])[:40] or "data"


@contextlib.contextmanager
def cache_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` (a lock file): two processes that meet the same data at
    once (the two trial processes of look-ahead) build its cache once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
