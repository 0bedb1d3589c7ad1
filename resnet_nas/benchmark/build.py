"""Building a benchmark: train each architecture of a space once, for the space's full epoch
budget, through the search's own trial flow (TrialFlow: trial processes, records, rows).

A benchmark directory is a run directory: one row per architecture and training seed under
`DIR/rows/` (trial number = seed index x architectures + the architecture's index in the
enumeration, so a resumed or parallel build never trains one twice and never collides, and a
one-seed benchmark numbers its rows by architecture), the space file as `space.yaml`,
`benchmark.json` (BenchmarkMeta) and, derived from the rows, `benchmark.parquet`.

Seed k trains with `train.seed + k` (weights, data order and augmentation) on the split of
`train.seed`, so the seeds of one architecture differ only by the training's randomness.
"""

from __future__ import annotations

import random
import shutil
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from resnet_nas import results
from resnet_nas.benchmark.jobs import LocalJobs, StorageJobs, open_build_study, sync_rows
from resnet_nas.benchmark.table import META, SPACE_FILE, TABLE, BenchmarkMeta
from resnet_nas.config import DataConfig, TrainConfig
from resnet_nas.engines.common import DataInfo, RunnerFactory, SearchContext, TrialFlow
from resnet_nas.fileio import write_atomic
from resnet_nas.lock import RunLock
from resnet_nas.nets import Architecture
from resnet_nas.run import Run, file_sha256, now
from resnet_nas.space import SearchSpace
from resnet_nas.storage import redact
from resnet_nas.trial_process import Job, JobResult, TrialRunner, TrialRunnerLike

if TYPE_CHECKING:
    import optuna

STUDY = "benchmark"


class EvaluatingRunner(TrialRunnerLike):
    """A runner that also evaluates every job on the test split (a benchmark row carries the
    architecture's test accuracy) and keeps the last job's, for the record."""

    def __init__(self, inner: TrialRunnerLike):
        self.inner = inner
        self.last_test_accuracy: float | None = None

    def run(self, job: Job, on_epoch: Callable[[dict[str, Any]], bool] | None = None,
            on_step: Callable[[dict[str, Any]], None] | None = None,
            while_running: Callable[[], None] | None = None) -> JobResult:
        outcome = self.inner.run(replace(job, evaluate_test=True), on_epoch, on_step,
                                 while_running)
        self.last_test_accuracy = outcome.test_accuracy
        return outcome

    def close(self) -> None:
        self.inner.close()


@dataclass(frozen=True)
class BuildReport:
    """How a build ended: rows now in the table, trained by this call, failed among them, and
    rows of other builds (sharing a storage) written into this build's directory."""

    rows: int
    trained: int
    failed: int
    table: Path
    synced: int = 0


def benchmark_run(space: SearchSpace, space_file: Path, io: DataInfo) -> Run:
    """The Run that the benchmark's records name (engine 'benchmark', no sampler)."""
    return Run(run_id=uuid.uuid4().hex[:12], study=STUDY, space=space.name,
               space_hash=space.hash(), space_sha256=file_sha256(space_file),
               engine="benchmark", sampler="enumerate", pruner="none",
               objectives=("val_accuracy",), seed=space.train.seed, trials=0, storage="",
               created=now(), dataset=io.label, data_fingerprint=io.fingerprint)


def prepare_dir(out: Path, space: SearchSpace, space_file: Path, meta: BenchmarkMeta) -> None:
    """Creates (or checks, on resume) the benchmark directory.

    A resumed build may add seeds (the rows of the first ones keep their trial numbers).

    Raises:
      ValueError: the directory holds a benchmark of another space, data set or epoch budget,
        or of more seeds than asked for.
    """
    meta_path = out / META
    if meta_path.exists():
        old = BenchmarkMeta.read(meta_path)
        meta.check_continues(old, str(out), "another output directory")
        if old.seeds < meta.seeds:
            write_atomic(meta_path, meta.to_json())
        return
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(space_file, out / SPACE_FILE)
    write_atomic(out / META, meta.to_json())


def done_indices(out: Path) -> set[int]:
    """Trial numbers (seed index x architectures + enumeration index) that have a row."""
    return {int(r["trial"]) for r in results.read_rows(out, STUDY)}


