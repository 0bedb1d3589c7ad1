"""Optuna storages by URL, with heartbeats so a killed worker leaves no trial stuck RUNNING.

URLs: any SQLAlchemy URL Optuna's RDBStorage takes (`sqlite:///run/study.db`,
`postgresql://user@host/db`, `mysql+pymysql://...`), `journal:///path/to/study.log` for
Optuna's file JournalStorage (several workers on one machine without a database), or
`journal+postgresql://user@host/db` for the JournalStorage with its log in a PostgreSQL table
(resnet_nas.journal.postgres_backend: workers on many machines, with a third of
RDBStorage's bookkeeping per trial on the same server).

Heartbeats: every storage opened with heartbeats implements Optuna's heartbeat interface: RDB
storages their own (a heartbeat table), the journal through
resnet_nas.journal.heartbeat.HeartbeatJournalStorage. `heartbeat()` keeps a running trial's
heartbeat from ask to tell (ask/tell has none of its own), and
`optuna.storages.fail_stale_trials` finds the trials whose process died. The interval and the
grace period default to vocabulary.DEFAULT_HEARTBEAT_INTERVAL / DEFAULT_GRACE_PERIOD and can be
changed per process with
the environment variables RESNET_NAS_HEARTBEAT_INTERVAL / RESNET_NAS_HEARTBEAT_GRACE (whole
seconds).

Credentials: no storage URL is written anywhere unredacted (`redact`), and error messages are
scrubbed of the URL's secrets (`scrub`). $RESNET_NAS_STORAGE can carry the URL instead of
--storage, which keeps a password out of the shell history.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import warnings
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import optuna

from resnet_nas.journal.file_backend import SafeJournalFileBackend
from resnet_nas.journal.heartbeat import HeartbeatJournalStorage, StaleCallback
from resnet_nas.journal.postgres_backend import PostgresJournalBackend
from resnet_nas.vocabulary import DEFAULT_GRACE_PERIOD, DEFAULT_HEARTBEAT_INTERVAL

# We run ask/tell with our own heartbeat thread (heartbeat() below), which Optuna warns about;
# TPE's `group`/`constant_liar`, heartbeats and the stale-trial functions are "experimental".
warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
optuna.logging.set_verbosity(optuna.logging.WARNING)

INTERVAL_ENV = "RESNET_NAS_HEARTBEAT_INTERVAL"
GRACE_ENV = "RESNET_NAS_HEARTBEAT_GRACE"
#: The storage URL, when not given as --storage (keeps a password out of shell history).
STORAGE_ENV = "RESNET_NAS_STORAGE"
CONNECT_TIMEOUT = 10  # seconds to reach a database server
#: The scheme of Optuna's journal storage with its log in a PostgreSQL table.
POSTGRES_JOURNAL = "journal+postgresql"  # then :// or +DRIVER://


class StorageError(RuntimeError):
    """A storage URL cannot be opened (unreachable database, bad scheme, ...)."""


def heartbeat_settings(interval: int | None = None,
                       grace: int | None = None) -> tuple[int, int]:
    """The heartbeat interval and grace period in seconds: arguments, else env, else defaults.

    Raises:
      StorageError: a value that is not a positive whole number, or a grace period shorter
        than twice the interval (a live trial would look stale after one late beat).
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

    iv = pick(interval, INTERVAL_ENV, DEFAULT_HEARTBEAT_INTERVAL)
    gp = pick(grace, GRACE_ENV, DEFAULT_GRACE_PERIOD)
    if gp < 2 * iv:  # one late beat must not make a live trial look stale
        raise StorageError(f"the heartbeat grace period ({gp}s) must be at least twice the "
                           f"heartbeat interval ({iv}s)")
    return iv, gp


