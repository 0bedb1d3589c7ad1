"""Trial isolation: crashes are contained, and memory stays flat over many trials."""

import os
import signal
import threading
import time


from resnet_nas.config import DataConfig, TrainConfig
from resnet_nas.nets import cifar_resnet
from resnet_nas.worker import Job, TrialRunner, rss_mb


def _job(epochs=1, width=4, **train):
    arch = cifar_resnet(8, widths=(width, width, 2 * width), input_shape=(16, 16, 3),
                        num_classes=4)
    cfg = TrainConfig(epochs=epochs, batch_size=64, **train)
    data = DataConfig(name="synthetic", validation_split=0.25, limit_train=128)
    return Job(arch=arch.to_dict(), train=cfg.to_dict(), data=dict(data.__dict__))


def test_runner_reports_epochs_and_stops_on_request():
    seen = []
    with TrialRunner(max_trials_per_worker=5) as runner:
        out = runner.run(_job(epochs=3), lambda m: seen.append(m["epoch"]) or m["epoch"] < 2)
    assert out.ok, out.error
    assert seen == [1, 2] and out.result["stopped_early"] and out.result["epochs_run"] == 2


def test_exception_in_worker_is_reported_and_worker_replaced():
    bad = _job()
    bad.data["name"] = "folder"
    bad.data["path"] = "/nonexistent/images"
    with TrialRunner() as runner:
        out = runner.run(bad)
        assert not out.ok and "nonexistent" in out.error
        again = runner.run(_job())
        assert again.ok, again.error


def test_worker_crash_is_contained():
    with TrialRunner() as runner:
        def kill_soon():
            deadline = time.time() + 60
            while runner.pid is None and time.time() < deadline:
                time.sleep(0.05)
            time.sleep(1.0)
            os.kill(runner.pid, signal.SIGKILL)
        threading.Thread(target=kill_soon, daemon=True).start()
        out = runner.run(_job(epochs=200))
        assert not out.ok and "worker crashed" in out.error
        assert runner.run(_job()).ok  # a fresh worker takes the next trial


def test_memory_stays_flat_over_many_trials():
    """55 trials in one search process: worker and search-process memory must not grow.

    Workers are recycled every 10 trials, so growth inside a Keras process is bounded; the search
    process itself never imports Keras. The measurement fails if either grows with the number of
    trials run.
    """
    n = 55
    worker_rss, parent_rss = [], []
    with TrialRunner(max_trials_per_worker=10) as runner:
        for i in range(n):
            out = runner.run(_job(width=4 + (i % 3)))
            assert out.ok, out.error
            worker_rss.append(out.worker_rss_mb)
            parent_rss.append(rss_mb())
    first, last = worker_rss[5:15], worker_rss[-10:]
    print(f"worker RSS MiB: first {min(first):.0f}-{max(first):.0f}, "
          f"last {min(last):.0f}-{max(last):.0f}; search process "
          f"{parent_rss[0]:.0f} -> {parent_rss[-1]:.0f}")
    assert max(last) < max(first) * 1.15 + 50
    assert parent_rss[-1] < parent_rss[4] + 30
    assert runner.restarts >= 5