def job_order(archs: Sequence[Architecture], seeds: int, first: frozenset[str]) -> list[int]:
    """Every job number (seed index x architectures + architecture index) in training order:
    a seeded shuffle of the architectures (a build stopped part way leaves a uniform sample of
    the space; the enumeration's own order is depth-first, so its prefix would be one corner
    of it), the `first` ones first, and every architecture once before any is trained again
    with the next seed."""
    n = len(archs)
    shuffled = list(range(n))
    random.Random(0).shuffle(shuffled)
    if first:  # stable: the shuffle stays within each part
        shuffled.sort(key=lambda i: archs[i].key() not in first)
    return [k * n + i for k in range(seeds) for i in shuffled]


def build(out: Path, space: SearchSpace, space_file: Path, archs: Sequence[Architecture],
          io: DataInfo, data: DataConfig, train: TrainConfig, workers: int = 1,
          runner_factory: RunnerFactory | None = None, exhaustive: bool = True,
          max_trials_per_worker: int = 50, first: frozenset[str] = frozenset(),
          seeds: int = 1, storage: str | None = None, study_name: str | None = None,
          log: Callable[[str], None] = print) -> BuildReport:
    """Trains every architecture of `archs` with each of `seeds` training seeds that has no
    row yet, `workers` at a time: all architectures with the first seed, then the next seed.

    Args:
      out: the benchmark directory (created, or resumed; held with its lock while it builds).
      space / space_file: the space and the file it was read from.
      archs: the architectures, in enumeration order (index = trial number).
      io: the data set's shape, classes and fingerprint.
      data / train: the trials' configs (train.epochs is the full budget).
      workers: trial processes training in parallel.
      runner_factory: the runner (default TrialRunner; tests give a fake).
      exhaustive: whether `archs` is the whole space.
      max_trials_per_worker: recycle a trial process after this many (each start costs
        seconds, a lot next to a tiny net's training).
      first: arch keys to train before the others (a sub-space that must be complete
        first, when a build may be stopped before it finishes).
      seeds: training seeds per architecture (seed k is `train.seed + k`).
      storage: an Optuna storage URL shared with the builds of other machines (each with its
        own `out`): jobs are claimed there, and every build's rows are synced into `out`
        (resnet_nas.benchmark.jobs). None: this build alone.
      study_name: the study in `storage` (default 'benchmark-' + the space's name).
      log: one line per finished architecture.

    Returns:
      The BuildReport; `benchmark.parquet` is rewritten from all rows.

    Raises:
      ValueError: `out` (or the study) holds another benchmark.
      RunBusyError: another process builds in `out`.
      StorageError / SearchError: the storage cannot be used, or its study is not this
        benchmark's.
    """
    meta = BenchmarkMeta(space=space.name, space_hash=space.hash(), archs=len(archs),
                         exhaustive=exhaustive, epochs=train.epochs, dataset=io.label,
                         data_fingerprint=io.fingerprint, input_shape=tuple(io.input_shape),
                         num_classes=io.num_classes, seeds=seeds)
    if (out / META).exists():  # refused before the storage or the lock is touched
        meta.check_continues(BenchmarkMeta.read(out / META), str(out), "another output directory")
    shared: tuple[optuna.storages.BaseStorage, optuna.Study] | None = None
    if storage is not None:
        name = study_name or f"{STUDY}-{space.name}"
        shared = open_build_study(storage, name, meta, space_file.read_text())
        log(f"sharing the build through study {name!r} in {redact(storage)}")
    out.mkdir(parents=True, exist_ok=True)
    with RunLock(out).acquire("benchmark build") as run_lock:
        run_lock.announce()
        prepare_dir(out, space, space_file, meta)
        synced = sync_rows(shared[1], out) if shared is not None else 0
        done = done_indices(out)
        # A row here is never trained again, also when the storage does not know it (a build
        # made before the storage was shared); the other builds may still train it.
        left = [number for number in job_order(archs, seeds, first) if number not in done]
        jobs = LocalJobs(left) if shared is None else StorageJobs(*shared, left)
        return _train_jobs(out, space, space_file, archs, io, data, train, jobs, workers,
                           runner_factory, max_trials_per_worker, seeds, synced, log)


