"""The journal file's lock, safe for a process paused while it holds it.

Optuna's JournalFileOpenLock creates `<journal>.lock` exclusively and removes it on release; a
lock file unchanged for its grace period counts as left behind by a dead process, and the next
writer removes it. A process that was only paused (SIGSTOP, a suspended laptop, a swapped-out
VM) past that period then finds, on waking, that its lock is gone: Optuna's release raises
"did not possess lock" and the search dies; worse, when another writer holds the lock by then,
the woken process removes that writer's lock file. `OwnedFileLock` keeps Optuna's protocol
(same file, same exclusive create, same grace period: it works beside Optuna's own lock) and
writes an owner token into the file: a release removes the lock only when it is still its own,
and otherwise warns that it was taken over.
"""

from __future__ import annotations

import os
import time
import uuid
import warnings

#: The suffix of Optuna's lock file (optuna.storages.journal.JournalFileOpenLock's): a user's
#: own Optuna process and ours exclude each other.
LOCK_SUFFIX = ".lock"

#: Seconds a lock file may stay unchanged before it counts as left behind (Optuna's default).
GRACE_PERIOD = 30.0

#: Longest wait between two tries to take the lock.
MAX_SLEEP = 0.1


class LockTakenOverWarning(UserWarning):
    """This process held the journal's lock past the grace period (it was paused) and another
    process took it meanwhile."""


class OwnedFileLock:
    """An exclusive lock file beside the journal, with its owner's token in it: the
    `acquire` / `release` pair that optuna.storages.journal.JournalFileBackend takes as its lock.

    Args:
      journal_path: the journal file; the lock is `journal_path + ".lock"`.
      grace_period: seconds an unchanged lock file is honoured before it is removed as left
        behind by a process that died.
    """

    def __init__(self, journal_path: str, grace_period: float = GRACE_PERIOD):
        self.path = journal_path + LOCK_SUFFIX
        self.grace_period = grace_period
        self._token: bytes | None = None

    def acquire(self) -> bool:
        token = f"{os.getpid()} {uuid.uuid4().hex}".encode()
        sleep = 0.001
        seen: tuple[int, int] | None = None
        since = time.monotonic()
        while True:
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    st = os.stat(self.path)
                except FileNotFoundError:
                    continue  # released between the two calls
                state = (st.st_ino, st.st_mtime_ns)
                if state != seen:  # a new holder: its grace period starts now
                    seen, since = state, time.monotonic()
                elif time.monotonic() - since > self.grace_period:
                    warnings.warn(f"{self.path}: unchanged for {self.grace_period:g} s; removed "
                                  "as left behind by a process that stopped",
                                  LockTakenOverWarning, stacklevel=2)
                    _remove(self.path)
                    seen = None
                    continue
                time.sleep(sleep)
                sleep = min(sleep * 2, MAX_SLEEP)
                continue
            try:
                os.write(fd, token)
            finally:
                os.close(fd)
            self._token = token
            return True

    def release(self) -> None:
        token, self._token = self._token, None
        try:
            with open(self.path, "rb") as f:
                holder = f.read()
        except FileNotFoundError:
            holder = None
        if token is None or holder != token:
            # paused past the grace period: the lock was removed, and maybe taken by another
            # writer, whose lock file stays
            warnings.warn(f"{self.path}: this process held the journal's lock longer than "
                          f"{self.grace_period:g} s (it was paused) and another process took it "
                          "over; left as it is", LockTakenOverWarning, stacklevel=2)
            return
        _remove(self.path)


def _remove(path: str) -> None:
    """Removes a lock file as Optuna does: renamed first, so that exactly one remover wins."""
    moved = f"{path}.{uuid.uuid4().hex}.removed"
    try:
        os.rename(path, moved)
    except FileNotFoundError:
        return
    os.unlink(moved)
