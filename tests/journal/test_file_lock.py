"""The journal's lock: exclusive, a left-behind lock is removed after the grace period, and a
holder paused past it neither crashes on release nor removes the lock another process took."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from optuna.storages.journal import JournalFileOpenLock

from resnet_nas.journal.file_lock import LockTakenOverWarning, OwnedFileLock


def test_the_lock_is_a_file_removed_on_release(tmp_path):
    journal = str(tmp_path / "j")
    lock = OwnedFileLock(journal)
    assert lock.acquire()
    assert os.path.exists(journal + ".lock")
    lock.release()
    assert os.listdir(tmp_path) == []


def test_a_second_holder_waits_until_the_first_releases(tmp_path):
    journal = str(tmp_path / "j")
    first = OwnedFileLock(journal)
    first.acquire()
    # another process, Optuna's own lock: the same file excludes both
    code = ("import sys, time; from optuna.storages.journal import JournalFileOpenLock as L; "
            "l = L(sys.argv[1]); t = time.monotonic(); l.acquire(); "
            "print(time.monotonic() - t); l.release()")
    other = subprocess.Popen([sys.executable, "-c", code, journal], stdout=subprocess.PIPE,
                             text=True)
    time.sleep(1.0)
    assert other.poll() is None  # still waiting
    first.release()
    out, _ = other.communicate(timeout=60)
    assert float(out) >= 1.0
    assert not os.path.exists(journal + ".lock")


def test_a_holder_paused_past_the_grace_period_leaves_the_new_holders_lock(tmp_path):
    journal = str(tmp_path / "j")
    paused = OwnedFileLock(journal, grace_period=0.3)
    paused.acquire()  # ... and the process stops here, past the grace period
    woke = OwnedFileLock(journal, grace_period=0.3)
    with pytest.warns(LockTakenOverWarning, match="removed as left behind"):
        assert woke.acquire()
    # the paused holder wakes and releases: a warning, no error, and the lock stays the
    # other's
    with pytest.warns(LockTakenOverWarning, match="took it over"):
        paused.release()
    assert os.path.exists(journal + ".lock")
    woke.release()
    assert not os.path.exists(journal + ".lock")


def test_optunas_own_lock_would_crash_the_paused_holder(tmp_path):
    # the failure OwnedFileLock exists for (if Optuna changes this, the module doc is stale)
    journal = str(tmp_path / "j")
    paused = JournalFileOpenLock(journal, grace_period=1)
    paused.acquire()
    taker = JournalFileOpenLock(journal, grace_period=1)
    start = time.monotonic()
    taker.acquire()
    assert time.monotonic() - start >= 1
    taker.release()
    with pytest.raises(RuntimeError, match="did not possess lock"):
        paused.release()
