"""The journal's PostgreSQL log: contiguous order under concurrent appends, retries that
write nothing twice, and a study that several storage objects share (needs a server:
RESNET_NAS_TEST_POSTGRES_URL; .ci/postgres.sh starts one)."""

from __future__ import annotations

import math
import multiprocessing as mp
import pickle
import uuid

import optuna
import pytest

from resnet_nas.journal.heartbeat import HeartbeatJournalStorage
from resnet_nas.journal.postgres_backend import APPEND, TABLE, PostgresJournalBackend
from resnet_nas.storage import open_storage
from tests.distributed.conftest import POSTGRES_URL, needs_postgres

pytestmark = [pytest.mark.postgres, needs_postgres]


@pytest.fixture
def schema_url():
    """A `journal+postgresql://` URL whose tables live in a schema of their own (the tests
    share one database), dropped afterwards."""
    import sqlalchemy

    from resnet_nas.storage import with_driver  # the test's own engine: the same driver
    server = with_driver(POSTGRES_URL)
    schema = f"t_{uuid.uuid4().hex[:10]}"
    engine = sqlalchemy.create_engine(server, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sqlalchemy.text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in server else "?"
    # application_name: a test can find its own connections among the server's
    yield f"{server}{sep}options=-csearch_path%3D{schema}&application_name={schema}"
    with engine.connect() as conn:
        conn.execute(sqlalchemy.text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


def _numbers(url: str) -> list[int]:
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sqlalchemy.text(
            f"SELECT log_number FROM {TABLE} ORDER BY log_number")).all()
    engine.dispose()
    return [n for (n,) in rows]


def test_logs_read_back_in_order_from_any_number(schema_url):
    log = PostgresJournalBackend(schema_url)
    log.append_logs([{"i": 0}, {"i": 1, "v": math.inf}])
    log.append_logs([{"i": 2, "v": math.nan}])
    log.append_logs([])
    got = list(log.read_logs(0))
    assert [g["i"] for g in got] == [0, 1, 2]
    assert got[1]["v"] == math.inf and math.isnan(got[2]["v"])
    assert [g["i"] for g in log.read_logs(2)] == [2] and list(log.read_logs(3)) == []
    assert _numbers(schema_url) == [0, 1, 2]
    # a second backend on the same table (another worker) sees the same log and appends after
    other = pickle.loads(pickle.dumps(log))
    other.append_logs([{"i": 3}])
    assert [g["i"] for g in log.read_logs(0)] == [0, 1, 2, 3]


def _append_many(url: str, writer: int, count: int) -> None:
    log = PostgresJournalBackend(url)
    for k in range(count):
        log.append_logs([{"writer": writer, "k": k, "part": 0},
                         {"writer": writer, "k": k, "part": 1}])


def test_concurrent_appends_are_contiguous_and_keep_each_writers_order(schema_url):
    writers, count = 4, 40
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(schema_url, w, count))
             for w in range(writers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    assert _numbers(schema_url) == list(range(writers * count * 2))
    logs = list(PostgresJournalBackend(schema_url).read_logs(0))
    for w in range(writers):
        mine = [(g["k"], g["part"]) for g in logs if g["writer"] == w]
        assert mine == [(k, part) for k in range(count) for part in (0, 1)]
    # the two logs of one append are next to each other
    for first, second in zip(logs[::2], logs[1::2]):
        assert (first["writer"], first["k"]) == (second["writer"], second["k"])


def test_an_append_that_is_retried_is_written_once(schema_url):
    import sqlalchemy

    log = PostgresJournalBackend(schema_url)
    statement = sqlalchemy.text(f"SELECT {APPEND}(:append_id, :logs)")
    engine = sqlalchemy.create_engine(schema_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for _ in range(2):  # the retry of an append whose first try committed
            conn.execute(statement, {"append_id": "same", "logs": ['{"i": 0}', '{"i": 1}']})
        conn.execute(statement, {"append_id": "other", "logs": ['{"i": 2}']})
    engine.dispose()
    assert [g["i"] for g in log.read_logs(0)] == [0, 1, 2]


def test_a_dropped_connection_is_replaced(schema_url):
    import sqlalchemy

    log = PostgresJournalBackend(schema_url)
    log.append_logs([{"i": 0}])
    name = schema_url.rsplit("application_name=", 1)[1]
    admin = sqlalchemy.create_engine(schema_url.replace(name, "admin"),
                                     isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:  # what a server restart does to the pooled connection
        killed = conn.execute(sqlalchemy.text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = :name"), {"name": name}).scalar_one()
    admin.dispose()
    assert killed >= 1
    log.append_logs([{"i": 1}])
    assert [g["i"] for g in log.read_logs(0)] == [0, 1]


def test_open_storage_shares_a_study_between_storages(schema_url):
    url = "journal+" + schema_url
    storage = open_storage(url, interval=5, grace=20)
    assert isinstance(storage, HeartbeatJournalStorage)
    study = optuna.create_study(study_name="s", storage=storage)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    other = optuna.load_study(study_name="s", storage=open_storage(url, heartbeat=False))
    assert [t.params for t in other.trials] == [t.params for t in study.trials]
    assert other.best_value == study.best_value
