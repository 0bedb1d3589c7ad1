"""Trial isolation: a trial process reports epochs and stops when told; crashes are contained;
it never outlives its search; memory stays flat over many trials (slow)."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import replace

import pytest

from resnet_nas.config import DataConfig, TrainConfig
from resnet_nas.nets import cifar_resnet
from resnet_nas.train.metrics import StepProgress
from resnet_nas.trial_process import Job, TrialRunner
from resnet_nas.trial_startup import rss_mb
from tests.fakes import EPOCH_SECONDS_ENV, fake_process_runner
from tests.helpers import REPO, cli_env


def _job(epochs=1, width=4, **train):
    arch = cifar_resnet(8, widths=(width, width, 2 * width), input_shape=(16, 16, 3),
                        num_classes=4)
    cfg = TrainConfig(epochs=epochs, batch_size=64, **train)
    data = DataConfig(name="synthetic", validation_split=0.25, limit_train=128)
    return Job(arch=arch, train=cfg, data=data)


@pytest.mark.slow
def test_runner_trains_reports_epochs_and_stops_on_request():
    seen = []
    with TrialRunner(max_trials_per_worker=5) as runner:  # real Keras training
        out = runner.run(_job(epochs=3), lambda m: seen.append(m["epoch"]) or m["epoch"] < 2)
    assert out.ok, out.error
    assert seen == [1, 2] and out.train.stopped_early and out.train.epochs_run == 2
    assert out.count_params > 0 and out.train.history[0].val_accuracy >= 0


def test_exception_in_a_job_is_reported_and_the_process_replaced():
    bad = replace(_job(), data=DataConfig(name="folder", path="/nonexistent/images"))
    with fake_process_runner() as runner:
        out = runner.run(bad)
        assert not out.ok and "nonexistent" in out.error
        again = runner.run(_job())
        assert again.ok, again.error
        assert again.worker_pid != out.worker_pid


def test_a_backend_that_fails_to_start_is_every_jobs_reason(monkeypatch):
    import importlib.util

    if importlib.util.find_spec("torch") is not None:
        pytest.skip("torch is installed: its backend would start")
    with TrialRunner("torch", max_trials_per_worker=5) as runner:
        out = runner.run(_job())
    assert not out.ok
    assert out.error.startswith("the trial process could not start its Keras backend 'torch'")
    assert "crashed" not in out.error


def test_a_crash_of_the_trial_process_is_contained():
    with fake_process_runner(env={EPOCH_SECONDS_ENV: "0.2"}) as runner:
        def kill_soon():
            deadline = time.time() + 60
            while runner.pid is None and time.time() < deadline:
                time.sleep(0.05)
            time.sleep(0.5)
            os.kill(runner.pid, signal.SIGKILL)
        threading.Thread(target=kill_soon, daemon=True).start()
        out = runner.run(_job(epochs=200))
        assert not out.ok and "trial process crashed" in out.error
        assert runner.run(_job()).ok  # a fresh process takes the next trial


def test_progress_inside_an_epoch_reaches_the_search_without_an_answer():
    steps, epochs = [], []
    with fake_process_runner() as runner:
        out = runner.run(_job(epochs=2), lambda m: epochs.append(m["epoch"]) or True,
                         steps.append)
    assert out.ok and epochs == [1, 2]
    assert [s["epoch"] for s in steps] == [1, 2] and steps[0]["step"] == 5
    assert StepProgress(**steps[0]).eta_seconds == 1.0  # 5 of 10 steps in 1 s


def test_the_process_is_recycled_after_max_trials():
    with fake_process_runner(max_trials_per_worker=2) as runner:
        pids = [runner.run(_job()).worker_pid for _ in range(5)]
    assert pids[0] == pids[1] != pids[2] == pids[3] != pids[4]
    assert runner.restarts >= 2


def test_the_process_is_recycled_by_memory_and_the_next_one_warms_at_once():
    with fake_process_runner(max_worker_rss_mb=0.5) as runner:  # the fake reports 1 MiB
        assert runner.max_trials_per_worker == 100
        runner.warm(_job().data, 0)
        warm_pid = runner.pid
        first = runner.run(_job())
        # recycled for its memory; its successor started (and was asked to warm) at once
        assert runner.pid is not None and runner.pid != first.worker_pid
        second = runner.run(_job())
    assert first.ok and second.ok
    assert first.worker_pid == warm_pid != second.worker_pid
    assert runner.restarts == 2


def test_warm_starts_the_process_once_and_jobs_use_it():
    with fake_process_runner() as runner:
        runner.warm(_job().data, 0)
        pid = runner.pid
        runner.warm(_job().data, 0)  # running already: nothing new
        assert runner.pid == pid
        assert [runner.run(_job()).worker_pid for _ in range(2)] == [pid, pid]


def test_close_stops_a_process_that_ran_jobs_when_asked():
    runner = fake_process_runner()
    assert runner.run(_job()).ok
    runner.close()
    assert runner.exitcode == 0 and runner.pid is None


def test_close_kills_a_warmed_process_that_ran_no_job_at_once():
    # e.g. the successor warmed by a recycle after the search's last trial: it may still be
    # importing its backend and would read "stop" only afterwards
    runner = fake_process_runner(max_worker_rss_mb=0.5)  # the fake reports 1 MiB: recycles
    runner.warm(_job().data, 0)
    assert runner.run(_job()).ok
    assert runner.pid is not None  # the successor, warming
    runner.close()
    assert runner.exitcode == -signal.SIGKILL and runner.pid is None


def test_the_default_memory_limit_is_at_most_6000_mib():
    from resnet_nas.trial_process import default_rss_limit_mb

    assert 0 < default_rss_limit_mb() <= 6000.0


PARENT = textwrap.dedent("""
    import os, sys, time
    from tests.fakes import fake_process_runner
    from tests.test_trial_process import _job
    runner = fake_process_runner(env={"RESNET_NAS_FAKE_EPOCH_SECONDS": "0.2"})
    def on_epoch(m):
        if m["epoch"] == 1:
            print("CHILD", runner.pid, flush=True)
        return True
    runner.run(_job(epochs=500), on_epoch)
