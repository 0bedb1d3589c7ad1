"""Faults a search meets in ordinary accidents, tried as a user would: the real command line in
real processes (their trial processes train nothing: tests.fake_cli), killed, interrupted,
terminated, resumed, run twice, moved and copied."""

import contextlib
import os
import shutil
import signal
import sqlite3
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from resnet_nas import results
from resnet_nas.engines import SearchOptions, run_search
from tests.fakes import EPOCH_SECONDS_ENV, FakeRunner
from tests.helpers import files_under, run_cli, spawn_cli, tiny_space

SLOW_EPOCHS = {EPOCH_SECONDS_ENV: "0.3"}


def rows(run_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((run_dir / "rows").glob("*.json"))}


def running(run_dir: Path, training: bool = False) -> int:
    """RUNNING trials of the run's study; with `training`, only those that started training
    (they have a plan: not one being sampled, or sampled ahead while another trains)."""
    db = run_dir / "study.db"
    if not db.exists():
        return 0
    planned = (" and trial_id in (select trial_id from trial_user_attributes where key='plan')"
               if training else "")
    con = sqlite3.connect(db)
    try:
        return con.execute(f"select count(*) from trials where state='RUNNING'{planned}"
                           ).fetchone()[0]
    except sqlite3.Error:
        return 0
    finally:
        con.close()


def wait_until(pred, timeout: float = 120.0) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.1)
    return pred()


