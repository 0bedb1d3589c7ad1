"""Builds that share a benchmark through a storage (`benchmark build --storage URL`)."""

import threading
import time
import uuid

import optuna
import pytest
from optuna.trial import TrialState

from resnet_nas.benchmark.build import build_space
from resnet_nas.benchmark.jobs import JOB, open_build_study
from resnet_nas.benchmark.table import read_table
from resnet_nas.cli import main
from resnet_nas.errors import SearchError
from tests.benchmark.spaces import tiny_space
from tests.distributed.conftest import BACKENDS, storage_url


def quiet(_line: str) -> None:
    pass


def rows_of(out) -> dict[str, str]:
    return {p.name: p.read_text() for p in (out / "rows").glob("*.json")}


@pytest.fixture
def shared(tmp_path, request):
    """(space file, storage URL, a study name of this test's own)."""
    _, path = tiny_space(tmp_path)
    return path, storage_url(tmp_path, getattr(request, "param", "journal")), \
        f"bench-{uuid.uuid4().hex[:8]}"


def test_a_second_build_trains_only_what_the_first_left_and_both_end_complete(
        tmp_path, shared, fake_runner):
    path, url, name = shared
    a, b = tmp_path / "a", tmp_path / "b"
    fake_runner.script = {5: "interrupt"}
    with pytest.raises(KeyboardInterrupt):
        build_space(path, a, None, storage=url, study_name=name, runner_factory=fake_runner,
                    log=quiet)
    assert len(rows_of(a)) == 5
    fake_runner.script = {}
    second = build_space(path, b, None, storage=url, study_name=name,
                         runner_factory=fake_runner, log=quiet)
    # the interrupted job was released at once, so the second build trains it
    assert (second.trained, second.synced, second.rows) == (7, 5, 12)
    before = rows_of(a)
    first_again = build_space(path, a, None, storage=url, study_name=name,
                              runner_factory=fake_runner, log=quiet)
    assert (first_again.trained, first_again.synced, first_again.rows) == (0, 7, 12)
    assert {k: v for k, v in rows_of(a).items() if k in before} == before  # never rewritten
    assert rows_of(a) == rows_of(b)
    assert read_table(a).entries == read_table(b).entries