""")


def _start_parent():
    proc = subprocess.Popen([sys.executable, "-c", PARENT], cwd=REPO, env=cli_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    line = proc.stdout.readline()
    assert line.startswith("CHILD"), proc.stderr.read()
    return proc, int(line.split()[1])


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_the_trial_process_dies_with_its_parent_at_once_and_quietly():
    proc, child = _start_parent()
    try:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.time() + 2.0
        while _alive(child) and time.time() < deadline:
            time.sleep(0.02)
        assert not _alive(child)
        assert "Traceback" not in proc.stderr.read()
    finally:
        os.killpg(proc.pid, signal.SIGKILL)


def test_the_trial_process_leaves_ctrl_c_to_its_search():
    proc, child = _start_parent()
    try:
        os.kill(child, signal.SIGINT)  # as a Ctrl-C to the process group would
        os.kill(child, signal.SIGTERM)
        time.sleep(0.5)
        assert _alive(child) and proc.poll() is None
    finally:
        os.killpg(proc.pid, signal.SIGKILL)


def _search_side(n: int, conn) -> None:
    """A search process's side of n real trials (run in a fresh process): the trial
    processes' and its own RSS after each trial, its restarts, whether it imported Keras."""
    worker_rss, parent_rss = [], []
    with TrialRunner(max_trials_per_worker=10) as runner:
        for i in range(n):
            out = runner.run(_job(width=4 + (i % 3)))
            if not out.ok:
                conn.send(("error", out.error))
                return
            worker_rss.append(out.worker_rss_mb)
            parent_rss.append(rss_mb())
    conn.send(("ok", (worker_rss, parent_rss, runner.restarts,
                      any(m in sys.modules for m in ("keras", "tensorflow")))))


@pytest.mark.slow
def test_memory_stays_flat_over_many_trials():
    """55 real trials from one search process: trial-process and search-process memory must
    not grow. Trial processes are recycled every 10 trials, so growth inside a Keras process is
    bounded; the search process itself never imports Keras. It runs in a process of its own:
    this test process may hold TensorFlow from other tests, whose memory moves on its own."""
    import multiprocessing as mp

    n = 55
    ctx = mp.get_context("spawn")
    here, there = ctx.Pipe()
    proc = ctx.Process(target=_search_side, args=(n, there))
    proc.start()
    try:
        assert here.poll(540), "the search process sent nothing in 9 minutes"
        status, payload = here.recv()
    finally:
        proc.join(timeout=60)
        if proc.is_alive():
            proc.kill()
    assert status == "ok", payload
    worker_rss, parent_rss, restarts, imported_keras = payload
    assert not imported_keras
    first, last = worker_rss[5:15], worker_rss[-10:]
    print(f"trial-process RSS MiB: first {min(first):.0f}-{max(first):.0f}, "
          f"last {min(last):.0f}-{max(last):.0f}; search process "
          f"{parent_rss[0]:.0f} -> {parent_rss[-1]:.0f}")
    assert max(last) < max(first) * 1.15 + 50
    assert parent_rss[-1] < parent_rss[4] + 30
    assert restarts >= 5