def trial_process_pids(parent: int) -> list[int]:
    """The trial processes of `parent` (its multiprocessing 'spawn' children; not the resource
    tracker, which exits on its own once its parent is gone)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
                cmd = (d / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent and b"spawn_main" in cmd:
                out.append(int(d.name))
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def study_of(run_dir: Path) -> optuna.Study:
    return optuna.load_study(study_name="tiny", storage=f"sqlite:///{run_dir / 'study.db'}")


@contextlib.contextmanager
def searching(tmp_path: Path, space: Path, run_dir: Path, env: dict, until=None):
    """A search started as a user would (its own process group), once `until()` holds (default:
    a trial is running); killed with its group on the way out."""
    proc = spawn_cli("search", str(space), "--run-dir", str(run_dir), "--no-progress",
                     cwd=tmp_path, env=env)
    try:
        assert wait_until(until or (lambda: running(run_dir) > 0))
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):  # the group: any trial process too
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def search(tmp_path, *args, **kw):
    """The command under test, as a user runs it (a fresh process)."""
    return run_cli("search", *args, "--no-progress", cwd=tmp_path, fake=True, **kw)


def finished_run(space: Path, run_dir: Path, trials: int | None = None) -> None:
    """A run to start from (made in this process: only the step under test needs its own)."""
    run_search(SearchOptions(space=str(space), run_dir=str(run_dir), trials=trials,
                             progress=False), out=lambda line: None, runner_factory=FakeRunner)


# ---------------------------------------------------------------------------------------------
# The study of a run: missing, moved, copied, replaced.
def test_resume_without_its_study_db_refuses_and_changes_nothing(tmp_path):
    space = tiny_space(tmp_path, trials=3, epochs=1)
    run_dir = tmp_path / "run"
    finished_run(space, run_dir)
    (run_dir / "study.db").unlink()
    before = files_under(run_dir)
    out = search(tmp_path, "--resume", "--run-dir", str(run_dir), "--trials", "9")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "study.db does not exist" in out.stderr and "3 finished trials are safe" in out.stderr
    assert files_under(run_dir) == before  # rows 0-2 untouched, no new study created


def test_a_copied_run_dir_resumes_into_its_own_study(tmp_path):
    space = tiny_space(tmp_path, trials=2, epochs=1)
    original = tmp_path / "original"
    finished_run(space, original)
    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    before = files_under(original)
    out = search(tmp_path, "--resume", "--run-dir", str(copy), "--trials", "4")
    assert out.returncode == 0, out.stderr[-2000:]
    assert files_under(original) == before  # the original's database and rows are untouched
    assert len(results.load_table(copy)) == 4 and len(study_of(copy).trials) == 4


def test_a_moved_run_dir_resumes_where_it_is(tmp_path):
    space = tiny_space(tmp_path, trials=2, epochs=1)
    finished_run(space, tmp_path / "a")
    (tmp_path / "b").mkdir()
    moved = tmp_path / "b" / "moved"
    shutil.move(tmp_path / "a", moved)
    out = search(tmp_path, "--resume", "--run-dir", str(moved), "--trials", "3")
    assert out.returncode == 0, out.stderr[-2000:]
    assert len(results.load_table(moved)) == 3 and not (tmp_path / "a").exists()


def test_resume_refuses_a_study_db_of_another_run(tmp_path):
    space = tiny_space(tmp_path, trials=1, epochs=1)
    for name in ("one", "two"):
        finished_run(space, tmp_path / name)
    shutil.copy(tmp_path / "two" / "study.db", tmp_path / "one" / "study.db")
    before = files_under(tmp_path / "one")
    out = search(tmp_path, "--resume", "--run-dir", str(tmp_path / "one"), "--trials", "3")
    assert out.returncode == 2 and "belongs to another run" in out.stderr
    assert files_under(tmp_path / "one") == before


# ---------------------------------------------------------------------------------------------
# One search process per run directory.
def test_a_second_search_on_a_run_dir_is_refused_while_the_first_runs(tmp_path):
    space = tiny_space(tmp_path, trials=3, epochs=50)
    run_dir = tmp_path / "run"
    with searching(tmp_path, space, run_dir, SLOW_EPOCHS) as first:
        second = search(tmp_path, "--resume", "--run-dir", str(run_dir))
        assert second.returncode == 2, second.stderr[-2000:]
        assert f"in use by a running search (pid {first.pid}" in second.stderr
        # the first goes on, untouched: its trials run (the current one, and the next one
        # sampled ahead), none was failed
        assert first.poll() is None and running(run_dir) >= 1
        assert not [t for t in study_of(run_dir).trials if t.state == TrialState.FAIL]
    # killed (SIGKILL) on the way out of the block; the lock of the killed search is stale: the kernel dropped it, a resume takes it over
    assert not rows(run_dir)
    out = search(tmp_path, "--resume", "--run-dir", str(run_dir), "--epochs", "50")
    assert out.returncode == 0, out.stderr[-2000:]


# ---------------------------------------------------------------------------------------------
# Killed, terminated, interrupted.
def test_kill_9_mid_trial_leaves_no_orphan_and_resume_continues(tmp_path):
    space = tiny_space(tmp_path, trials=4, epochs=8)
    run_dir = tmp_path / "run"
    with searching(tmp_path, space, run_dir, {EPOCH_SECONDS_ENV: "0.1"},
                   until=lambda: len(rows(run_dir)) >= 1 and running(run_dir, True) > 0
                   ) as proc:
        children = trial_process_pids(proc.pid)
        assert children
        os.kill(proc.pid, signal.SIGKILL)  # the search alone, not its process group
        proc.wait()
        # the trial process notices its parent's death at once and exits quietly
        assert wait_until(lambda: not any(alive(p) for p in children), timeout=2.0)
    before = rows(run_dir)
    params_before = [t.params for t in study_of(run_dir).trials if t.state.is_finished()]
    out = search(tmp_path, "--resume", "--run-dir", str(run_dir))
    assert out.returncode == 0, out.stderr[-2000:]
    after = rows(run_dir)
    assert all(after[name] == data for name, data in before.items())  # kept as they were
    table = results.load_table(run_dir)
    interrupted = table["reason"].fillna("").str.startswith("interrupted")
    assert interrupted.sum() == 1  # the trial the kill cut short, recorded, not counted
    assert (~interrupted & (table["state"] != "duplicate")).sum() == 4
    study = study_of(run_dir)
    assert not [t for t in study.trials if t.state == TrialState.RUNNING]
    new = [t.params for t in study.trials[len(params_before) + 1:] if t.state.is_finished()]
    assert new and not any(p in params_before for p in new)  # no replay of the sampler


def test_sigterm_stops_a_search_like_ctrl_c(tmp_path):
    space = tiny_space(tmp_path, trials=3, epochs=50)
    run_dir = tmp_path / "run"
    with searching(tmp_path, space, run_dir, SLOW_EPOCHS) as proc:
        children = trial_process_pids(proc.pid)
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 143, output[-3000:]
    assert "interrupted (SIGTERM)" in output and "--resume" in output
    assert not any(alive(p) for p in children)
    table = results.load_table(run_dir)
    assert list(table["state"]) == ["failed"] and table["reason"][0].startswith("interrupted")
    assert running(run_dir) == 0


def test_ctrl_c_marks_the_running_trial_and_says_how_to_resume(tmp_path):
    space = tiny_space(tmp_path, trials=50, epochs=30)
    run_dir = tmp_path / "run"
    with searching(tmp_path, space, run_dir, SLOW_EPOCHS) as proc:
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, output[-2000:]
    assert "--resume" in output
    table = results.load_table(run_dir)
    assert (table["reason"].fillna("").str.contains("interrupted")).sum() == 1
    assert running(run_dir) == 0


def test_a_search_whose_every_trial_failed_exits_non_zero(tmp_path):
    # the fake trial process diverges at this learning rate (tests.fakes.DIVERGING_LR)
    space = tiny_space(tmp_path, trials=2, epochs=1, learning_rate=500.0)
    out = search(tmp_path, str(space), "--run-dir", str(tmp_path / "run"))
    assert out.returncode == 1, out.stderr[-2000:]
    assert "every trial of this search failed" in out.stderr and "diverged" in out.stderr


def _fake_main(monkeypatch):
    from resnet_nas.engines import common

    FakeRunner.jobs, FakeRunner.script = [], {}
    monkeypatch.setattr(common, "TrialRunner", FakeRunner)
    from resnet_nas.cli import main

    return main


def test_a_full_disk_after_a_trial_was_told_is_one_line_and_resume_restores_its_row(
        tmp_path, monkeypatch, capsys):
    """The disk fills while the third row is written (the study holds the trial as finished
    already): one line, exit 1, nothing half written; --resume writes the row from the study's
    record and counts it, so the target is not overshot."""
    import errno

    from resnet_nas import fileio

    main = _fake_main(monkeypatch)
    space = tiny_space(tmp_path, trials=4, epochs=1)
    run_dir = tmp_path / "run"
    real = fileio.tempfile.mkstemp
    rows_written = []

    def fills(*args, dir=None, **kw):  # noqa: A002 - mkstemp's keyword
        if Path(dir).name == "rows":
            rows_written.append(dir)
            if len(rows_written) == 3:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args, dir=dir, **kw)

    monkeypatch.setattr(fileio.tempfile, "mkstemp", fills)
    assert main(["search", str(space), "--run-dir", str(run_dir), "--no-progress"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: no space left on the device of "
                              f"{run_dir / 'rows' / 'tiny--000002.json'}")
    assert not [line for line in err if "Traceback" in line]
    assert len(list((run_dir / "rows").glob("*.json"))) == 2
    assert not [p for p in run_dir.rglob("*") if ".tmp" in p.name]
    monkeypatch.setattr(fileio.tempfile, "mkstemp", real)
    assert main(["search", "--resume", "--run-dir", str(run_dir), "--no-progress"]) == 0
    out = capsys.readouterr()
    assert "resume: 1 row(s) missing" in out.err
    table = results.load_table(run_dir)
    assert (table["state"] != "duplicate").sum() == 4  # the target, not one more
    assert len(FakeRunner.jobs) == 4


def test_tables_are_never_rewritten_with_fewer_trials(tmp_path, monkeypatch, capsys):
    """rows/ removed, results.* kept: --resume restores the rows from the study; where the
    study has no record of them either, it refuses and rewrites nothing."""
    main = _fake_main(monkeypatch)
    space = tiny_space(tmp_path, trials=2, epochs=1)
    run_dir = tmp_path / "run"
    assert main(["search", str(space), "--run-dir", str(run_dir), "--no-progress"]) == 0
    before = results.load_table(run_dir)
    shutil.rmtree(run_dir / "rows")
    assert main(["search", "--resume", "--run-dir", str(run_dir), "--trials", "3",
                 "--no-progress"]) == 0
    after = results.load_table(run_dir)
    assert set(before["trial"]) <= set(after["trial"]) and len(after) >= 3
    # a study without the records: refused, and nothing rewritten
    shutil.rmtree(run_dir / "rows")
    parquet = (run_dir / "results.parquet").read_bytes()
    run_json = (run_dir / "run.json").read_bytes()
    monkeypatch.setattr("resnet_nas.engines.optuna_study.restore_missing_rows",
                        lambda url, run, rd: 0)
    from resnet_nas.engines import ENGINES

    monkeypatch.setitem(ENGINES, "optuna", _engine_without_restore(ENGINES["optuna"]))
    capsys.readouterr()
    assert main(["search", "--resume", "--run-dir", str(run_dir), "--trials", "4",
                 "--no-progress"]) == 2
    assert "finished trial(s) whose rows are gone" in capsys.readouterr().err
    assert (run_dir / "results.parquet").read_bytes() == parquet
    assert (run_dir / "run.json").read_bytes() == run_json
    with pytest.raises(results.RowsLostError):
        results.write_tables(run_dir)


def _engine_without_restore(make):
    engine = type(make())

    class WithoutRestore(engine):
        def restore_rows(self, storage_url, run, run_dir):
            return 0

    return WithoutRestore


# ---------------------------------------------------------------------------------------------
# A run directory is untrusted input (copied, downloaded): nothing is written through a link.
@pytest.mark.parametrize("link", [".lock", ".results.lock", "rows", "results.csv",
                                  "exports/trial_0.yaml"])
def test_resume_refuses_a_run_dir_with_symbolic_links_and_writes_nothing_through_them(
        tmp_path, monkeypatch, capsys, link):
    main = _fake_main(monkeypatch)
    space = tiny_space(tmp_path, trials=1, epochs=1)
    run_dir = tmp_path / "run"
    assert main(["search", str(space), "--run-dir", str(run_dir), "--no-progress"]) == 0
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("keep me")
    target = outside / ("" if link == "rows" else "precious")
    path = run_dir / link
    if path.is_dir():
        shutil.copytree(path, outside / "rows-copy")
        shutil.rmtree(path)
        target = outside / "rows-copy"
    else:
        path.parent.mkdir(exist_ok=True)
        path.unlink(missing_ok=True)
    path.symlink_to(target)
    before = files_under(outside)
    capsys.readouterr()
    assert main(["search", "--resume", "--run-dir", str(run_dir), "--trials", "2",
                 "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "symbolic link" in err[0] and link in err[0], err
    assert files_under(outside) == before


def test_export_replaces_a_symlinked_file_and_refuses_a_symlinked_folder(tmp_path):
    from resnet_nas.errors import SearchError
    from resnet_nas.trial_export import export_config

    space = tiny_space(tmp_path, trials=1, epochs=1)
    run_dir = tmp_path / "run"
    finished_run(space, run_dir)
    precious = tmp_path / "precious"
    precious.write_text("keep me")
    (run_dir / "exports").mkdir()
    (run_dir / "exports" / "trial_0.yaml").symlink_to(precious)
    path = export_config(run_dir, "0")
    assert not path.is_symlink() and "resnet_nas architecture config" in path.read_text()
    assert precious.read_text() == "keep me"
    shutil.rmtree(run_dir / "exports")
    (run_dir / "exports").symlink_to(tmp_path)
    with pytest.raises(SearchError, match="exports is a symbolic link"):
        export_config(run_dir, "0")
    assert not (tmp_path / "trial_0.yaml").exists()


def test_rows_are_never_written_through_a_symlinked_folder(tmp_path):
    from resnet_nas.errors import SearchError
    from tests.helpers import write_row

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "rows").symlink_to(elsewhere)
    with pytest.raises(SearchError, match="rows is a symbolic link"):
        write_row(tmp_path / "run")
    assert list(elsewhere.iterdir()) == []