@pytest.mark.parametrize("shared", BACKENDS, indirect=True)
def test_concurrent_builds_never_train_a_job_twice(tmp_path, shared, fake_runner):
    path, url, name = shared
    outs = [tmp_path / "a", tmp_path / "b"]
    errors = []

    def one(out):
        try:
            build_space(path, out, None, workers=2, seeds=2, storage=url, study_name=name,
                        runner_factory=fake_runner, log=quiet)
        except BaseException as e:  # re-raised below
            errors.append(e)

    threads = [threading.Thread(target=one, args=(out,)) for out in outs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    trained = [(job.arch.key(), job.train.seed) for job in fake_runner.jobs]
    assert len(trained) == len(set(trained)) == 24
    for out in outs:  # a build that finished first syncs the other's rows on its next run
        assert build_space(path, out, None, seeds=2, storage=url, study_name=name,
                           runner_factory=fake_runner, log=quiet).rows == 24
    assert rows_of(outs[0]) == rows_of(outs[1])


def test_a_job_held_by_a_dead_build_is_taken_once_its_heartbeat_is_stale(
        tmp_path, shared, fake_runner, monkeypatch):
    from resnet_nas.sharing.claims import CLAIM_ATTR
    from resnet_nas.engines.optuna_study import trial_id

    monkeypatch.setenv("RESNET_NAS_HEARTBEAT_INTERVAL", "1")
    monkeypatch.setenv("RESNET_NAS_HEARTBEAT_GRACE", "2")
    path, url, name = shared
    build_space(path, tmp_path / "a", 3, storage=url, study_name=name,
                runner_factory=fake_runner, log=quiet)  # creates the study: 3 architectures
    from resnet_nas.benchmark.table import BenchmarkMeta

    meta = BenchmarkMeta.read(tmp_path / "a" / "benchmark.json")
    storage, study = open_build_study(url, name, meta, path.read_text())
    # a build that claimed every job of a second seed and was killed: it beats no more
    dead = []
    for number in range(3, 6):
        t = study.ask()
        storage.record_heartbeat(trial_id(storage, study, t.number))
        t.set_user_attr(JOB, number)
        t.set_user_attr(CLAIM_ATTR, "won")
        dead.append(t.number)
    time.sleep(2.5)  # the grace period passes
    report = build_space(path, tmp_path / "b", 3, seeds=2, storage=url, study_name=name,
                         runner_factory=fake_runner, log=quiet)
    assert (report.trained, report.synced, report.rows) == (3, 3, 6)
    states = {t.number: t.state for t in study.get_trials(deepcopy=False)}
    assert all(states[n] == TrialState.FAIL for n in dead)


def test_a_study_of_another_benchmark_or_of_a_search_is_refused(tmp_path, shared, fake_runner):
    path, url, name = shared
    build_space(path, tmp_path / "a", None, storage=url, study_name=name,
                runner_factory=fake_runner, log=quiet)
    other = tmp_path / "other.yaml"
    other.write_text(path.read_text().replace("epochs: 2", "epochs: 3"))
    with pytest.raises(SearchError, match="holds a benchmark with space_hash"):
        build_space(other, tmp_path / "b", None, storage=url, study_name=name,
                    runner_factory=fake_runner, log=quiet)
    build_space(path, tmp_path / "c", None, seeds=2, storage=url, study_name=name,
                runner_factory=fake_runner, log=quiet)  # a build may add seeds
    with pytest.raises(SearchError, match="--seeds 2"):
        build_space(path, tmp_path / "d", None, seeds=1, storage=url, study_name=name,
                    runner_factory=fake_runner, log=quiet)
    assert not (tmp_path / "b").exists() and not (tmp_path / "d").exists()
    from resnet_nas.storage import open_storage

    search_study = optuna.create_study(study_name=f"{name}-search",
                                       storage=open_storage(url, heartbeat=False))
    search_study.set_user_attr("run_meta", {"run_id": "x"})
    with pytest.raises(SearchError, match="a search's study"):
        build_space(path, tmp_path / "e", None, storage=url, study_name=f"{name}-search",
                    runner_factory=fake_runner, log=quiet)


@pytest.mark.parametrize("argv, flag", [
    (["--study-name", "x"], "--study-name"),
    (["--storage", "journal:///tmp/never.journal", "--study-name", "../up"], "--study-name"),
])
def test_bad_storage_flags_are_one_line_exit_2(tmp_path, capsys, argv, flag):
    assert main(["benchmark", "build", "quickstart", "--out", str(tmp_path / "o"), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and flag in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("shared", BACKENDS, indirect=True)
def test_the_storage_url_reaches_no_file_and_its_password_no_line(tmp_path, shared,
                                                                   fake_runner, capsys):
    from urllib.parse import urlsplit

    path, url, name = shared
    report = build_space(path, tmp_path / "a", None, storage=url, study_name=name,
                         runner_factory=fake_runner, log=print)
    assert report.rows == 12
    printed = capsys.readouterr().out
    assert f"study {name!r}" in printed
    secret = urlsplit(url).password
    for f in (tmp_path / "a").rglob("*"):
        if f.is_file() and f.suffix in (".json", ".yaml", ".csv"):
            text = f.read_text()
            assert url not in text and (secret is None or f":{secret}@" not in text), f
    assert secret is None or f":{secret}@" not in printed


@pytest.mark.slow
def test_two_real_build_processes_share_one_benchmark(tmp_path):
    """Real training: two `benchmark build` processes on one journal, 4 architectures x 1
    epoch; every job is trained by exactly one of them and both end with the whole table."""
    import json
    import subprocess
    import sys

    _, path = tiny_space(tmp_path)
    url = f"journal://{tmp_path}/shared.journal"
    cmd = [sys.executable, "-m", "resnet_nas", "benchmark", "build", str(path), "--archs", "4",
           "--epochs", "1", "--storage", url]
    procs = [subprocess.Popen([*cmd, "--out", str(tmp_path / out)], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for out in ("a", "b")]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    for out in ("a", "b"):  # the first to finish syncs the other's last rows now
        subprocess.run([*cmd, "--out", str(tmp_path / out)], check=True, capture_output=True)
    rows = {out: {p.name: json.loads(p.read_text()) for p in (tmp_path / out / "rows").glob("*")}
            for out in ("a", "b")}
    assert len(rows["a"]) == 4 and rows["a"] == rows["b"]
    assert all(r["state"] == "complete" for r in rows["a"].values()), \
        {name: (r["state"], r["reason"]) for name, r in rows["a"].items()}
    # each job's line is printed by the one process that trained it
    assert sum(o.count(" complete val ") for o in outputs) == 4, outputs
