"""The trial flow both engines share: sample -> check -> reuse -> train -> record.

An engine (Optuna's ask/tell loop, Keras Tuner's run_trial) decides *which* trial comes next
and tells its optimiser the outcome; everything between is here, once:

1. `TrialFlow.sample` draws an Architecture through the engine's trial (define-by-run) and
   checks the space's constraints analytically; an infeasible sample is rejected unrun and
   counted (more than `search.max_rejections` in a row is a SearchError);
2. `TrialFlow.original` finds a trial that trained the same architecture (for the same number
   of epochs): its result is reused (state 'duplicate'); duplicates do not count towards the
   trial target, and `search.max_duplicates` in a row end the search (the space looks
   exhausted);
3. `TrialFlow.train` trains the rest in the recycled trial process, and `trial_state` turns the
   outcome into the row's state: complete (all its epochs), pruned (a pruner stopped it
   early), failed (crashed, diverged);
4. `TrialFlow.finish` writes the row (never over an existing one), and keeps the counts, the
   best-so-far and the progress display.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from resnet_nas import results
from resnet_nas.config import DataConfig, TrainConfig
from resnet_nas.enqueue import Enqueued
from resnet_nas.errors import SearchError
from resnet_nas.lookahead import LookaheadRunner
from resnet_nas.nets import Architecture
from resnet_nas.progress import Progress
from resnet_nas.records import INTERRUPTED, TrialRecord, new_record
from resnet_nas.run import Run, now
from resnet_nas.space import SearchSpace, sample_architecture
from resnet_nas.space.sample import Violation, constraint_violations
from resnet_nas.trial_process import Job, JobResult, TrialRunner, TrialRunnerLike

#: Builds the runner of a search (tests give a fake that trains nothing).
RunnerFactory = Callable[..., TrialRunnerLike]


@dataclass(frozen=True)
class DataInfo:
    """What the search process knows of the data set: enough to sample architectures, and a
    fingerprint to notice when a resumed run would train on other data."""

    input_shape: tuple[int, int, int]
    num_classes: int
    fingerprint: str
    label: str = ""


def data_info(data_cfg: DataConfig, seed: int,
              input_shape: tuple[int, int, int] | None = None,
              source: str | None = None) -> DataInfo:
    """The data set's facts in the search process, without its pixels (resnet_nas.data never
    imports Keras).

    Args:
      input_shape: the space's input_shape (None: the data's own); image files are brought
        to any size (DataFacts.training_shape).
      source: the space file, for messages.

    The fingerprint covers the data's own image shape, the class names and every label of
    every split: a different data set, split or limit changes it; a moved folder does not.

    Raises:
      DataError: the data cannot give `input_shape`.
    """
    from resnet_nas.data import dataset_facts

    data = dataset_facts(data_cfg, seed=seed)
    shape = data.training_shape(input_shape, source)
    h = hashlib.sha256()
    own = None if data.input_shape is None else tuple(data.input_shape)
    h.update(repr((own, int(data.num_classes), list(data.class_names))).encode())
    for y in (data.y_train, data.y_val, data.y_test):
        h.update(y.tobytes())
    return DataInfo(shape, int(data.num_classes), h.hexdigest()[:16], data_cfg.label())


@dataclass(frozen=True)
class SearchContext:
    """Everything a trial loop needs, resolved and checked before the loop starts.

    Attributes:
      run: the run's metadata.
      run_dir: where its rows go.
      space: its search space.
      data / train: the trials' data and training configs (after the run's overrides).
      io: the data set's input shape, classes and fingerprint.
      storage_url: the study's storage (never printed unredacted).
      timeout: seconds after which no new trial starts.
      progress: tqdm bars.
      max_trials_per_worker: recycle the trial process after N trials at most (it is
        recycled by memory first: TrialRunner.max_worker_rss_mb).
      worker_env: extra environment of the trial processes.
      lookahead: the default runner is a pair of trial processes, one setting up the next
        trial while the other trains (resnet_nas.lookahead); a runner factory given instead
        decides for itself.
      enqueue: known architectures placed in the space: a new study's first trials.
    """

    run: Run
    run_dir: Path
    space: SearchSpace
    data: DataConfig
    train: TrainConfig
    io: DataInfo
    storage_url: str
    timeout: float | None = None
    progress: bool = True
    max_trials_per_worker: int = 100
    worker_env: Mapping[str, str] = field(default_factory=dict)
    lookahead: bool = False
    enqueue: tuple[Enqueued, ...] = ()

    @property
    def target(self) -> int:
        return self.run.trials

    def runner(self, factory: RunnerFactory | None = None) -> TrialRunnerLike:
        return make_runner(factory, self.train.backend, self.max_trials_per_worker,
                           self.worker_env, self.lookahead)


def make_runner(factory: RunnerFactory | None, backend: str, max_trials_per_worker: int,
                worker_env: Mapping[str, str], lookahead: bool = False) -> TrialRunnerLike:
    """The trial runner of a search: `factory`'s as it is, else a TrialRunner, or with
    `lookahead` a pair of them (resnet_nas.lookahead.LookaheadRunner)."""
    if factory is not None:
        return factory(backend, max_trials_per_worker, env=dict(worker_env))

    def make() -> TrialRunnerLike:
        return TrialRunner(backend, max_trials_per_worker, env=dict(worker_env))

    return LookaheadRunner(make) if lookahead else make()


@dataclass(frozen=True)
class Sample:
    """A sampled architecture, or why the sample is infeasible (then arch may be None).

    Attributes:
      violations: the constraints it breaks, by how much (what a constraint-aware sampler is
        told: resnet_nas.engines.optuna_engine.reject_infeasible).
    """

    arch: Architecture | None
    reasons: tuple[str, ...] = ()
    violations: tuple[Violation, ...] = ()

    @property
    def feasible(self) -> bool:
        return not self.reasons


class Pruning(Protocol):
    """An engine's pruner, as the flow sees it (Optuna: trial.report / trial.should_prune)."""

    name: str

    def report(self, epoch: int, value: float) -> None: ...

    def should_prune(self) -> bool: ...