def open_storage(url: str, heartbeat: bool = True, interval: int | None = None,
                 grace: int | None = None, stale_callback: StaleCallback | None = None
                 ) -> optuna.storages.BaseStorage:
    """Opens (and for SQLite or a journal, creates) the storage at `url`.

    Args:
      url: a SQLAlchemy URL, `journal:///path` or `journal+postgresql://...`.
      heartbeat: with Optuna's heartbeat interface (RDB: Optuna's own; journal: ours).
      interval, grace: heartbeat interval / grace period in seconds (default: heartbeat_settings).
      stale_callback: what optuna.storages.fail_stale_trials does with each stale trial it
        fails (e.g. optuna.storages.RetryHeartbeatStaleTrialCallback()).

    Raises:
      StorageError: with the URL and the underlying reason, for a storage that cannot be used.
    """
    if heartbeat:
        interval, grace = heartbeat_settings(interval, grace)
    try:
        if url.startswith("journal://"):
            path = url[len("journal://"):]
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            backend = SafeJournalFileBackend(path)
            return _journal(backend, heartbeat, interval, grace, stale_callback)
        if url.startswith(POSTGRES_JOURNAL):
            return _journal(_postgres_journal(url), heartbeat, interval, grace, stale_callback)
        if url.startswith("sqlite:///"):
            Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        kwargs = {}
        if heartbeat:
            kwargs = {"heartbeat_interval": interval, "grace_period": grace,
                      "heartbeat_stale_trial_callback": stale_callback}
        engine_kwargs: dict[str, Any] = {}
        if url.startswith("sqlite:///"):
            engine_kwargs = {"creator": _sqlite_connector(url[len("sqlite:///"):])}
        elif url.startswith("sqlite"):
            engine_kwargs = {"connect_args": {"timeout": 60}}
        if url.startswith(("postgresql", "mysql")):
            engine_kwargs = {"pool_pre_ping": True, **_server_timeout(url)}
        storage = _rdb_storage(with_driver(url), engine_kwargs, kwargs)
        if url.startswith("sqlite:///"):
            # Closing the last connection folds the write-ahead log into the database file and
            # deletes it: study.db alone is then the whole study (copied or replaced on its
            # own). Done when the storage is dropped, or at exit at the latest.
            weakref.finalize(storage, storage.engine.dispose)
        return storage
    except Exception as e:  # SQLAlchemy/driver errors are many; the user needs URL + reason
        # (a driver may quote the URL, password included, in its message: scrub it)
        reason = scrub(str(e).splitlines()[0] if str(e) else "", url)
        raise StorageError(f"cannot open storage {redact(url)!r}: {type(e).__name__}: "
                           f"{reason}") from None


def _journal(backend: Any, heartbeat: bool, interval: int | None, grace: int | None,
             stale_callback: StaleCallback | None) -> optuna.storages.JournalStorage:
    if heartbeat:
        return HeartbeatJournalStorage(backend, interval, grace, stale_callback)
    return optuna.storages.JournalStorage(backend)


def _postgres_journal(url: str) -> PostgresJournalBackend:
    """The PostgreSQL journal log of a `journal+postgresql://` URL."""
    server = with_driver(url[len("journal+"):])
    return PostgresJournalBackend(server, _server_timeout(url))


def _server_timeout(url: str) -> dict[str, Any]:
    """Engine arguments that make an unreachable host fail in seconds, not minutes (unless the
    URL sets its own connect_timeout)."""
    if "connect_timeout" in url:
        return {}
    return {"connect_args": {"connect_timeout": CONNECT_TIMEOUT}}


#: Attempts at opening an RDB storage whose tables another process may be creating.
SCHEMA_ATTEMPTS = 3


