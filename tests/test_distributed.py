"""Distributed search: workers sharing one study (JournalStorage always; PostgreSQL when
RESNET_NAS_TEST_POSTGRES_URL is set, see .ci/postgres.sh)."""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid

import optuna
import pytest
from optuna.trial import TrialState, create_trial

from resnet_nas import cli, results
from resnet_nas import distributed as D
from resnet_nas.search import (CLAIM_ATTR, LoopControl, SearchOptions, claim_architecture,
                               run_search, settle_architecture)
from resnet_nas.storage import HEARTBEAT_ATTR, heartbeat, open_storage
from tests.helpers import REPO, default_sigint, tiny_space

POSTGRES_URL = os.environ.get("RESNET_NAS_TEST_POSTGRES_URL")
needs_postgres = pytest.mark.skipif(not POSTGRES_URL,
                                    reason="RESNET_NAS_TEST_POSTGRES_URL not set "
                                    "(.ci/postgres.sh starts a server)")


def _journal(tmp_path, name="study.journal") -> str:
    return f"journal:///{(tmp_path / name).resolve().as_posix().lstrip('/')}"


def _storage_url(tmp_path, backend: str) -> str:
    return POSTGRES_URL if backend == "postgres" else _journal(tmp_path)


BACKENDS = ["journal", pytest.param("postgres", marks=[pytest.mark.postgres, needs_postgres])]


def _create(tmp_path, storage: str | None, study: str = "tiny", run_dir: str = "created",
            **space_kw):
    space = tiny_space(tmp_path, **space_kw)
    summary = run_search(SearchOptions(space=str(space), run_dir=str(tmp_path / run_dir),
                                       storage=storage, study_name=study, create_only=True,
                                       progress=False))
    return space, summary


def _main(capsys, *argv: str) -> tuple[int, str]:
    code = cli.main(list(argv))
    _, err = capsys.readouterr()
    return code, err


