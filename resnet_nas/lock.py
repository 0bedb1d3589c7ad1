"""One process per run directory: `RunLock`, an exclusive flock on RUN_DIR/.lock.

The kernel drops a flock when its holder dies, even by SIGKILL, so a stale lock is simply taken
over.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import socket
from pathlib import Path
from typing import Any

from resnet_nas.errors import RunBusyError
from resnet_nas.fileio import open_lock_file, refuse_symlinks

LOCK_FILE = ".lock"


def holder_info() -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname(),
            "since": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


class RunLock:
    """The lock of a run directory: one process works in it at a time.

    An exclusive flock on RUN_DIR/.lock, held for the process's lifetime; once the process
    starts working (`announce`) the file says who holds it (pid, host, since). The kernel drops
    the lock when its holder dies, even by SIGKILL, so a stale lock file is simply taken over.
    A process refused by its checks after `acquire` leaves the file as it was.
    """

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK_FILE
        self._fd: int | None = None
        self._what = "search"
        self._announced = False
        self.took_over: dict[str, Any] | None = None

    def acquire(self, what: str = "search") -> "RunLock":
        """Raises RunBusyError when a live process holds the lock, SearchError when the run
        directory holds symbolic links."""
        refuse_symlinks(self.path.parent)  # before anything is written there
        fd = open_lock_file(self.path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            who = (f"a running {holder.get('what', 'search')} (pid {holder.get('pid')} on host "
                   f"{holder.get('host')}, since {holder.get('since')})" if holder
                   else f"another process (it holds {self.path})")
            raise RunBusyError(
                f"{self.path.parent} is in use by {who}; one search process per run "
                "directory: wait for it or stop it, or run several workers on one study: "
                "python -m resnet_nas worker --study NAME --storage URL") from None
        old = _read_holder(fd)
        if old and (old.get("pid"), old.get("host")) != (os.getpid(), socket.gethostname()):
            self.took_over = old
        self._fd = fd
        self._what = what
        return self

    def announce(self) -> None:
        """Writes who holds the lock (for the message another process gets)."""
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, json.dumps({**holder_info(), "what": self._what}).encode(), 0)
            self._announced = True

    def release(self) -> None:
        """Drops the lock; an announced holder's note goes too (a note left behind means its
        holder died holding the lock)."""
        if self._fd is not None:
            if self._announced:
                os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def __enter__(self) -> "RunLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _read_holder(fd: int) -> dict[str, Any]:
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
        return data if isinstance(data, dict) else {}
    except (ValueError, OSError):
        return {}
