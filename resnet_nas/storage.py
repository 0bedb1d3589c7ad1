"""Optuna storages by URL, with heartbeats so a killed worker leaves no trial stuck RUNNING.

URLs: any SQLAlchemy URL Optuna's RDBStorage takes (`sqlite:///run/study.db`,
`postgresql://user@host/db`, `mysql+pymysql://...`), or `journal:///path/to/study.log` for
Optuna's file JournalStorage (several workers on one machine without a database).

Heartbeats: RDB storages use Optuna's own heartbeat table. Optuna's JournalStorage has none, so
`heartbeat()` records the time of each beat in the trial's system attribute `HEARTBEAT_ATTR`
instead (`resnet_nas.distributed` reads it to find stale trials). The interval and the grace
period default to HEARTBEAT_INTERVAL / GRACE_PERIOD and can be changed per process with the
environment variables RESNET_NAS_HEARTBEAT_INTERVAL / RESNET_NAS_HEARTBEAT_GRACE (whole seconds).
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from contextlib import contextmanager
from collections.abc import Iterator
from pathlib import Path

import optuna

HEARTBEAT_INTERVAL = 10  # seconds between heartbeats of a running trial
GRACE_PERIOD = 40  # a RUNNING trial without a heartbeat for this long is stale
HEARTBEAT_ATTR = "resnet_nas:heartbeat"  # trial system attr: time.time() of the last beat
INTERVAL_ENV = "RESNET_NAS_HEARTBEAT_INTERVAL"
GRACE_ENV = "RESNET_NAS_HEARTBEAT_GRACE"
CONNECT_TIMEOUT = 10  # seconds to reach a database server


class StorageError(RuntimeError):
    """A storage URL cannot be opened (unreachable database, bad scheme, ...)."""


def default_storage_url(run_dir: str | Path) -> str:
    return f"sqlite:///{Path(run_dir).resolve() / 'study.db'}"


def heartbeat_settings(interval: int | None = None,
                       grace: int | None = None) -> tuple[int, int]:
    """The heartbeat interval and grace period in seconds: arguments, else env, else defaults.

    Raises:
      StorageError: a value that is not a positive whole number, or a grace period that is not
        longer than the interval (every live trial would look stale).
    """
    def pick(value: int | None, env: str, default: int) -> int:
        if value is None:
            text = os.environ.get(env, "").strip()
            if not text:
                return default
            try:
                value = int(text)
            except ValueError:
                raise StorageError(f"{env} must be a whole number of seconds, got {text!r}") \
                    from None
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise StorageError(f"heartbeat settings must be whole seconds >= 1, got {value!r} "
                               f"({env})")
        return value

    iv = pick(interval, INTERVAL_ENV, HEARTBEAT_INTERVAL)
    gp = pick(grace, GRACE_ENV, GRACE_PERIOD)
    if gp <= iv:
        raise StorageError(f"the heartbeat grace period ({gp}s) must be longer than the "
                           f"heartbeat interval ({iv}s)")
    return iv, gp


def open_storage(url: str, heartbeat: bool = True, interval: int | None = None,
                 grace: int | None = None) -> optuna.storages.BaseStorage:
    """Opens (and for SQLite, creates) the storage at `url`.

    Args:
      url: a SQLAlchemy URL or `journal:///path`.
      heartbeat: enable Optuna's heartbeats (RDB storages only; journals use `heartbeat()`).
      interval, grace: heartbeat interval / grace period in seconds (default: heartbeat_settings).

    Raises:
      StorageError: with the URL and the underlying reason, for a storage that cannot be used.
    """
    if heartbeat:
        interval, grace = heartbeat_settings(interval, grace)
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
            kwargs = {"heartbeat_interval": interval, "grace_period": grace}
        engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
        if url.startswith(("postgresql", "mysql")):
            engine_kwargs = {"pool_pre_ping": True}
            if "connect_timeout" not in url:  # an unreachable host fails in seconds, not minutes
                engine_kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT}
        with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(_with_driver(url), engine_kwargs=engine_kwargs,
                                              **kwargs)
    except Exception as e:  # SQLAlchemy/driver errors are many; the user needs URL + reason
        raise StorageError(f"cannot open storage {redact(url)!r}: {type(e).__name__}: "
                           f"{str(e).splitlines()[0] if str(e) else ''}") from None


def _with_driver(url: str) -> str:
    """A plain postgresql:// URL with a driver that is installed: SQLAlchemy 2.1 reads it as
    psycopg (3), 2.0 as psycopg2, and either may be installed (the test extra has psycopg2)."""
    if not url.startswith(("postgresql://", "postgres://")):
        return url
    import importlib.util
    rest = url.split("://", 1)[1]
    for module, scheme in (("psycopg", "postgresql+psycopg"), ("psycopg2", "postgresql+psycopg2")):
        if importlib.util.find_spec(module) is not None:
            return f"{scheme}://{rest}"
    return url


def redact(url: str) -> str:
    """The URL with any password replaced by ***."""
    if "://" in url and "@" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        if ":" in creds:
            creds = creds.split(":", 1)[0] + ":***"
        return f"{scheme}://{creds}@{host}"
    return url


def is_journal(storage: optuna.storages.BaseStorage) -> bool:
    return isinstance(storage, optuna.storages.JournalStorage)


@contextmanager
def heartbeat(storage: optuna.storages.BaseStorage, trial_id: int,
              interval: float | None = None) -> Iterator[None]:
    """Records heartbeats for a RUNNING trial while the block runs (ask/tell has none).

    RDB storages with heartbeats enabled get Optuna's heartbeat; a JournalStorage gets the time of
    each beat in the trial's system attribute HEARTBEAT_ATTR; other storages get nothing. The
    first beat is recorded before the block starts.
    """
    record = getattr(storage, "record_heartbeat", None)
    # Optuna's own test (optuna.storages._heartbeat.is_heartbeat_enabled, a private function).
    enabled = getattr(storage, "get_heartbeat_interval", lambda: None)() is not None
    if is_journal(storage):
        def record(tid: int) -> None:  # noqa: F811 - journals have no heartbeat API
            storage.set_trial_system_attr(tid, HEARTBEAT_ATTR, time.time())
    elif record is None or not enabled:
        yield
        return
    if interval is None:
        interval = getattr(storage, "get_heartbeat_interval", lambda: None)() or \
            heartbeat_settings()[0]
    try:
        record(trial_id)  # at once: a worker killed before the first interval is still found
    except Exception:
        pass
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval):
            try:
                record(trial_id)
            except Exception:  # a missed beat is not fatal; the next one may succeed
                pass

    thread = threading.Thread(target=beat, name=f"heartbeat-{trial_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