def _rdb_storage(url: str, engine_kwargs: dict[str, Any],
                 kwargs: dict[str, Any]) -> optuna.storages.RDBStorage:
    """Optuna's RDBStorage, tolerating another process creating its tables at the same time.

    RDBStorage creates the schema of an empty database with SQLAlchemy's check-then-create, so
    two processes that open one new database at once (builds or workers starting together)
    can both try to create a table: one of them gets a unique-key or "already exists" error.
    The tables exist by then, so opening again succeeds.
    """
    import sqlalchemy.exc

    for attempt in range(SCHEMA_ATTEMPTS):
        try:
            with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, **kwargs)
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError) as e:
            racing = isinstance(e, sqlalchemy.exc.IntegrityError) or "already exists" in str(e)
            if not racing or attempt == SCHEMA_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _sqlite_connector(path: str) -> Callable[[], sqlite3.Connection]:
    """Connections to a study's SQLite file in write-ahead-log mode with synchronous=NORMAL.

    SQLite's default (a rollback journal, fsync'd twice per commit) made the dozen commits of a
    trial a large part of its bookkeeping (experiments/bench_loop.py; figures:
    experiments/RESULTS.md).
    WAL + NORMAL commits without waiting for the disk and stays consistent: a killed process
    loses nothing it committed; only a power cut can lose the last commits (never corrupt the
    file), and the run's rows, not the study, are its record. The -wal/-shm files beside the
    database belong to it while a process has the study open (open_storage folds them back
    into the database when it is done; a killed process leaves them, and the next one to open
    the study recovers from them: a run directory moves whole).
    """
    def connect() -> sqlite3.Connection:
        # check_same_thread=False: the heartbeat thread takes connections from the same pool
        conn = sqlite3.connect(path.split("?", 1)[0], timeout=60, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    return connect


def with_driver(url: str) -> str:
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


#: Query parameters of a storage URL whose values are credentials.
SECRET_PARAMS = frozenset({"password", "passwd", "pwd", "pass", "secret", "token",
                           "access_token", "auth_token", "api_key", "apikey", "sslpassword",
                           "sslkey_password", "key_password"})
REDACTED = "***"


def _split_secrets(url: str) -> tuple[str, list[str]]:
    """(redacted URL, the secret strings it held)."""
    if "://" not in url:
        return url, []
    scheme, rest = url.split("://", 1)
    rest, sep, query = rest.partition("?")
    secrets = []
    if "@" in rest:
        # the last '@' ends the credentials: a password may hold '@' or '/'
        creds, host = rest.rsplit("@", 1)
        if ":" in creds:
            user, password = creds.split(":", 1)
            if password:
                secrets.append(password)
            creds = f"{user}:{REDACTED}"
        rest = f"{creds}@{host}"
    if sep:
        parts = []
        for item in query.split("&"):
            key, eq, value = item.partition("=")
            if eq and key.strip().lower() in SECRET_PARAMS and value:
                secrets.append(value)
                value = REDACTED
            parts.append(f"{key}{eq}{value}")
        query = "&".join(parts)
    return f"{scheme}://{rest}{sep}{query}", secrets


def redact(url: str) -> str:
    """The URL with every credential (user:PASSWORD@, ?password=..., ?token=...) replaced by
    ***; what may be written to a file, a log, a row or a message."""
    return _split_secrets(url)[0]


def scrub(text: str, url: str) -> str:
    """`text` (an error message, say) with every credential of `url` replaced by ***, in its
    plain and its percent-decoded form."""
    from urllib.parse import unquote

    for secret in _split_secrets(url)[1]:
        for form in {secret, unquote(secret)}:
            if form:
                text = text.replace(form, REDACTED)
    return text


def heartbeat_interval(storage: optuna.storages.BaseStorage) -> int | None:
    """The storage's heartbeat interval; None when it keeps no heartbeats."""
    get = getattr(storage, "get_heartbeat_interval", None)
    return get() if get is not None else None


@contextmanager
def heartbeat(storage: optuna.storages.BaseStorage, trial_id: int,
              interval: float | None = None) -> Iterator[None]:
    """Records heartbeats of a RUNNING trial while the block runs (ask/tell has none).

    Storages without heartbeats get nothing. The first beat is recorded before the block
    starts, so a process killed before its first interval still leaves a stale trial.
    """
    every = interval or heartbeat_interval(storage)
    if not every:
        yield
        return
    try:
        storage.record_heartbeat(trial_id)
    except Exception:  # a missed beat is not fatal; the next one may succeed
        pass
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(every):
            try:
                storage.record_heartbeat(trial_id)
            except Exception:
                pass

    thread = threading.Thread(target=beat, name=f"heartbeat-{trial_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