def trial_state(outcome: JobResult, epochs: int, pruned: bool,
                pruner_name: str = "the pruner") -> tuple[str, str]:
    """The (state, reason) a training outcome gives its row.

    complete: it ran all `epochs`; pruned: the pruner stopped it before the last epoch; failed:
    the trial process failed, the loss diverged, or training ended early for another reason.
    """
    if not outcome.ok or outcome.train is None:
        lines = (outcome.error or "trial process error").strip().splitlines() or ["error"]
        return "failed", lines[0][:500]
    result = outcome.train
    run = result.epochs_run
    if result.diverged:
        return "failed", result.reason or "diverged"
    if not result.history:
        return "failed", "no validation accuracy reported"
    if run >= epochs:
        return "complete", ""
    if pruned:
        return "pruned", f"pruned by {pruner_name} after epoch {run} of {epochs}"
    return "failed", f"training stopped after epoch {run} of {epochs}: {result.reason}"


@dataclass(frozen=True)
class LoopResult:
    """How an engine's trial loop ended.

    Attributes:
      interrupted: 'SIGINT' / 'SIGTERM' when a signal stopped it.
      note: why it stopped before its target, when it did (timeout, exhausted space).
      ran: states of the trials this process finished.
    """

    interrupted: str | None = None
    note: str | None = None
    ran: Mapping[str, int] = field(default_factory=dict)


@dataclass
class Tally:
    """Counts of one search process and of the whole run directory."""

    counted: int = 0  # rows that count towards the trial target (duplicates do not)
    here: Counter = field(default_factory=Counter)  # states of the trials this process finished


