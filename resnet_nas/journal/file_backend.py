"""Optuna's journal file, kept readable when a write is cut short (a full disk, a killed
process).

Optuna's `JournalFileBackend` appends each batch of log entries as JSON lines. A write that the
disk cannot finish leaves a last line without its newline; Optuna's reader skips such a line,
but its next append joins a new entry onto it, and from then on every open of the file fails
with a JSON error. `SafeJournalFileBackend` is Optuna's backend with a repair step of ours,
under the journal's lock (resnet_nas.journal.file_lock: Optuna's protocol, safe for a paused
holder), which every writer takes: before each append,
and when the file is opened, a last line without its newline is cut off (it was never a whole
entry: no reader used it), with a warning that says how many bytes were dropped and how they
began; and an append that fails (no space left) takes its own partial line back, so it leaves
the file as it found it.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import warnings
from collections.abc import Iterator
from typing import Any

from optuna.storages.journal import JournalFileBackend

from resnet_nas.errors import DiskFullError
from resnet_nas.journal.file_lock import OwnedFileLock

#: Bytes of a dropped line shown in the warning.
SHOWN = 120


class JournalRepairWarning(UserWarning):
    """A journal file's cut-off last line was dropped."""


def torn_tail(path: str) -> tuple[int, bytes]:
    """(offset, bytes) of the journal's last line when it has no newline (a write that did
    not finish), else (size, b'')."""
    size = os.path.getsize(path)
    if size == 0:
        return 0, b""
    with open(path, "rb") as f:
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return size, b""
        # the start of the last line: after the last newline before the end
        block = 1 << 16
        end = size
        while end > 0:
            start = max(0, end - block)
            f.seek(start)
            chunk = f.read(end - start)
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                offset = start + cut + 1
                break
            end = start
        else:
            offset = 0
        f.seek(offset)
        return offset, f.read(size - offset)


def repair(path: str) -> int:
    """Cuts a torn last line off the journal at `path` (the caller holds its lock); returns
    the bytes dropped, with a JournalRepairWarning when there were any."""
    offset, tail = torn_tail(path)
    if not tail:
        return 0
    with open(path, "r+b") as f:
        f.truncate(offset)
        f.flush()
        os.fsync(f.fileno())
    shown = tail[:SHOWN].decode("utf-8", "replace")
    warnings.warn(f"{path}: its last line was cut off ({len(tail):,} bytes of a write that did "
                  f"not finish, e.g. on a full disk: {shown!r}{'...' if len(tail) > SHOWN else ''}"
                  "); dropped (no reader had used it)", JournalRepairWarning, stacklevel=3)
    return len(tail)


class SafeJournalFileBackend(JournalFileBackend):
    """Optuna's JournalFileBackend that never appends onto a torn last line (see the module
    doc).

    Args:
      file_path: the journal file.
    """

    def __init__(self, file_path: str):
        self.path = file_path
        self.lock = OwnedFileLock(file_path)
        super().__init__(file_path, lock_obj=self.lock)
        with self._locked():
            repair(file_path)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.lock.acquire()
        try:
            yield
        finally:
            self.lock.release()

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        text = "\n".join(json.dumps(log, separators=(",", ":")) for log in logs) + "\n"
        with self._locked():
            repair(self.path)
            before = os.path.getsize(self.path)
            try:
                with open(self.path, "ab") as f:
                    f.write(text.encode("utf-8"))
                    f.flush()
                    os.fsync(f.fileno())
            except OSError as e:
                # take the partial line back: the file is as it was before this append
                with open(self.path, "r+b") as f:
                    f.truncate(before)
                if e.errno == errno.ENOSPC:
                    raise DiskFullError(self.path) from None
                raise