def _one_error_line(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


# ---------------------------------------------------------------------------------------------
# The study carries what a worker needs.
def test_created_study_records_space_and_run_meta(tmp_path):
    url = _journal(tmp_path)
    space, _ = _create(tmp_path, url, trials=5)
    study = optuna.load_study(study_name="tiny", storage=open_storage(url))
    assert study.user_attrs["space_yaml"] == space.read_text()
    meta = study.user_attrs["run_meta"]
    assert meta["trials"] == 5 and meta["sampler"] == "random" and meta["objectives"] == [
        "val_accuracy"]
    assert "storage" not in meta  # it may hold a password
    assert study.user_attrs["space_hash"] == meta["space_hash"]


def test_create_only_defaults_to_a_journal_in_the_run_dir(tmp_path):
    _, summary = _create(tmp_path, None)
    assert summary.storage.startswith("journal:///")
    assert (tmp_path / "created" / "study.journal").is_file()
    meta = json.loads((tmp_path / "created" / "run.json").read_text())
    assert meta["storage"] == summary.storage
    # a worker pointed at that run dir finds the storage without --storage
    assert D.default_storage(tmp_path / "created") == summary.storage


def test_create_only_refuses_a_study_of_another_space(tmp_path):
    url = _journal(tmp_path)
    _create(tmp_path, url)
    other = tiny_space(tmp_path, name="other", epochs=3)
    with pytest.raises(D.SearchError, match="created for a space with hash"):
        run_search(SearchOptions(space=str(other), run_dir=str(tmp_path / "r2"), storage=url,
                                 study_name="tiny", create_only=True, progress=False))


# ---------------------------------------------------------------------------------------------
# Bad input: one line, exit status 2, nothing changed.
def test_unreachable_database_is_one_clear_line(tmp_path, capsys):
    run_dir = tmp_path / "w"
    code, err = _main(capsys, "worker", "--study", "s", "--storage",
                      "postgresql://u:secret@127.0.0.1:1/db", "--run-dir", str(run_dir))
    line = _one_error_line(err)
    assert code == 2
    assert "cannot open storage" in line and "127.0.0.1:1" in line
    assert "secret" not in line  # the password is redacted
    assert not run_dir.exists()


def test_missing_study_is_one_clear_line_and_changes_nothing(tmp_path, capsys):
    url = _journal(tmp_path)
    _create(tmp_path, url)
    journal = tmp_path / "study.journal"
    before = journal.read_bytes()
    run_dir = tmp_path / "w"
    code, err = _main(capsys, "worker", "--study", "nope", "--storage", url, "--run-dir",
                      str(run_dir))
    line = _one_error_line(err)
    assert code == 2 and "'nope' does not exist" in line and "tiny" in line
    assert journal.read_bytes() == before and not run_dir.exists()
    code, err = _main(capsys, "collect", "--study", "nope", "--storage", url, "--run-dir",
                      str(run_dir))
    assert code == 2 and "does not exist" in _one_error_line(err) and not run_dir.exists()


def test_missing_storage_file_is_not_created(tmp_path, capsys):
    url = _journal(tmp_path, "missing.journal")
    code, err = _main(capsys, "worker", "--study", "tiny", "--storage", url, "--run-dir",
                      str(tmp_path / "w"))
    assert code == 2 and "does not exist" in _one_error_line(err)
    assert not (tmp_path / "missing.journal").exists() and not (tmp_path / "w").exists()


def test_space_that_differs_from_the_study_is_refused(tmp_path, capsys):
    url = _journal(tmp_path)
    space, _ = _create(tmp_path, url)
    other = tiny_space(tmp_path, name="other", epochs=5)  # train section -> another hash
    journal = tmp_path / "study.journal"
    before = journal.read_bytes()
    run_dir = tmp_path / "w"
    code, err = _main(capsys, "worker", "--study", "tiny", "--storage", url, "--space",
                      str(other), "--run-dir", str(run_dir))
    line = _one_error_line(err)
    assert code == 2 and "differs from the space" in line and str(other) in line
    assert journal.read_bytes() == before and not run_dir.exists()
    # the same space is accepted (prepare only: no trial runs)
    prep = D.prepare_worker(D.WorkerOptions(study="tiny", storage=url, space=str(space),
                                            run_dir=str(run_dir)))
    assert prep.total == 4 and (run_dir / "space.yaml").read_text() == space.read_text()


def test_bad_gpu_list_and_stale_policy(tmp_path, capsys):
    code, err = _main(capsys, "worker", "--study", "s", "--storage", _journal(tmp_path),
                      "--gpus", "0,x")
    assert code == 2 and "--gpus" in _one_error_line(err)
    with pytest.raises(ValueError, match="twice"):
        D.parse_gpus("1,1")


# ---------------------------------------------------------------------------------------------
# One worker per GPU.
def test_one_worker_process_per_gpu_with_its_own_device():
    procs = D.worker_processes(D.WorkerOptions(study="s", gpus=D.parse_gpus("0, 2")))
    assert [env for _, env in procs] == [{"CUDA_VISIBLE_DEVICES": "0"},
                                         {"CUDA_VISIBLE_DEVICES": "2"}]
    assert all(o.gpus == [g] and o.workers == 1 for (o, _), g in zip(procs, ["0", "2"]))
    cpu = D.worker_processes(D.WorkerOptions(study="s", workers=3))
    assert len(cpu) == 3 and all(env == {} for _, env in cpu)


def test_several_small_trials_share_one_gpu():
    procs = D.worker_processes(D.WorkerOptions(study="s", gpus=["1"], per_gpu=3))
    assert len(procs) == 3
    for opts, env in procs:
        assert env["CUDA_VISIBLE_DEVICES"] == "1" and opts.per_gpu == 1
        assert env["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
        assert float(env["XLA_PYTHON_CLIENT_MEM_FRACTION"]) == pytest.approx(0.3)
    with pytest.raises(ValueError, match="per-gpu"):
        D.worker_processes(D.WorkerOptions(study="s", gpus=["0"], per_gpu=0))


def test_gpu_id_reaches_the_trial_worker_env(tmp_path, monkeypatch):
    # the worker exports its heartbeat settings; monkeypatch restores the environment
    monkeypatch.setenv("RESNET_NAS_HEARTBEAT_INTERVAL", "10")
    monkeypatch.setenv("RESNET_NAS_HEARTBEAT_GRACE", "40")
    url = _journal(tmp_path)
    _create(tmp_path, url)
    seen = {}

    def fake_run_trials(study, space, run_dir, meta, data_cfg, train_cfg, total, timeout, opts,
                        out, control=None, **kw):
        seen.update(env=opts.worker_env, total=total, control=control)
        return type("S", (), {"table": results.to_frame([]), "interrupted": False})()

    monkeypatch.setattr(D, "run_trials", fake_run_trials)
    D.run_worker(D.WorkerOptions(study="tiny", storage=url, run_dir=str(tmp_path / "w"),
                                 gpus=["3"], trials=7), out=lambda s: None)
    assert seen["env"] == {"CUDA_VISIBLE_DEVICES": "3"} and seen["total"] == 7
    assert isinstance(seen["control"], D.StudyControl)


# ---------------------------------------------------------------------------------------------
# Architecture claims.
@pytest.mark.parametrize("backend", BACKENDS)
def test_concurrent_claims_of_one_architecture_have_one_winner(tmp_path, backend):
    url = _storage_url(tmp_path, backend)
    name = f"claims-{uuid.uuid4().hex[:8]}"
    optuna.create_study(study_name=name, storage=open_storage(url, heartbeat=False))
    n = 3
    studies = [optuna.load_study(study_name=name, storage=open_storage(url, heartbeat=False))
               for _ in range(n)]
    for round_ in range(4):
        barrier = threading.Barrier(n)
        outcome: list = [None] * n
        errors = []

        def claim(i: int) -> None:
            try:
                trial = studies[i].ask()
                barrier.wait()
                outcome[i] = (trial, claim_architecture(studies[i], trial, f"arch{round_}",
                                                        poll=0.05))
            except Exception as e:  # surfaced below
                errors.append(e)

        threads = [threading.Thread(target=claim, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not errors
        winners = [trial for trial, holder in outcome if holder is None]
        assert len(winners) == 1, [(t.number, h) for t, h in outcome]
        claims = {t.number: t.user_attrs[CLAIM_ATTR]
                  for t in studies[0].get_trials(states=(TrialState.RUNNING,))
                  if t.user_attrs.get("arch_key") == f"arch{round_}"}
        assert sorted(claims.values()) == ["lost"] * (n - 1) + ["won"]
        for i, (trial, holder) in enumerate(outcome):
            studies[i].tell(trial, state=TrialState.FAIL)


def test_claim_yields_to_trained_and_ignores_losers_and_duplicates(tmp_path):
    study = optuna.create_study(storage=open_storage(_journal(tmp_path), heartbeat=False))
    loser = study.ask()
    loser.set_user_attr("arch_key", "k")
    loser.set_user_attr(CLAIM_ATTR, "lost")
    dup = study.ask()
    dup.set_user_attr("duplicate_of", 99)
    dup.set_user_attr("arch_key", "k")
    me = study.ask()
    assert claim_architecture(study, me, "k") is None  # neither counts as a holder
    study.tell(me, 0.5)
    again = study.ask()
    # trained already: a duplicate, never trained twice
    assert settle_architecture(study, again, "k", LoopControl(tmp_path, "x", 1)) == (me.number,
                                                                                       [])


def test_single_process_rejects_an_architecture_another_trial_trains(tmp_path):
    study = optuna.create_study(storage=open_storage(_journal(tmp_path), heartbeat=False))
    first = study.ask()
    assert claim_architecture(study, first, "k") is None
    second = study.ask()
    original, reasons = settle_architecture(study, second, "k", LoopControl(tmp_path, "x", 1))
    assert original is None and "being trained by trial 0" in reasons[0]


# ---------------------------------------------------------------------------------------------
# Stale trials.
def test_stale_journal_trial_is_failed_and_retried_exactly_once(tmp_path):
    url = _journal(tmp_path)
    study = optuna.create_study(study_name="s", storage=open_storage(url))
    dead = study.ask()
    x = dead.suggest_int("x", 0, 100)
    study._storage.set_trial_system_attr(dead._trial_id, HEARTBEAT_ATTR, time.time())
    live = study.ask()
    others = [optuna.load_study(study_name="s", storage=open_storage(url)) for _ in range(2)]
    with heartbeat(study._storage, live._trial_id, interval=0.2):
        assert D.recover_stale_trials(others[0], grace=2, policy="retry") == []
        time.sleep(2.5)
        got = [t.number for s in others for t in D.recover_stale_trials(s, 2, "retry")]
    assert got == [dead.number]  # the second worker finds it failed already
    trials = study.get_trials()
    assert trials[dead.number].state == TrialState.FAIL
    assert trials[dead.number].system_attrs[D.STALE_ATTR] == "retry"
    assert trials[live.number].state == TrialState.RUNNING  # its heartbeat is fresh
    waiting = [t for t in trials if t.state == TrialState.WAITING]
    assert len(waiting) == 1 and waiting[0].user_attrs[D.RETRY_OF] == dead.number
    assert not D.counts_toward_total(trials[dead.number])
    retry = others[1].ask()
    assert retry.number == waiting[0].number and retry.suggest_int("x", 0, 100) == x


def test_stale_policy_fail_counts_the_trial_and_enqueues_nothing(tmp_path):
    url = _journal(tmp_path)
    study = optuna.create_study(study_name="s", storage=open_storage(url))
    dead = study.ask()
    dead.suggest_int("x", 0, 100)
    time.sleep(1.2)
    assert [t.number for t in D.recover_stale_trials(study, 1, "fail")] == [dead.number]
    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.FAIL]
    assert D.counts_toward_total(trials[0])


def test_stale_rdb_trial_found_by_optunas_heartbeat(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = optuna.create_study(study_name="s", storage=open_storage(url, interval=1, grace=2))
    dead = study.ask()
    dead.suggest_float("lr", 0.1, 1.0)
    with heartbeat(study._storage, dead._trial_id):
        pass  # one beat, then its worker "dies"
    assert D.recover_stale_trials(study, 2, "retry") == []
    time.sleep(3.5)
    assert [t.number for t in D.recover_stale_trials(study, 2, "retry")] == [dead.number]
    assert [t.state for t in study.get_trials()] == [TrialState.FAIL, TrialState.WAITING]


# ---------------------------------------------------------------------------------------------
# Counting towards --trials.
def test_study_control_counts_the_storage_and_drops_surplus_trials(tmp_path):
    url = _journal(tmp_path)
    study = optuna.create_study(study_name="s", storage=open_storage(url))
    for v in (0.1, 0.2):
        study.add_trial(create_trial(value=v))
    study.add_trial(create_trial(state=TrialState.FAIL, user_attrs={"rejected": "infeasible"}))
    study.add_trial(create_trial(state=TrialState.FAIL, system_attrs={D.STALE_ATTR: "retry"}))
    control = D.StudyControl(tmp_path / "w", {"study": "s"}, total=3, grace=30, poll=0.01)
    assert control.finished(study) == 2 and control.next_action(study) == "ask"
    running = study.ask()
    assert control.admit(study, running) is None
    assert control.next_action(study) == "wait"  # 2 finished + 1 running: wait, don't stop
    surplus = study.ask()
    assert "surplus" in control.admit(study, surplus)
    study.tell(running, 0.3)
    assert control.next_action(study) == "stop"


# ---------------------------------------------------------------------------------------------
# End to end: several worker processes, one killed mid-trial.
def _pid(trial) -> int | None:
    worker = trial.user_attrs.get("worker", "")
    return int(worker.rsplit(":", 1)[1]) if ":" in worker else None


def _workers_survive_a_kill(tmp_path, storage: str, study: str, n_workers: int = 3,
                            trials: int = 6) -> None:
    _create(tmp_path, storage, study=study, trials=trials, epochs=2)
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    procs = []
    for i in range(n_workers):
        log = open(tmp_path / f"w{i}.log", "w")
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "resnet_nas", "worker", "--study", study, "--storage", storage,
             "--run-dir", str(tmp_path / f"w{i}"), "--heartbeat-interval", "1",
             "--grace-period", "4", "--no-progress"],
            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True))
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
            time.sleep(0.2)
        assert victim is not None, "no worker started training"
        time.sleep(1.0)  # well inside its training
        os.killpg(victim.pid, signal.SIGKILL)  # the worker and its trial subprocess
        victim.wait(timeout=30)
        for p in procs:
            if p is not victim:
                assert p.wait(timeout=240) == 0, (tmp_path / "w0.log").read_text()[-3000:]
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)

    all_trials = reader.get_trials()
    by_number = {t.number: t for t in all_trials}
    states = [t.state for t in all_trials]
    assert TrialState.RUNNING not in states and TrialState.WAITING not in states
    assert D.count_finished(all_trials) == trials  # the requested number, not more
    # the killed trial: failed as stale, its parameters retried by a surviving worker
    killed = by_number[victim_trial]
    assert killed.state == TrialState.FAIL and killed.system_attrs[D.STALE_ATTR] == "retry"
    retries = [t for t in all_trials if t.user_attrs.get(D.RETRY_OF) == victim_trial]
    assert len(retries) == 1 and retries[0].state.is_finished()
    assert retries[0].params == killed.params
    # no architecture trained twice
    trained = [t.user_attrs["arch_key"] for t in all_trials
               if t.state in (TrialState.COMPLETE, TrialState.PRUNED)
               and t.user_attrs.get("duplicate_of") is None]
    assert len(trained) == len(set(trained))
    # the whole table from the storage: exactly one row per finished (non-rejected) trial
    table = D.results_from_storage(storage, study)
    expected = sorted(t.number for t in all_trials
                      if t.state.is_finished() and "rejected" not in t.user_attrs)
    assert sorted(table["trial"].tolist()) == expected
    row = table.set_index("trial").loc[victim_trial]
    assert row["state"] == "failed" and f"retried as trial {retries[0].number}" in row["reason"]
    assert (table["state"] != "failed").sum() + (table["state"] == "failed").sum() == len(table)
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
    _workers_survive_a_kill(tmp_path, _journal(tmp_path), "tiny")