class TrialFlow:
    """The shared trial flow of one search process (see the module docstring).

    A context manager: leaving it stops the trial process and closes the progress display.

    Args:
      ctx: the search context.
      runner_factory: builds the trial runner (default TrialRunner; tests give a fake).
    """

    def __init__(self, ctx: SearchContext, runner_factory: RunnerFactory | None = None):
        self.ctx = ctx
        self.tally = Tally()
        self.rejections = 0  # infeasible samples since the last accepted one
        self.duplicates_in_a_row = 0
        self.best: TrialRecord | None = None
        #: where the best so far comes from when others train too (a worker's: the study's);
        #: None: this process's own trials
        self.best_of_study: Callable[[], TrialRecord | None] | None = None
        #: (arch_key, epochs) -> the first trial that trained it (complete or pruned)
        self.trained: dict[tuple[str, int], TrialRecord] = {}
        self.numbers: set[int] = set()
        self.skipped_reported: set[str] = set()
        #: the constraints that rejected the samples since the last accepted one
        self.rejected_by: Counter[str] = Counter()
        for row in results.read_rows(ctx.run_dir, ctx.run.study):
            self._count(TrialRecord.from_row(row), here=False)
        self.runner = ctx.runner(runner_factory)
        if not self.done:  # a run at its target trains nothing: no process to start
            # the trial process imports its backend and loads the data while the engine starts
            self.runner.warm(ctx.data, ctx.train.seed, ctx.io.input_shape)
        self.progress = Progress(ctx.target, min(self.tally.counted, ctx.target), ctx.progress)

    def __enter__(self) -> "TrialFlow":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.runner.close()
        self.progress.close()

    # -- counting ---------------------------------------------------------------------------
    def _count(self, rec: TrialRecord, here: bool) -> None:
        self.numbers.add(rec.trial)
        if rec.counts:
            self.tally.counted += 1
        if here:
            self.tally.here[rec.state] += 1
        if rec.state in ("complete", "pruned") and rec.arch_key:
            self.trained.setdefault((rec.arch_key, rec.epochs_planned), rec)
        if rec.state == "complete" and rec.best_val_accuracy is not None:
            if self.best is None or rec.best_val_accuracy > (self.best.best_val_accuracy or 0):
                self.best = rec

    @property
    def done(self) -> bool:
        """The run has its target of counted trials."""
        return self.tally.counted >= self.ctx.target

    @property
    def exhausted(self) -> bool:
        """`search.max_duplicates` samples in a row were architectures trained already."""
        return self.duplicates_in_a_row >= self.ctx.space.search.max_duplicates

    # -- the steps --------------------------------------------------------------------------
    def sample(self, trial: Any) -> Sample:
        """Draws and checks an architecture through `trial` (an Optuna trial or a
        KerasTunerTrial).

        Raises:
          SearchError: more than `search.max_rejections` infeasible samples in a row.
        """
        violations: tuple[Violation, ...] = ()
        try:
            arch = sample_architecture(self.ctx.space, trial, input_shape=self.ctx.io.input_shape,
                                       num_classes=self.ctx.io.num_classes)
            violations = tuple(constraint_violations(arch, self.ctx.space))
            reasons = tuple(v.text for v in violations)
        except ValueError as e:  # a sample the builders would reject
            arch, reasons = None, (str(e),)
        if reasons:
            self.rejections += 1
            self.rejected_by.update({v.constraint for v in violations} or {"the builders"})
            if self.rejections > self.ctx.space.search.max_rejections:
                counts = ", ".join(f"{name} {n:,}" for name, n in self.rejected_by.most_common())
                raise SearchError(
                    f"{self.ctx.space.source}: {self.rejections:,} samples in a row were "
                    f"infeasible, rejected by: {counts} (the last: {'; '.join(reasons)}); "
                    "loosen those constraints, or widen the space where they bind")
        return Sample(arch, reasons, violations)

    def record(self, number: int, arch: Architecture, epochs: int) -> TrialRecord:
        """The record of an accepted sample (it carries the rejections before it)."""
        rec = replace(new_record(self.ctx.run, number, arch, epochs, self.ctx.train.seed,
                                 self.ctx.train.backend), rejections=self.rejections)
        self.rejections = 0
        self.rejected_by.clear()
        return rec

    def original(self, arch_key: str, epochs: int) -> TrialRecord | None:
        """The trial of this run that trained `arch_key` for `epochs` epochs, if any."""
        return self.trained.get((arch_key, epochs))

    def reuse(self, rec: TrialRecord, original: TrialRecord, note: str = "") -> TrialRecord:
        pruned = " (pruned)" if original.state == "pruned" else ""
        return rec.reusing(original, f"same architecture as trial {original.trial}{pruned}"
                           + (f" [{note}]" if note else ""))

    def job(self, arch: Architecture, epochs: int, seed: int | None = None) -> Job:
        """The trial process's job for `arch` trained `epochs` epochs (seed: the run's)."""
        train = self.ctx.train if epochs == self.ctx.train.epochs else replace(self.ctx.train,
                                                                              epochs=epochs)
        if seed is not None:
            train = replace(train, seed=seed)
        return Job(arch=arch, train=train, data=self.ctx.data, data_seed=self.ctx.train.seed)

    @property
    def looks_ahead(self) -> bool:
        """The runner sets a trial up while another trains (resnet_nas.lookahead)."""
        return bool(getattr(self.runner, "prepares_ahead", False))

    def prepare(self, arch: Architecture, epochs: int, after: Job) -> None:
        """Has the runner set `arch` up while `after` trains, unless it would train nothing
        new: an architecture trained already, or `after`'s own (a duplicate of it)."""
        job = self.job(arch, epochs)
        if self.original(arch.key(), epochs) is None and job.arch.key() != after.arch.key():
            self.runner.prepare(job, after)

    def train(self, rec: TrialRecord, arch: Architecture, epochs: int,
              pruning: Pruning | None = None, note: str = "",
              seed: int | None = None,
              while_running: Callable[[], None] | None = None) -> TrialRecord:
        """Trains `arch` for `epochs` epochs in the trial process; the record with its result.

        The pruner sees every epoch's validation accuracy but is asked whether to stop only
        before the last epoch: a trial that ran all its epochs is complete. `seed` (default:
        the run's) seeds the weights and the data order; the split stays the run's.
        `while_running()` runs once the trial process has the job (the search's look-ahead).
        """
        if seed is not None:
            rec = replace(rec, seed=seed)
        job = self.job(arch, epochs, seed)
        stopped = [False]

        def on_epoch(metrics: dict[str, Any]) -> bool:
            self.progress.epoch(metrics)
            if pruning is None:
                return True
            pruning.report(metrics["epoch"], metrics["val_accuracy"])
            if metrics["epoch"] < epochs and pruning.should_prune():
                stopped[0] = True
                return False
            return True

        self.progress.trial_start(rec.trial, arch, epochs)
        t0 = time.perf_counter()
        outcome = self.runner.run(job, on_epoch, self.progress.step, while_running)
        rec = replace(rec, wall_seconds=time.perf_counter() - t0,
                      ahead_seconds=outcome.ahead_seconds,
                      skipped_images=outcome.skipped_images,
                      normalization=outcome.normalization, val_images=outcome.val_images)
        if outcome.ok and outcome.train is not None:
            rec = rec.with_result(outcome.train)
        self.note_skipped(rec.trial, outcome.skipped_images, outcome.skipped_names)
        state, reason = trial_state(outcome, epochs, stopped[0],
                                    pruning.name if pruning is not None else "the pruner")
        if note:
            reason = f"{reason} [{note}]" if reason else note
        return replace(rec, state=state, reason=reason)

    def note_skipped(self, trial: int, count: int | None, names: tuple[str, ...]) -> None:
        """Says which unreadable images a trial skipped, each once per search (every trial
        meets the same files; its trial process's warnings go nowhere)."""
        new = [n for n in names if n not in self.skipped_reported]
        if not count or not new:
            return
        self.skipped_reported.update(new)
        more = f" (the first {len(names)} named)" if count > len(names) else ""
        self.progress.write(f"trial {trial}: skipped {count} unreadable image(s){more}: "
                            + "; ".join(new))

    def interrupted(self, number: int, arch: Architecture | None, epochs: int,
                    note: str = "the search stopped while it ran") -> TrialRecord:
        """Records a trial that a stop cut short (failed, not counted towards the target)."""
        rec = new_record(self.ctx.run, number, arch, epochs, self.ctx.train.seed,
                         self.ctx.train.backend)
        rec = replace(rec, state="failed", reason=f"{INTERRUPTED}: {note}")
        if not results.row_path(self.ctx.run_dir, rec.study, rec.trial).exists():
            self.finish(rec)
        return rec

    def finish(self, rec: TrialRecord) -> TrialRecord:
        """Writes the row, counts it and shows it."""
        rec = replace(rec, finished_at=rec.finished_at or now())
        results.write_record(self.ctx.run_dir, rec)
        self._count(rec, here=True)
        self.duplicates_in_a_row = self.duplicates_in_a_row + 1 if rec.state == "duplicate" \
            else 0
        best = self.best
        if self.best_of_study is not None:
            best = self.best_of_study() or best
        self.progress.trial_end(rec, best)
        return rec


def describe_counts(run_dir: Path, study: str) -> str:
    rows = [TrialRecord.from_row(r) for r in results.read_rows(run_dir, study)]
    states = Counter(r.state for r in rows)
    interrupted = sum(r.interrupted for r in rows)
    parts = [f"{states[s]} {s}" for s in ("complete", "pruned", "failed") if states[s]]
    if interrupted:
        parts.append(f"({interrupted} of the failed interrupted, not counted)")
    counted = sum(r.counts for r in rows)
    line = f"{counted} trained trials: " + (", ".join(parts) or "none")
    if states["duplicate"]:
        line += (f"; {states['duplicate']} duplicates (an architecture trained already: "
                 "its result reused, not trained again, not counted)")
    return line
