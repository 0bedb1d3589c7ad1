"""The shared fake trial runners: engine logic without training.

- `FakeRunner`: in process, no subprocess, no Keras. A deterministic validation accuracy per
  architecture and epoch (so pruners and samplers have something to rank); `script[i]` makes
  job i fail ('error'), diverge ('diverged') or raise Ctrl-C ('interrupt').
- `fake_trial_main` / `fake_process_runner`: a real `TrialRunner` whose trial process runs the
  same fake training (epochs of RESNET_NAS_FAKE_EPOCH_SECONDS each) instead of Keras: the process
  plumbing (spawn, pipe, recycling, parent death, signals) is the real one, and a trial process
  starts in a fraction of a second. `python -m tests.fake_cli ...` runs the CLI with it.

The fake accuracy depends only on the architecture and the epoch: a duplicate of an
architecture has the very result a real retraining would give under fixed seeds.
"""

from __future__ import annotations

import functools
import hashlib
import os
import time
from typing import Any

from resnet_nas.train.metrics import EpochMetrics, StepProgress, TrainResult
from resnet_nas.trial_process import (Job, JobResult, TrialRunner, TrialRunnerLike,
                                      become_trial_process, serve_jobs)

EPOCH_SECONDS_ENV = "RESNET_NAS_FAKE_EPOCH_SECONDS"
#: A learning rate at or above this diverges (fake_job).
DIVERGING_LR = 100.0


def fake_accuracy(arch_key: str, epoch: int) -> float:
    base = int(hashlib.sha256(arch_key.encode()).hexdigest()[:6], 16) / 16**6
    # an accuracy: it levels off below 1 however long a slow test trains
    return round(min(0.2 + 0.5 * base + 0.05 * epoch, 0.95 + 0.04 * base), 6)


def fake_job(job: Job, on_epoch, on_step=None, diverge: bool = False, sleep: float = 0.0
             ) -> dict[str, Any]:
    """Trains nothing: reports the fake accuracy of each epoch (stopping when told to). A
    'folder' data set that does not exist raises, as loading it would."""
    if job.data.name == "folder" and not os.path.exists(job.data.path or ""):
        raise FileNotFoundError(f"no such image folder: {job.data.path}")
    key = job.arch.key()
    diverge = diverge or job.train.learning_rate >= DIVERGING_LR
    history = []
    stopped = False
    for e in range(1, job.train.epochs + 1):
        if sleep:
            time.sleep(sleep)
        if on_step is not None:  # half-way through the epoch, as a long epoch reports
            on_step(StepProgress(epoch=e, step=5, steps=10, seconds=1.0,
                                 images_per_second=640.0).to_dict())
        acc = fake_accuracy(key, e)
        loss = float("nan") if diverge else 1.0 / e
        m = EpochMetrics(epoch=e, train_loss=loss, train_accuracy=acc, val_loss=1.0 / e,
                         val_accuracy=acc, seconds=0.01, images_per_second=1e4)
        history.append(m)
        if diverge:
            break
        if not on_epoch(m.to_dict()):
            stopped = e < job.train.epochs
            break
    reason = (f"diverged: train loss nan at epoch {len(history)}" if diverge else
              f"stopped by on_epoch at epoch {len(history)}" if stopped else "completed")
    result = TrainResult(history=history, epochs_run=len(history), stopped_early=stopped,
                         diverged=diverge, reason=reason, train_seconds=0.01 * len(history),
                         compile_seconds=0.001, images_per_second=1e4, trainer="fake",
                         backend=job.train.backend, device="cpu")
    return {"train": result.to_dict(), "count_params": 0, "worker_rss_mb": 1.0}


#: The validation images the fake trials say they measured on.
FAKE_VAL_IMAGES = 250


class FakeRunner(TrialRunnerLike):
    """Stands in for TrialRunner in the search process itself. `script[i]` scripts job i:
    'error', 'diverged' or 'interrupt' (Ctrl-C during the job).

    Every instance appends to the class's `jobs` (reset by the `fake_runner` fixture)."""

    jobs: list[Job] = []
    script: dict[int, str] = {}
    warmed: list[tuple[Any, int]] = []
    events: list[str] = []  # 'start', 'warm', 'prepare', 'run', 'close', in order
    prepared: list[Job] = []

    def __init__(self, backend: str = "tensorflow", max_trials_per_worker: int = 100,
                 env: dict[str, str] | None = None, **kw: Any):
        self.backend = backend

    def run(self, job: Job, on_epoch=None, on_step=None, while_running=None) -> JobResult:
        FakeRunner.events.append("run")
        if while_running is not None:
            while_running()
        index = len(FakeRunner.jobs)
        FakeRunner.jobs.append(job)
        action = FakeRunner.script.get(index)
        if action == "interrupt":
            raise KeyboardInterrupt
        if action == "error":
            return JobResult(False, error="RuntimeError: out of memory\ntraceback ...")
        out = fake_job(job, on_epoch or (lambda m: True), diverge=action == "diverged")
        channels = job.arch.input_shape[-1]
        return JobResult(True, TrainResult.from_dict(out["train"]), skipped_images=0,
                         val_images=FAKE_VAL_IMAGES,
                         normalization={"mean": [100.0] * channels, "std": [50.0] * channels})

    def start(self) -> None:
        FakeRunner.events.append("start")

    def warm(self, data, seed: int, input_shape=None) -> None:
        FakeRunner.events.append("warm")
        FakeRunner.warmed.append((data, seed))

    def prepare(self, job: Job, after: Job | None = None) -> None:
        FakeRunner.events.append("prepare")
        FakeRunner.prepared.append(job)

    def close(self) -> None:
        FakeRunner.events.append("close")


def fake_trial_main(conn, env: dict[str, str], parent_pid: int) -> None:
    """A trial process that trains nothing (TrialRunner target): the real plumbing."""
    become_trial_process(parent_pid)
    os.environ.update(env)
    sleep = float(os.environ.get(EPOCH_SECONDS_ENV, "0") or 0)
    serve_jobs(conn, functools.partial(fake_job, sleep=sleep))


def fake_process_runner(backend: str = "tensorflow", max_trials_per_worker: int = 100,
                        env: dict[str, str] | None = None, **kw: Any) -> TrialRunner:
    """A runner factory: a real TrialRunner with the fake trial process."""
    return TrialRunner(backend, max_trials_per_worker, env=env, target=fake_trial_main, **kw)