def _train_jobs(out: Path, space: SearchSpace, space_file: Path, archs: Sequence[Architecture],
                io: DataInfo, data: DataConfig, train: TrainConfig,
                jobs: "LocalJobs | StorageJobs", workers: int,
                runner_factory: RunnerFactory | None, max_trials_per_worker: int, seeds: int,
                synced: int, log: Callable[[str], None]) -> BuildReport:
    ctx = SearchContext(run=benchmark_run(space, space_file, io), run_dir=out, space=space,
                        data=data, train=train, io=io, storage_url="", progress=False,
                        max_trials_per_worker=max_trials_per_worker)
    n = len(archs)
    counts = {"trained": 0, "failed": 0}
    lock = threading.Lock()
    errors: list[BaseException] = []

    def factory(*args: Any, **kw: Any) -> TrialRunnerLike:
        return EvaluatingRunner((runner_factory or TrialRunner)(*args, **kw))

    def work() -> None:
        try:
            with TrialFlow(ctx, factory) as flow:
                runner = flow.runner
                assert isinstance(runner, EvaluatingRunner)
                while (claim := jobs.next()) is not None:
                    k, i = divmod(claim.number, n)
                    try:
                        rec = flow.train(flow.record(claim.number, archs[i], train.epochs),
                                         archs[i], train.epochs, seed=train.seed + k)
                        rec = flow.finish(replace(rec, test_accuracy=runner.last_test_accuracy))
                    except BaseException:
                        jobs.release(claim)  # a stop cut it short: another build may take it
                        raise
                    jobs.done(claim, rec)
                    with lock:
                        counts["trained"] += 1
                        counts["failed"] += rec.state == "failed"
                        log(f"arch {i + 1}/{n}{f' seed {k + 1}/{seeds}' if seeds > 1 else ''}"
                            f" {rec.state} val "
                            f"{rec.final_val_accuracy} test {rec.test_accuracy} "
                            f"{rec.train_seconds or 0:.1f}s")
        except BaseException as e:  # re-raised in the calling thread
            errors.append(e)

    threads = [threading.Thread(target=work, name=f"benchmark-{k}")
               for k in range(max(1, workers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    synced += jobs.sync(out)  # what the other builds finished meanwhile
    table = write_table(out)
    if errors:
        raise errors[0]
    return BuildReport(rows=len(done_indices(out)), trained=counts["trained"],
                       failed=counts["failed"], table=table, synced=synced)


def write_table(out: Path) -> Path:
    """Rewrites benchmark.parquet from the rows (the rows stay the source of truth)."""
    df = results.to_frame(results.read_rows(out, STUDY))
    path = out / TABLE
    tmp = out / f".{TABLE}.tmp"
    df.to_parquet(tmp, index=False)
    tmp.replace(path)
    return path


def build_space(space_file: Path, out: Path, limit: int | None, workers: int = 1,
                epochs: int | None = None, seed: int = 0,
                runner_factory: RunnerFactory | None = None,
                first: Path | None = None, data: str | None = None, seeds: int = 1,
                storage: str | None = None, study_name: str | None = None,
                log: Callable[[str], None] = print) -> BuildReport:
    """Enumerates a space (or `limit` unique samples of it) and builds its benchmark.

    Args:
      space_file: the space's YAML file.
      out: the benchmark directory.
      limit: at most this many architectures (None: all of them).
      workers: trial processes in parallel.
      epochs: the epoch budget (default: the space's train.epochs).
      seed: seed of the random samples when the space has more than `limit`.
      runner_factory: the runner (tests give a fake).
      first: a sub-space file (same data and recipe) whose architectures train first.
      data: an image folder or .tar.gz to train on instead of the space's data set (as
        `search --data`).
      seeds: training seeds per architecture.
      storage / study_name: share the build with other machines' builds (see `build`).
      log: progress lines.

    Returns:
      The BuildReport.
    """
    from resnet_nas.benchmark.enumerate import enumerate_architectures
    from resnet_nas.data import source_name
    from resnet_nas.engines.common import data_info
    from resnet_nas.space import load_space

    space = load_space(space_file)
    train = space.train if epochs is None else replace(space.train, epochs=epochs)
    data_cfg = space.data if data is None else replace(space.data, name=source_name(data),
                                                       path=data)
    io = data_info(data_cfg, train.seed, space.input_shape, space.source)
    found = enumerate_architectures(space, io.input_shape, io.num_classes, limit=limit,
                                    seed=seed)
    log(f"{space.name}: {len(found.archs)} architectures "
        f"({'all of the space' if found.exhaustive else 'unique random samples'}), "
        f"{train.epochs} epochs each" + (f", {seeds} seeds" if seeds > 1 else ""))
    keys: frozenset[str] = frozenset()
    if first is not None:
        sub = enumerate_architectures(load_space(first), io.input_shape, io.num_classes)
        keys = frozenset(a.key() for a in sub.archs)
    return build(out, space, space_file, found.archs, io, data_cfg, train, workers=workers,
                 runner_factory=runner_factory, exhaustive=found.exhaustive, first=keys,
                 seeds=seeds, storage=storage, study_name=study_name, log=log)
