"""Storage URLs: no credential in any output, and the heartbeat settings."""

import pytest

from resnet_nas.storage import StorageError, heartbeat_settings, redact, scrub


@pytest.mark.parametrize("url, shown", [
    ("postgresql://user:PW@host/db", "postgresql://user:***@host/db"),
    ("postgresql://user:p@ss/w:rd@host:5432/db", "postgresql://user:***@host:5432/db"),
    ("postgresql://host/db?user=u&password=PW&sslmode=require",
     "postgresql://host/db?user=u&password=***&sslmode=require"),
    ("mysql+pymysql://u:PW@h/db?ssl_key=k&token=T", "mysql+pymysql://u:***@h/db?ssl_key=k&token=***"),
    ("sqlite:////runs/x/study.db", "sqlite:////runs/x/study.db"),
    ("journal:///runs/x/study.journal", "journal:///runs/x/study.journal"),
    ("postgresql://user@host/db", "postgresql://user@host/db"),
    ("journal+postgresql://user:PW@host/db", "journal+postgresql://user:***@host/db"),
])
def test_redact_hides_every_credential(url, shown):
    assert redact(url) == shown and redact(redact(url)) == shown


def test_scrub_removes_the_secret_from_a_message_in_any_form():
    url = "postgresql://u:p%40ss@h/db"
    message = "could not parse 'postgresql://u:p%40ss@h/db' (password p@ss)"
    assert "p%40ss" not in scrub(message, url) and "p@ss" not in scrub(message, url)


def test_heartbeat_settings(monkeypatch):
    assert heartbeat_settings(5, 20) == (5, 20)
    monkeypatch.setenv("RESNET_NAS_HEARTBEAT_INTERVAL", "x")
    with pytest.raises(StorageError, match="whole number"):
        heartbeat_settings()
    with pytest.raises(StorageError, match="at least twice"):
        heartbeat_settings(10, 19)
    assert heartbeat_settings(10, 20) == (10, 20)


def test_sqlite_study_is_in_wal_mode_and_other_threads_can_write(tmp_path):
    """Commits without an fsync each (bench_loop: 5x fewer ms per trial), and the heartbeat
    thread shares the connection pool."""
    import sqlite3
    import threading

    import optuna

    from resnet_nas.storage import open_storage

    db = tmp_path / "study.db"
    storage = open_storage(f"sqlite:///{db}", heartbeat=False)
    study = optuna.create_study(storage=storage, study_name="s")
    trial = study.ask()
    errors = []

    def attr():
        try:
            trial.set_user_attr("from_thread", 1)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    t = threading.Thread(target=attr)
    t.start()
    t.join()
    study.tell(trial, 1.0)
    assert not errors
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    again = optuna.load_study(study_name="s", storage=open_storage(f"sqlite:///{db}",
                                                                  heartbeat=False))
    assert again.trials[0].user_attrs == {"from_thread": 1} and again.trials[0].value == 1.0


def test_a_process_that_is_done_with_a_sqlite_study_leaves_no_write_ahead_log(tmp_path):
    """study.db alone is the whole study once its process ends (it can be copied alone)."""
    import subprocess
    import sys

    from tests.helpers import REPO, cli_env

    db = tmp_path / "study.db"
    code = ("import optuna; from resnet_nas.storage import open_storage; "
            f"s = optuna.create_study(storage=open_storage('sqlite:///{db}'), study_name='s'); "
            "t = s.ask(); t.set_user_attr('x', 1); s.tell(t, 1.0)")
    subprocess.run([sys.executable, "-c", code], cwd=REPO, env=cli_env(), check=True)
    assert db.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["study.db"]


def test_a_schema_created_by_another_process_meanwhile_is_opened(tmp_path, monkeypatch):
    """Two processes opening one new database at once: the loser of the table-creation race
    gets a unique-key error from SQLAlchemy and opens the (now existing) schema again."""
    import optuna
    import sqlalchemy.exc

    from resnet_nas.storage import open_storage

    real = optuna.storages.RDBStorage
    calls = []

    def racing(*args, **kw):
        calls.append(args[0])
        if len(calls) == 1:
            raise sqlalchemy.exc.IntegrityError("CREATE TABLE studies", {}, Exception(
                'duplicate key value violates unique constraint "pg_type_typname_nsp_index"'))
        return real(*args, **kw)

    monkeypatch.setattr(optuna.storages, "RDBStorage", racing)
    storage = open_storage(f"sqlite:///{tmp_path / 'study.db'}", heartbeat=False)
    assert len(calls) == 2 and storage.get_all_studies() == []


def test_other_database_errors_are_not_retried(tmp_path, monkeypatch):
    import optuna
    import sqlalchemy.exc

    from resnet_nas.storage import StorageError, open_storage

    calls = []

    def broken(*args, **kw):
        calls.append(args[0])
        raise sqlalchemy.exc.ProgrammingError("SELECT", {}, Exception("permission denied"))

    monkeypatch.setattr(optuna.storages, "RDBStorage", broken)
    with pytest.raises(StorageError, match="permission denied"):
        open_storage(f"sqlite:///{tmp_path / 'study.db'}", heartbeat=False)
    assert len(calls) == 1
