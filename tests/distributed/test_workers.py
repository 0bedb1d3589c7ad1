"""Workers sharing one study, end to end: bad input, processes per GPU, a killed worker, one
architecture sampled by every worker at once, Ctrl-C. The workers are real processes running
the real CLI; their trial processes train nothing (tests.fake_cli)."""

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import uuid

import optuna
import pytest
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from resnet_nas import cli, results, trial_attrs
from resnet_nas.sharing.claims import CLAIM_ATTR
from resnet_nas.distributed.collect import results_from_storage
from resnet_nas.distributed.fanout import parse_gpus, worker_processes
from resnet_nas.sharing.stale import count_finished
from resnet_nas.distributed.worker import WorkerOptions
from resnet_nas.errors import UsageError
from resnet_nas.storage import open_storage, redact
from tests.distributed.conftest import (BACKENDS, POSTGRES_URL, create_study, journal_url,
                                        needs_postgres, storage_url)
from tests.fakes import EPOCH_SECONDS_ENV
from tests.helpers import cli_env, files_under, spawn_cli, tiny_space


def _main(capsys, *argv: str) -> tuple[int, str]:
    code = cli.main(list(argv))
    return code, capsys.readouterr().err


def _one_error_line(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "error: " in lines[0] and "Traceback" not in err
    return lines[0]


# ---------------------------------------------------------------------------------------------
# The study carries what a worker needs.
def test_created_study_records_space_and_run(tmp_path):
    url = journal_url(tmp_path)
    space, _ = create_study(tmp_path, url, trials=5)
    study = optuna.load_study(study_name="tiny", storage=open_storage(url))
    assert study.user_attrs["space_yaml"] == space.read_text()
    meta = study.user_attrs["run_meta"]
    assert meta["trials"] == 5 and meta["sampler"] == "random"
    assert meta["objectives"] == ["val_accuracy"]
    assert "storage" not in meta  # it may hold a password
    assert study.user_attrs["space_hash"] == meta["space_hash"]
    assert study.user_attrs["run_id"] == meta["run_id"]


def test_create_only_defaults_to_a_journal_in_the_run_dir(tmp_path):
    _, summary = create_study(tmp_path, None)
    assert summary.storage.startswith("journal:///")
    assert (tmp_path / "created" / "study.journal").is_file()
    meta = json.loads((tmp_path / "created" / "run.json").read_text())
    assert meta["storage"] == "journal://{RUN_DIR}/study.journal"
    # a worker pointed at that run dir finds the storage without --storage
    from resnet_nas.engines.planner import worker_storage
    assert worker_storage(None, tmp_path / "created") == summary.storage


def test_create_only_refuses_a_study_of_another_space(tmp_path):
    from resnet_nas.engines import SearchOptions, run_search
    from resnet_nas.errors import SearchError

    url = journal_url(tmp_path)
    create_study(tmp_path, url)
    other = tiny_space(tmp_path, name="other", epochs=3)
    with pytest.raises(SearchError, match="created for a space with hash"):
        run_search(SearchOptions(space=str(other), run_dir=str(tmp_path / "r2"), storage=url,
                                 study_name="tiny", create_only=True, progress=False))
    assert not (tmp_path / "r2").exists()


# ---------------------------------------------------------------------------------------------
# Bad input: one line, exit status 2, nothing changed.
@pytest.mark.parametrize("scheme", ["postgresql", "journal+postgresql"])
def test_unreachable_database_is_one_clear_line_without_the_password(tmp_path, capsys, scheme):
    run_dir = tmp_path / "w"
    code, err = _main(capsys, "worker", "--study", "s", "--storage",
                      f"{scheme}://u:secret@127.0.0.1:1/db", "--run-dir", str(run_dir))
    line = _one_error_line(err)
    assert code == 2
    assert "cannot open storage" in line and "127.0.0.1:1" in line
    assert "secret" not in line  # the password is redacted
    assert not run_dir.exists()


def test_missing_study_is_one_clear_line_and_changes_nothing(tmp_path, capsys):
    url = journal_url(tmp_path)
    create_study(tmp_path, url)
    before = files_under(tmp_path)
    run_dir = tmp_path / "w"
    code, err = _main(capsys, "worker", "--study", "nope", "--storage", url, "--run-dir",
                      str(run_dir))
    line = _one_error_line(err)
    assert code == 2 and "'nope' does not exist" in line and "tiny" in line
    code, err = _main(capsys, "collect", "--study", "nope", "--storage", url, "--run-dir",
                      str(run_dir))
    assert code == 2 and "does not exist" in _one_error_line(err)
    assert files_under(tmp_path) == before


def test_missing_storage_file_is_not_created(tmp_path, capsys):
    url = journal_url(tmp_path, "missing.journal")
    code, err = _main(capsys, "worker", "--study", "tiny", "--storage", url, "--run-dir",
                      str(tmp_path / "w"))
    assert code == 2 and "does not exist" in _one_error_line(err)
    assert not (tmp_path / "missing.journal").exists() and not (tmp_path / "w").exists()


def test_space_that_differs_from_the_study_is_refused(tmp_path, capsys):
    url = journal_url(tmp_path)
    space, _ = create_study(tmp_path, url)
    other = tiny_space(tmp_path, name="other", epochs=5)  # train section -> another hash
    before = files_under(tmp_path)
    code, err = _main(capsys, "worker", "--study", "tiny", "--storage", url, "--space",
                      str(other), "--run-dir", str(tmp_path / "w"))
    line = _one_error_line(err)
    assert code == 2 and "argument --space: expected the space of study 'tiny'" in line
    assert "the given one is another space" in line
    assert files_under(tmp_path) == before


def test_bad_gpu_list(tmp_path, capsys):
    code, err = _main(capsys, "worker", "--study", "s", "--storage", journal_url(tmp_path),
                      "--gpus", "0,x")
    assert code == 2 and "argument --gpus" in _one_error_line(err)
    with pytest.raises(UsageError, match="twice"):
        parse_gpus("1,1")


# ---------------------------------------------------------------------------------------------
# One worker per GPU.
def test_one_worker_process_per_gpu_with_its_own_device():
    procs = worker_processes(WorkerOptions(study="s", gpus=parse_gpus("0, 2")))
    assert [env for _, env in procs] == [{"CUDA_VISIBLE_DEVICES": "0"},
                                         {"CUDA_VISIBLE_DEVICES": "2"}]
    assert all(o.gpus == (g,) and o.workers == 1 for (o, _), g in zip(procs, ["0", "2"]))
    cpu = worker_processes(WorkerOptions(study="s", workers=3))
    assert len(cpu) == 3 and all(env == {} for _, env in cpu)


def test_several_small_trials_share_one_gpu():
    procs = worker_processes(WorkerOptions(study="s", gpus=("1",), per_gpu=3))
    assert len(procs) == 3
    for opts, env in procs:
        assert env["CUDA_VISIBLE_DEVICES"] == "1" and opts.per_gpu == 1
        assert env["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
        assert float(env["XLA_PYTHON_CLIENT_MEM_FRACTION"]) == pytest.approx(0.3)
    with pytest.raises(UsageError, match="per-gpu: expected an integer from 1 to 64"):
        WorkerOptions(study="s", gpus=("0",), per_gpu=0).validate()


def test_gpu_id_reaches_the_trial_process_env(tmp_path):
    from resnet_nas.distributed.fanout import run_workers

    url = journal_url(tmp_path)
    create_study(tmp_path, url, trials=1)
    seen = {}

    def runner(backend, max_trials, env=None, **kw):
        from tests.fakes import FakeRunner
        seen["env"] = env
        return FakeRunner(backend, max_trials, env)

    summary = run_workers(WorkerOptions(study="tiny", storage=url, run_dir=str(tmp_path / "w"),
                                        gpus=("3",), trials=1, progress=False),
                          out=lambda s: None, runner_factory=runner)
    assert seen["env"] == {"CUDA_VISIBLE_DEVICES": "3"} and summary.finished == 1


# ---------------------------------------------------------------------------------------------
# End to end: several worker processes, one killed mid-trial.
def _pid(trial) -> int | None:
    worker = getattr(trial_attrs.owner_of(trial.user_attrs), "worker", "")
    return int(worker.rsplit(":", 1)[1]) if ":" in worker else None


def _workers_survive_a_kill(tmp_path, storage: str, study: str, fake: bool,
                            n_workers: int = 3, trials: int = 6) -> None:
    create_study(tmp_path, storage, study=study, trials=trials, epochs=2)
    env = {EPOCH_SECONDS_ENV: "0.5"}
    procs = []
    for i in range(n_workers):
        log = open(tmp_path / f"w{i}.log", "w")
        procs.append(spawn_cli("worker", "--study", study, "--storage", storage, "--run-dir",
                               str(tmp_path / f"w{i}"), "--heartbeat-interval", "1",
                               "--grace-period", "4", "--no-progress", cwd=tmp_path, env=env,
                               fake=fake, stdout=log))
    reader = optuna.load_study(study_name=study, storage=open_storage(storage, heartbeat=False))
    by_pid = {p.pid: p for p in procs}
    victim = victim_trial = None
    try:
        deadline = time.time() + 150
        while time.time() < deadline and victim is None:
            for t in reader.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                if t.user_attrs.get(CLAIM_ATTR) == "won" and _pid(t) in by_pid:
                    victim, victim_trial = by_pid[_pid(t)], t.number
                    break
            time.sleep(0.1)
        assert victim is not None, "no worker started training"
        time.sleep(0.3)  # inside its training
        os.killpg(victim.pid, signal.SIGKILL)  # the worker and its trial process
        victim.wait(timeout=30)
        for i, p in enumerate(procs):
            if p is not victim:
                assert p.wait(timeout=240) == 0, (tmp_path / f"w{i}.log").read_text()[-3000:]
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)

    all_trials = reader.get_trials()
    by_number = {t.number: t for t in all_trials}
    states = [t.state for t in all_trials]
    assert TrialState.RUNNING not in states and TrialState.WAITING not in states
    assert count_finished(all_trials) == trials  # the requested number, not more
    # the killed trial: failed as stale, its parameters retried by a surviving worker
    killed = by_number[victim_trial]
    assert killed.state == TrialState.FAIL
    retries = [t for t in all_trials
               if RetryHeartbeatStaleTrialCallback.retried_trial_number(t) == victim_trial]
    assert len(retries) == 1 and retries[0].state.is_finished()
    assert retries[0].params == killed.params
    # no architecture trained twice
    trained = [t.user_attrs["arch_key"] for t in all_trials
               if t.state in (TrialState.COMPLETE, TrialState.PRUNED)
               and t.user_attrs.get("duplicate_of") is None]
    assert len(trained) == len(set(trained))
    # the whole table from the storage: exactly one row per finished (non-rejected) trial
    table = results_from_storage(storage, study)
    expected = sorted(t.number for t in all_trials
                      if t.state.is_finished() and "rejected" not in t.user_attrs)
    assert sorted(table["trial"].tolist()) == expected
    row = table.set_index("trial").loc[victim_trial]
    assert row["state"] == "failed" and f"retried as trial {retries[0].number}" in row["reason"]
    # the workers' own rows: together exactly the same trials, none twice
    local = results.load_tables([tmp_path / f"w{i}" for i in range(n_workers)
                                 if (tmp_path / f"w{i}").exists()])
    local = local[local["study"] == study]
    assert sorted(local["trial"].tolist()) == expected
    # collect + report work on the storage's table
    out_dir = tmp_path / "collected"
    assert cli.main(["collect", "--study", study, "--storage", storage, "--run-dir",
                     str(out_dir)]) == 0
    collected = results.load_table(out_dir)
    assert sorted(collected["trial"].tolist()) == expected
    assert cli.main(["report", str(out_dir), "--bootstrap", "0"]) == 0


def test_journal_workers_survive_a_killed_worker(tmp_path):
    _workers_survive_a_kill(tmp_path, journal_url(tmp_path), "tiny", fake=True)


@pytest.mark.postgres
@needs_postgres
def test_postgres_workers_survive_a_killed_worker(tmp_path):
    _workers_survive_a_kill(tmp_path, POSTGRES_URL, f"tiny-{uuid.uuid4().hex[:8]}", fake=True)


@pytest.mark.slow  # the default run has the same end to end on RDB and on the file journal
@pytest.mark.postgres
@needs_postgres
def test_postgres_journal_workers_survive_a_killed_worker(tmp_path):
    _workers_survive_a_kill(tmp_path, storage_url(tmp_path, "postgres-journal"),
                            f"tiny-{uuid.uuid4().hex[:8]}", fake=True)


@pytest.mark.slow
def test_journal_workers_survive_a_killed_worker_training_for_real(tmp_path):
    _workers_survive_a_kill(tmp_path, journal_url(tmp_path), "tiny", fake=False)


@pytest.mark.parametrize("backend", [
    *BACKENDS[:2],  # the PostgreSQL journal's run is slow-marked: the default run stays short
    pytest.param("postgres-journal", marks=[*BACKENDS[2].marks, pytest.mark.slow])])
def test_one_architecture_is_trained_once_by_many_workers(tmp_path, backend):
    # a space of exactly one architecture: every worker samples it at the same moment
    url = storage_url(tmp_path, backend)
    study = f"fixed-{uuid.uuid4().hex[:8]}"
    create_study(tmp_path, url, study=study, fixed=True, trials=4, epochs=2,
                 search={"max_duplicates": 2})
    run_dir = tmp_path / "w"
    out = subprocess.run([sys.executable, "-m", "tests.fake_cli", "worker", "--study", study,
                          "--storage", url, "--run-dir", str(run_dir), "--workers", "3",
                          "--heartbeat-interval", "1", "--grace-period", "4", "--no-progress"],
                         cwd=tmp_path, env=cli_env({EPOCH_SECONDS_ENV: "0.3"}),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "started 3 workers" in out.stdout
    assert len(set(re.findall(r"worker \S+:(\d+)", out.stdout))) == 3, out.stdout
    table = results.load_table(run_dir)
    assert table["trial"].is_unique
    assert (table["state"] == "complete").sum() == 1
    # each worker stops after two duplicates in a row (the space is exhausted)
    assert (table["state"] == "duplicate").sum() >= 2
    original = int(table.loc[table["state"] == "complete", "trial"].iloc[0])
    assert (table.loc[table["state"] == "duplicate", "duplicate_of"] == original).all()
    # every worker's "best so far" is the study's, whichever worker trained it
    lines = [line for line in (out.stdout + out.stderr).splitlines() if " duplicate " in line]
    assert lines and all(f"best so far: trial {original} " in line for line in lines), lines
    # the command to collect names the storage without its password (a credential never
    # reaches a log)
    assert (f"whole study: python -m resnet_nas collect --study {study} "
            f"--storage {shlex.quote(redact(url))} --run-dir {run_dir}") in out.stdout
    assert "resnet_nas:resnet_nas@" not in out.stdout + out.stderr
    reader = optuna.load_study(study_name=study, storage=open_storage(url, heartbeat=False))
    assert count_finished(reader.get_trials()) == 1  # duplicates do not count
    # `worker --collect` gives the same table from the storage
    assert cli.main(["worker", "--collect", "--study", study, "--storage", url, "--run-dir",
                     str(tmp_path / "all")]) == 0
    collected = results.load_table(tmp_path / "all")
    assert sorted(collected["state"]) == sorted(table["state"])


def test_ctrl_c_on_a_worker_fails_and_re_enqueues_its_trial(tmp_path):
    url = journal_url(tmp_path)
    create_study(tmp_path, url, trials=3, epochs=30)
    run_dir = tmp_path / "w"
    proc = spawn_cli("worker", "--study", "tiny", "--storage", url, "--run-dir", str(run_dir),
                     "--no-progress", cwd=tmp_path, env={EPOCH_SECONDS_ENV: "0.2"})
    reader = optuna.load_study(study_name="tiny", storage=open_storage(url, heartbeat=False))
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not any(
                t.user_attrs.get(CLAIM_ATTR) == "won"
                for t in reader.get_trials(deepcopy=False, states=(TrialState.RUNNING,))):
            time.sleep(0.1)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, output[-3000:]
    assert "run the worker again" in output
    trials = reader.get_trials()
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.WAITING]
    assert RetryHeartbeatStaleTrialCallback.retried_trial_number(trials[1]) == 0
    assert trials[1].params == trials[0].params
    row = results.load_table(run_dir).iloc[0]
    assert row["state"] == "failed" and "interrupted" in row["reason"]


def test_a_second_worker_in_the_same_run_dir_is_refused(tmp_path, capsys):
    from resnet_nas.lock import RunLock

    url = journal_url(tmp_path)
    create_study(tmp_path, url)
    (tmp_path / "w").mkdir()
    with RunLock(tmp_path / "w").acquire("worker") as lock:
        lock.announce()
        code, err = _main(capsys, "worker", "--study", "tiny", "--storage", url, "--run-dir",
                          str(tmp_path / "w"))
    assert code == 2 and "in use by a running worker" in _one_error_line(err)


# ---------------------------------------------------------------------------------------------
# A search paused past the grace period (SIGSTOP, Ctrl-Z, a suspended VM) beside a worker.
def test_a_search_paused_past_the_grace_period_wakes_and_goes_on(tmp_path):
    url = journal_url(tmp_path)
    create_study(tmp_path, url, trials=4, epochs=2)
    env = {EPOCH_SECONDS_ENV: "0.5", "RESNET_NAS_HEARTBEAT_INTERVAL": "1",
           "RESNET_NAS_HEARTBEAT_GRACE": "2"}
    search_log, worker_log = tmp_path / "search.log", tmp_path / "worker.log"
    searching = spawn_cli("search", "--resume", "--run-dir", str(tmp_path / "created"),
                          "--no-progress", cwd=tmp_path, env=env, stdout=open(search_log, "w"))
    reader = optuna.load_study(study_name="tiny", storage=open_storage(url, heartbeat=False))
    deadline = time.monotonic() + 60
    while not any(t.state == TrialState.RUNNING and _pid(t) == searching.pid
                  and trial_attrs.PLAN in t.user_attrs for t in reader.get_trials()):
        assert time.monotonic() < deadline and searching.poll() is None, search_log.read_text()
        time.sleep(0.05)
    searching.send_signal(signal.SIGSTOP)
    try:
        working = spawn_cli("worker", "--study", "tiny", "--storage", url, "--run-dir",
                            str(tmp_path / "w"), "--heartbeat-interval", "1", "--grace-period",
                            "2", "--no-progress", cwd=tmp_path, env=env,
                            stdout=open(worker_log, "w"))
        # the worker finds the paused search's trial stale, fails it, and trains on
        while not any(t.state == TrialState.FAIL and _pid(t) == searching.pid
                      for t in reader.get_trials()):
            assert time.monotonic() < deadline, worker_log.read_text()
            time.sleep(0.1)
    finally:
        searching.send_signal(signal.SIGCONT)
    assert searching.wait(timeout=60) == 0, search_log.read_text()
    assert working.wait(timeout=60) == 0, worker_log.read_text()
    assert "Traceback" not in search_log.read_text() + worker_log.read_text()
    trials = reader.get_trials()
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    assert count_finished(trials) == 4  # the study's target, whoever trained the trials
    # the paused trial has a failed row in both run directories; a report counts it once
    from resnet_nas.report import load_runs

    notes: list[str] = []
    frame = load_runs([tmp_path / "created", tmp_path / "w"], notes)
    finished = [t.number for t in trials if t.state.is_finished()
                and trial_attrs.REJECTED not in t.user_attrs]
    assert sorted(frame["trial"]) == sorted(finished)
    assert any("has rows in 2 run directories" in n for n in notes), notes