@pytest.mark.postgres
@needs_postgres
def test_postgres_workers_survive_a_killed_worker(tmp_path):
    _workers_survive_a_kill(tmp_path, POSTGRES_URL, f"tiny-{uuid.uuid4().hex[:8]}")


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_architecture_is_trained_once_by_many_workers(tmp_path, backend):
    # a space of exactly one architecture: every worker samples it at the same moment
    url = _storage_url(tmp_path, backend)
    study = f"fixed-{uuid.uuid4().hex[:8]}"
    _create(tmp_path, url, study=study, fixed=True, trials=4, epochs=2)
    run_dir = tmp_path / "w"
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, "-m", "resnet_nas", "worker", "--study", study,
                          "--storage", url, "--run-dir", str(run_dir), "--workers", "3",
                          "--heartbeat-interval", "1", "--grace-period", "4", "--no-progress"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "started 3 workers" in out.stdout
    # three worker processes took part
    assert len(set(re.findall(r"worker \S+:(\d+)", out.stdout))) == 3, out.stdout
    table = results.load_table(run_dir)
    assert len(table) == 4 and table["trial"].is_unique
    assert (table["state"] == "complete").sum() == 1
    assert (table["state"] == "duplicate").sum() == 3
    original = int(table.loc[table["state"] == "complete", "trial"].iloc[0])
    assert (table.loc[table["state"] == "duplicate", "duplicate_of"] == original).all()
    reader = optuna.load_study(study_name=study, storage=open_storage(url, heartbeat=False))
    assert D.count_finished(reader.get_trials()) == 4
    # `worker --collect` gives the same table from the storage
    assert cli.main(["worker", "--collect", "--study", study, "--storage", url, "--run-dir",
                     str(tmp_path / "all")]) == 0
    collected = results.load_table(tmp_path / "all")
    assert list(collected["state"].value_counts().sort_index().items()) == [("complete", 1),
                                                                           ("duplicate", 3)]


def test_ctrl_c_on_a_worker_fails_and_re_enqueues_its_trial(tmp_path):
    url = _journal(tmp_path)
    _create(tmp_path, url, trials=3, epochs=30)
    run_dir = tmp_path / "w"
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen([sys.executable, "-m", "resnet_nas", "worker", "--study", "tiny",
                             "--storage", url, "--run-dir", str(run_dir), "--no-progress"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            preexec_fn=default_sigint)
    reader = optuna.load_study(study_name="tiny", storage=open_storage(url, heartbeat=False))
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not any(
                t.user_attrs.get(CLAIM_ATTR) == "won"
                for t in reader.get_trials(deepcopy=False, states=(TrialState.RUNNING,))):
            time.sleep(0.2)
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, output[-3000:]
    assert "Run the worker again" in output
    trials = reader.get_trials()
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.WAITING]
    assert trials[0].system_attrs[D.STALE_ATTR] == "retry"
    assert trials[1].user_attrs[D.RETRY_OF] == 0 and trials[1].system_attrs["fixed_params"] == (
        trials[0].params)
    row = results.load_table(run_dir).iloc[0]
    assert row["state"] == "failed" and "interrupted" in row["reason"]
