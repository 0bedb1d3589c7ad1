"""One worker of a distributed search: `python -m resnet_nas worker --study NAME --storage URL`.

A worker runs trials of an existing study until the study has its target of finished trials
(counted in the storage, all workers together). Its finished trials are rows in its own run
directory (default runs/<study>, which it locks); the storage keeps every record too.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from resnet_nas import results
from resnet_nas.distributed.collect import (load_existing_study, open_existing_storage,
                                            study_run)
from resnet_nas.distributed.control import StudyControl
from resnet_nas.engines.common import (DataInfo, LoopResult, RunnerFactory, SearchContext,
                                       TrialFlow, data_info)
from resnet_nas.engines.optuna_engine import run_trials
from resnet_nas.engines.optuna_study import load_study
from resnet_nas.engines.planner import (RunPlan, plan_worker, worker_run_dir, worker_storage,
                                        write_run_dir)
from resnet_nas.errors import UsageError
from resnet_nas.run import check_data_path
from resnet_nas.sharing.heartbeats_in_use import (HeartbeatsInUse, describe_problem,
                                                  heartbeat_problem, record_heartbeat)
from resnet_nas.sharing.stale import StaleHandler, count_finished
from resnet_nas.storage import heartbeat_settings, redact
from resnet_nas.vocabulary import (DEFAULT_TRIALS_PER_PROCESS, GRACE_SECONDS, HEARTBEAT_SECONDS,
                                   ON_STALE, PROCESSES_PER_GPU, TIMEOUT, TRIALS,
                                   TRIALS_PER_PROCESS, WORKER_PROCESSES, check_option)


@dataclass(frozen=True)
class WorkerOptions:
    """Everything `python -m resnet_nas worker` takes.

    Attributes:
      study: study name.
      storage: storage URL (default: $RESNET_NAS_STORAGE, else the run directory's own
        storage, as `search --create-only` made it there).
      run_dir: directory of this worker's rows (default runs/<study>).
      space: optional space file; must have the study's space hash.
      trials: finished trials the study should end with (default: the study's target).
      timeout: seconds after which this worker starts no new trial.
      gpus: GPU ids; one worker process per id, each sees only its GPU.
      per_gpu: worker processes per GPU, for trials too small to fill one: they share it, each
        with its own slice of GPU memory (JAX) instead of JAX's 75% preallocation.
      workers: worker processes on this machine when no GPUs are given.
      on_stale: 'retry' (enqueue a stale trial's parameters again) or 'fail'.
      heartbeat_interval, grace_period: seconds (default: storage.heartbeat_settings).
      data: local path of the data set (image folder / .tar.gz) on this machine.
      max_trials_per_worker: recycle the trial process after N trials at most (sooner by
        memory).
      progress: tqdm bars (turned off with several worker processes).
      worker_env: extra environment of the trial processes (CUDA_VISIBLE_DEVICES, ...).
    """

    study: str
    storage: str | None = None
    run_dir: str | None = None
    space: str | None = None
    trials: int | None = None
    timeout: float | None = None
    gpus: tuple[str, ...] = ()
    per_gpu: int = 1
    workers: int = 1
    on_stale: str = ON_STALE[0]
    heartbeat_interval: int | None = None
    grace_period: int | None = None
    data: str | None = None
    max_trials_per_worker: int = DEFAULT_TRIALS_PER_PROCESS
    progress: bool = True
    worker_env: dict[str, str] = field(default_factory=dict)

    def validate(self) -> None:
        """The one check of each value on its own, against resnet_nas.vocabulary (the command
        line only parses the text).

        Raises:
          UsageError: naming the flag, the value and what is expected.
        """
        check_option("--trials", self.trials, TRIALS)
        check_option("--timeout", self.timeout, TIMEOUT)
        check_option("--per-gpu", self.per_gpu, PROCESSES_PER_GPU)
        check_option("--workers", self.workers, WORKER_PROCESSES)
        check_option("--on-stale", self.on_stale, ON_STALE)
        check_option("--heartbeat-interval", self.heartbeat_interval, HEARTBEAT_SECONDS)
        check_option("--grace-period", self.grace_period, GRACE_SECONDS)
        check_option("--max-trials-per-worker", self.max_trials_per_worker, TRIALS_PER_PROCESS)
        if self.data is not None:
            check_data_path(self.data)


@dataclass(frozen=True)
class WorkerSummary:
    run_dir: Path
    study: str
    finished: int  # finished trials of the study in the storage (all workers)
    total: int
    table: Any  # this worker's run directory table (pandas DataFrame)
    interrupted: str | None = None
    failed_workers: int = 0  # worker processes (of --gpus / --workers) that ended in an error
    storage: str = ""  # the study's storage URL, credentials redacted


@dataclass(frozen=True)
class PreparedWorker:
    """A worker's checked plan (resnet_nas.engines.planner): nothing of it is written yet
    (`write_run_files`).

    Attributes:
      plan: its run directory's plan.
      io: what it knows of the data set.
      interval, grace: its heartbeat interval and grace period in seconds.
    """

    plan: RunPlan
    io: DataInfo
    interval: int
    grace: int


def prepare_worker(opts: WorkerOptions) -> PreparedWorker:
    """Checks everything a worker needs (options, storage, study, space, data); writes nothing.

    Raises:
      UsageError, StorageError, SearchError, ConfigError, DataError: bad input.
    """
    opts.validate()
    interval, grace = heartbeat_settings(opts.heartbeat_interval, opts.grace_period)
    run_dir = worker_run_dir(opts.study, opts.run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise UsageError("--run-dir", str(run_dir), "expected a directory, found a file")
    url = worker_storage(opts.storage, run_dir)
    storage = open_existing_storage(url, heartbeat=False)
    study = load_existing_study(storage, url, opts.study)
    in_use = HeartbeatsInUse.of(study.user_attrs)
    problem = heartbeat_problem(in_use, interval, grace)
    if problem is not None:
        what, bound = problem
        raise UsageError("--grace-period" if what == "grace" else "--heartbeat-interval",
                         grace if what == "grace" else interval,
                         describe_problem(opts.study, in_use, what, bound))
    text, recorded = study_run(study, url)
    plan = plan_worker(recorded, text, study.user_attrs.get("space_hash", recorded.space_hash),
                       run_dir, url, space=opts.space, trials=opts.trials, data=opts.data)
    data_cfg, train_cfg = plan.run.configs(plan.space)
    io = data_info(data_cfg, train_cfg.seed, plan.space.input_shape, plan.space.source)
    return PreparedWorker(plan, io, interval, grace)


def write_run_files(prep: PreparedWorker) -> PreparedWorker:
    """Writes the worker's run directory (its lock then held: prep.plan.lock) and returns the
    plan as written, with the space read from RUN_DIR/space.yaml."""
    return replace(prep, plan=write_run_dir(prep.plan))


def worker_sampler_seed(seed: int) -> int:
    """Workers of one study must not all draw the same sequence."""
    blob = f"{seed}-{socket.gethostname()}-{os.getpid()}-{time.time_ns()}".encode()
    return int(hashlib.sha256(blob).hexdigest()[:8], 16)


def run_one_worker(prep: PreparedWorker, opts: WorkerOptions, out: Callable[[str], None],
                   runner_factory: RunnerFactory | None = None) -> WorkerSummary:
    """Runs this process as one worker of the study (the run directory must be locked)."""
    plan = prep.plan
    data_cfg, train_cfg = plan.run.configs(plan.space)
    stale = StaleHandler(opts.on_stale)
    storage = open_existing_storage(plan.storage_url, heartbeat=True, interval=prep.interval,
                                    grace=prep.grace, stale_callback=stale)
    study = load_study(plan.run, storage, train_cfg.epochs,
                       sampler_seed=worker_sampler_seed(plan.run.seed))
    record_heartbeat(study, prep.interval, prep.grace)
    ctx = SearchContext(run=plan.run, run_dir=plan.run_dir, space=plan.space, data=data_cfg,
                        train=train_cfg, io=prep.io, storage_url=plan.storage_url,
                        timeout=opts.timeout, progress=opts.progress,
                        max_trials_per_worker=opts.max_trials_per_worker,
                        worker_env=dict(opts.worker_env))
    where = (f" on GPU {opts.worker_env['CUDA_VISIBLE_DEVICES']}"
             if "CUDA_VISIBLE_DEVICES" in opts.worker_env else "")
    out(f"worker {socket.gethostname()}:{os.getpid()}{where}: study {plan.run.study!r} in "
        f"{redact(plan.storage_url)}, target {plan.run.trials} finished trials, rows in "
        f"{plan.run_dir}")
    with TrialFlow(ctx, runner_factory) as flow:
        control = StudyControl(flow, stale, poll=min(float(prep.interval), 2.0), out=out)
        result: LoopResult = run_trials(study, storage, flow, control)
    if result.interrupted:
        out(f"interrupted ({result.interrupted}): run the worker again to continue the study")
    finished = count_finished(study.get_trials(deepcopy=False))
    return WorkerSummary(plan.run_dir, plan.run.study, finished, plan.run.trials,
                         results.write_tables(plan.run_dir), result.interrupted,
                         storage=redact(plan.storage_url))
