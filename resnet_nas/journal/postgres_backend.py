"""Optuna's journal storage with its log in a PostgreSQL table (`journal+postgresql://...`).

Why a journal and not Optuna's RDBStorage on the same server: RDBStorage turns every storage
call into ORM queries and a commit (about 125 statements and 30 commits per trial of a search,
its time mostly SQLAlchemy's client-side work). A JournalStorage keeps the studies in memory,
writes one log row per change and reads only the rows it has not seen: one statement per write
(an append function) and one indexed SELECT per read. Workers on many machines then share a
study for about a third of RDBStorage's bookkeeping per trial outside the sampler (figures:
experiments/RESULTS.md).

Connections: no ping before each use (it doubled the round trips); a statement that finds its
pooled connection dropped runs once more on a new one. Each append carries an id, so an append
whose first try committed before the connection broke is not written twice.

Order: log numbers are contiguous from 0, and a log becomes visible only after every lower one.
Each append takes a transaction-scoped advisory lock before it numbers its rows, so appends
commit one after another; a reader that has seen log n has seen every log before it, which is
what the journal's replay needs (a gap would be skipped for ever). The primary key refuses a
second row with the same number should the lock ever be bypassed.

Several studies may share the database's one log table (as they share a journal file); each
process replays the whole log once when it opens the storage and then only what is new.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

from optuna.storages.journal import BaseJournalBackend

#: The log table and its append function (created when missing), and the advisory lock that
#: serialises appends.
TABLE = "resnet_nas_journal"
APPEND = "resnet_nas_journal_append"
LOCK_KEY = 0x7265736E65746E61  # b"resnetna": any constant that other applications do not use

_LOCK = "SELECT pg_advisory_xact_lock(:key)"
_CREATE_TABLE = (f"CREATE TABLE IF NOT EXISTS {TABLE} "
                 "(log_number BIGINT PRIMARY KEY, log TEXT NOT NULL, append_id TEXT NOT NULL)")
_CREATE_INDEX = f"CREATE INDEX IF NOT EXISTS {TABLE}_append_id ON {TABLE} (append_id)"
# One call, one round trip, one transaction: the lock, then the numbering. A volatile PL/pgSQL
# function takes a new snapshot for each statement, so MAX sees every append committed before
# this one got the lock. An append seen already (a retry whose first try did commit) is skipped.
_CREATE_APPEND = f"""
CREATE OR REPLACE FUNCTION {APPEND}(new_append_id TEXT, logs TEXT[]) RETURNS VOID
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM pg_advisory_xact_lock({LOCK_KEY});
  IF EXISTS (SELECT 1 FROM {TABLE} WHERE append_id = new_append_id) THEN
    RETURN;
  END IF;
  INSERT INTO {TABLE} (log_number, log, append_id)
    SELECT COALESCE((SELECT MAX(log_number) + 1 FROM {TABLE}), 0) + entry.i - 1, entry.log,
           new_append_id
    FROM unnest(logs) WITH ORDINALITY AS entry(log, i);
END $$"""
_READ = f"SELECT log FROM {TABLE} WHERE log_number >= :start ORDER BY log_number"
_APPEND = f"SELECT {APPEND}(:append_id, :logs)"


class PostgresJournalBackend(BaseJournalBackend):
    """A journal log in a PostgreSQL table, for optuna.storages.JournalStorage.

    Args:
      url: a SQLAlchemy PostgreSQL URL with an installed driver
        (`postgresql+psycopg2://user:password@host/db`).
      engine_kwargs: passed to sqlalchemy.create_engine (timeouts, pool settings).
    """

    def __init__(self, url: str, engine_kwargs: dict[str, Any] | None = None) -> None:
        self._url = url
        self._engine_kwargs = dict(engine_kwargs or {})
        self._connect()
        with self._engine.connect() as conn:
            # CREATE ... IF NOT EXISTS / OR REPLACE race with themselves in PostgreSQL (two
            # processes can both find the table missing): the lock makes the second one wait,
            # so this one runs in a transaction of its own (the engine's default is none).
            conn = conn.execution_options(isolation_level="READ COMMITTED")
            with conn.begin():
                conn.execute(self._text(_LOCK), {"key": LOCK_KEY})
                conn.execute(self._text(_CREATE_TABLE))
                conn.execute(self._text(_CREATE_INDEX))
                conn.execute(self._text(_CREATE_APPEND))

    def _connect(self) -> None:
        import sqlalchemy

        self._text = sqlalchemy.text
        # Autocommit: each statement is its own transaction, with no BEGIN/COMMIT round trips
        # (the append function is one statement; a read needs no transaction).
        self._engine = sqlalchemy.create_engine(self._url, isolation_level="AUTOCOMMIT",
                                                **self._engine_kwargs)

    def __getstate__(self) -> dict[str, Any]:
        # An engine (its pool and connections) belongs to one process.
        return {"_url": self._url, "_engine_kwargs": self._engine_kwargs}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._connect()

    def _execute(self, statement: str, params: dict[str, Any]) -> list[Any]:
        """Runs one autocommitted statement, again on a new connection if the pooled one had
        been dropped (a restarted server): every statement here may safely run twice."""
        import sqlalchemy.exc

        for attempt in range(2):
            try:
                with self._engine.connect() as conn:
                    return list(conn.execute(self._text(statement), params).all())
            except sqlalchemy.exc.DBAPIError as e:
                if attempt or not e.connection_invalidated:
                    raise
        raise AssertionError("unreachable")

    def read_logs(self, log_number_from: int) -> Iterable[dict[str, Any]]:
        rows = self._execute(_READ, {"start": log_number_from})
        return [json.loads(log) for (log,) in rows]

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        if logs:
            self._execute(_APPEND, {"append_id": uuid.uuid4().hex,
                                    "logs": [json.dumps(log) for log in logs]})
