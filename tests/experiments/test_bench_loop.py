"""experiments/bench_loop.py: the real search loop with a stub trainer, its steps timed."""

from __future__ import annotations

import importlib.util
import sys

import pandas as pd

from tests.helpers import REPO

spec = importlib.util.spec_from_file_location("bench_loop", REPO / "experiments" / "bench_loop.py")
bench_loop = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench_loop)


def test_every_finished_trial_is_timed_and_its_steps_add_up(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["bench_loop.py", "--trials", "6", "--storages", "journal",
                                      "--window", "3", "--out", str(tmp_path / "out"),
                                      "--keep", str(tmp_path / "runs")])
    assert bench_loop.main() == 0
    df = pd.read_csv(tmp_path / "out" / "bench_loop.csv")
    assert set(df["window"]) >= {"0-3"} and (df["storage"] == "journal").all()
    steps = df[[f"{s}_ms" for s in bench_loop.STEPS]].sum(axis=1)
    assert ((steps - df["whole_ms"]).abs() < 0.05 * df["whole_ms"] + 0.1).all()
    assert (df["epoch_reports_ms"] > 0).all() and (df["write_row_ms"] > 0).all()
    rows = list((tmp_path / "runs" / "run-journal-tpe-6" / "rows").glob("*.json"))
    assert len(rows) >= 6  # the real loop wrote its rows (duplicates included)


def test_the_instrumentation_is_removed_afterwards():
    import optuna

    from resnet_nas.engines import common

    before = (optuna.Study.ask, common.TrialFlow.finish)
    with bench_loop.instrumented(bench_loop.StepClock()):
        assert optuna.Study.ask is not before[0]
    assert (optuna.Study.ask, common.TrialFlow.finish) == before


def test_the_sql_of_a_storage_is_counted_per_trial(tmp_path, monkeypatch):
    """SQLite goes through SQLAlchemy: its statements and commits are counted; the file
    journal has none."""
    monkeypatch.setattr(sys, "argv", ["bench_loop.py", "--trials", "3",
                                      "--storages", "sqlite,journal", "--window", "3",
                                      "--out", str(tmp_path / "out")])
    assert bench_loop.main() == 0
    df = pd.read_csv(tmp_path / "out" / "bench_loop.csv").set_index("storage")
    assert df.loc["sqlite", "sql_statements_per_trial"] > df.loc["sqlite",
                                                                  "sql_commits_per_trial"] > 1
    assert df.loc["journal", "sql_statements_per_trial"] == 0
    assert df.loc["journal", "sql_commits_per_trial"] == 0


def test_the_sql_counter_is_removed_afterwards():
    import sqlalchemy

    engine = sqlalchemy.create_engine("sqlite://")
    with bench_loop.sql_counter() as counts:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("select 1"))
            conn.commit()
    assert counts == {"statements": 1, "commits": 1}
    with engine.connect() as conn:
        conn.execute(sqlalchemy.text("select 1"))
    assert counts == {"statements": 1, "commits": 1}
