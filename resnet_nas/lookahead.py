"""Two trial processes: while one trains a trial, the other sets up the next.

A new architecture costs its trial process a set-up before its first step: the model's build
and, for the TensorFlow trainer, the trace and first run of its step and evaluation (on the
quickstart's small networks a sizeable part of a short trial; figures: experiments/RESULTS.md).
With two processes the
search samples its next trial while the current one trains (resnet_nas.engines.optuna_engine)
and the idle process sets it up (TrialRunner.prepare); when the current trial ends, the next
one trains at once. A job runs in the process that prepared it; a job nobody prepared runs in
a process that holds no preparation. Each process is recycled by memory on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from resnet_nas.config import DataConfig
from resnet_nas.jobs import Job, JobResult
from resnet_nas.trial_process import TrialRunnerLike


class LookaheadRunner(TrialRunnerLike):
    """A pair of trial runners, one training while the other prepares.

    Args:
      make: builds one trial runner (a TrialRunner, or a test's fake).
    """

    prepares_ahead = True

    def __init__(self, make: Callable[[], TrialRunnerLike]):
        self.runners = [make(), make()]
        self._prepared: list[Job | None] = [None, None]
        self._busy: int | None = None  # the runner of the job running now

    def _runner_of(self, job: Job | None) -> int:
        """The runner that prepared `job`, else the first that holds no preparation."""
        for i, prepared in enumerate(self._prepared):
            if job is not None and prepared == job:
                return i
        return self._prepared.index(None) if None in self._prepared else 0

    def start(self) -> None:
        for runner in self.runners:
            runner.start()

    def warm(self, data: DataConfig, seed: int,
             input_shape: tuple[int, int, int] | None = None) -> None:
        for runner in self.runners:
            runner.warm(data, seed, input_shape)

    def prepare(self, job: Job, after: Job | None = None) -> None:
        """Sets `job` up in the runner that does not run `after` (the job running now, or about
        to run)."""
        i = 1 - (self._busy if self._busy is not None else self._runner_of(after))
        self._prepared[i] = job
        self.runners[i].prepare(job)

    def run(self, job: Job, on_epoch: Callable[[dict[str, Any]], bool] | None = None,
            on_step: Callable[[dict[str, Any]], None] | None = None,
            while_running: Callable[[], None] | None = None) -> JobResult:
        i = self._runner_of(job)
        self._prepared[i] = None
        self._busy = i
        try:
            return self.runners[i].run(job, on_epoch, on_step, while_running)
        finally:
            self._busy = None

    def close(self) -> None:
        for runner in self.runners:
            runner.close()

    @property
    def restarts(self) -> int:
        return sum(getattr(runner, "restarts", 0) for runner in self.runners)
