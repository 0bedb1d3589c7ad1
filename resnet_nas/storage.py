"""Optuna storages by URL, with heartbeats so a killed worker leaves no trial stuck RUNNING.

URLs: any SQLAlchemy URL Optuna's RDBStorage takes (`sqlite:///run/study.db`,
`postgresql://user@host/db`, `mysql+pymysql://...`), or `journal:///path/to/study.log` for
Optuna's file JournalStorage (several workers on one machine without a database).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from collections.abc import Iterator
from pathlib import Path

import optuna

HEARTBEAT_INTERVAL = 10  # seconds between heartbeats of a running trial
GRACE_PERIOD = 40  # a RUNNING trial without a heartbeat for this long is stale


class StorageError(RuntimeError):
    """A storage URL cannot be opened (unreachable database, bad scheme, ...)."""


def default_storage_url(run_dir: str | Path) -> str:
    return f"sqlite:///{Path(run_dir).resolve() / 'study.db'}"


def open_storage(url: str, heartbeat: bool = True) -> optuna.storages.BaseStorage:
    """Opens (and for SQLite, creates) the storage at `url`.

    Raises:
      StorageError: with the URL and the underlying reason, for a storage that cannot be used.
    """
    try:
        if url.startswith("journal://"):
            path = url[len("journal://"):]
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            backend = optuna.storages.journal.JournalFileBackend(
                path, lock_obj=optuna.storages.journal.JournalFileOpenLock(path))
            return optuna.storages.JournalStorage(backend)
        if url.startswith("sqlite:///"):
            Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        kwargs = {}
        if heartbeat:
            kwargs = {"heartbeat_interval": HEARTBEAT_INTERVAL, "grace_period": GRACE_PERIOD}
        engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
        if url.startswith(("postgresql", "mysql")):
            engine_kwargs = {"pool_pre_ping": True}
        return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, **kwargs)
    except Exception as e:  # SQLAlchemy/driver errors are many; the user needs URL + reason
        raise StorageError(f"cannot open storage {redact(url)!r}: {type(e).__name__}: "
                           f"{str(e).splitlines()[0] if str(e) else ''}") from None


def redact(url: str) -> str:
    """The URL with any password replaced by ***."""
    if "://" in url and "@" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        if ":" in creds:
            creds = creds.split(":", 1)[0] + ":***"
        return f"{scheme}://{creds}@{host}"
    return url


@contextmanager
def heartbeat(storage: optuna.storages.BaseStorage, trial_id: int,
              interval: float = HEARTBEAT_INTERVAL) -> Iterator[None]:
    """Records heartbeats for a RUNNING trial while the block runs (ask/tell has none)."""
    record = getattr(storage, "record_heartbeat", None)
    enabled = getattr(storage, "is_heartbeat_enabled", lambda: False)()
    if record is None or not enabled:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        while not stop.is_set():
            try:
                record(trial_id)
            except Exception:  # a missed beat is not fatal; the next one may succeed
                pass
            stop.wait(interval)

    thread = threading.Thread(target=beat, name=f"heartbeat-{trial_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
