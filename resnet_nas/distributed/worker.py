"""One worker of a distributed search: `python -m resnet_nas worker --study NAME --storage URL`.

A worker runs trials of an existing study until the study has its target of finished trials
(counted in the storage, all workers together). Its finished trials are rows in its own run
directory (default runs/<study>, which it locks); the storage keeps every record too.
"""

from __future__ import annotations

import hashlib
import os
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from resnet_nas import results
from resnet_nas.sharing.heartbeats_in_use import (HeartbeatsInUse, describe_problem,
                                                      heartbeat_problem, record_heartbeat)
from resnet_nas.distributed.collect import (load_existing_study, open_existing_storage,
                                            study_run)
from resnet_nas.distributed.control import StudyControl
from resnet_nas.sharing.stale import ON_STALE, StaleHandler, count_finished
from resnet_nas.engines.common import (DataInfo, LoopResult, RunnerFactory, SearchContext,
                                       TrialFlow, data_info)
from resnet_nas.engines.optuna_engine import run_trials
from resnet_nas.engines.optuna_study import load_study
from resnet_nas.errors import SearchError, UsageError
from resnet_nas.fileio import write_atomic
from resnet_nas.run import (RUN_META, RUN_SPACE, Run, absolute_path, check_data_path,
                            default_storage_url, file_sha256, new_run_id, read_run,
                            resolve_storage, storage_from_env, storage_ref, trial_target,
                            write_run)
from resnet_nas.space import SearchSpace, load_space
from resnet_nas.storage import heartbeat_settings, redact


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
    on_stale: str = "retry"
    heartbeat_interval: int | None = None
    grace_period: int | None = None
    data: str | None = None
    max_trials_per_worker: int = 100
    progress: bool = True
    worker_env: dict[str, str] = field(default_factory=dict)


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
    """A worker's checked plan: nothing of it is written yet (`write_run_files`)."""

    url: str
    run_dir: Path
    space: SearchSpace
    space_text: str
    run: Run
    io: DataInfo
    interval: int
    grace: int


def worker_run_dir(opts: WorkerOptions) -> Path:
    return Path(opts.run_dir) if opts.run_dir else Path("runs") / opts.study


def worker_storage(opts: WorkerOptions, run_dir: Path) -> str:
    """--storage, else $RESNET_NAS_STORAGE, else the storage of the run directory's run.json
    (a study created there with --create-only), else its file journal."""
    given = storage_from_env(opts.storage)
    if (run_dir / RUN_META).is_file():
        run = read_run(run_dir)
        return resolve_storage(run.storage, run_dir, given)
    return given or default_storage_url(run_dir, journal=True)


def _load_space_text(text: str, name: str, overrides: dict | None = None) -> SearchSpace:
    """Validates a space file's text (as recorded in a study), with the run's --set values."""
    with tempfile.TemporaryDirectory(prefix="resnet_nas-space-") as tmp:
        path = Path(tmp) / f"{name}.yaml"
        path.write_text(text)
        return load_space(path, overrides=overrides)


def prepare_worker(opts: WorkerOptions) -> PreparedWorker:
    """Checks everything a worker needs (storage, study, space, data); writes nothing.

    Raises:
      UsageError, StorageError, SearchError, ConfigError, DataError: bad input.
    """
    if opts.on_stale not in ON_STALE:
        raise UsageError("--on-stale", opts.on_stale, f"expected one of {', '.join(ON_STALE)}")
    if opts.trials is not None and opts.trials < 1:
        raise UsageError("--trials", opts.trials, "expected an integer >= 1")
    if opts.workers < 1:
        raise UsageError("--workers", opts.workers, "expected an integer >= 1")
    if opts.data is not None:
        check_data_path(opts.data)
    interval, grace = heartbeat_settings(opts.heartbeat_interval, opts.grace_period)
    run_dir = worker_run_dir(opts)
    if run_dir.exists() and not run_dir.is_dir():
        raise UsageError("--run-dir", str(run_dir), "expected a directory, found a file")
    url = worker_storage(opts, run_dir)
    storage = open_existing_storage(url, heartbeat=False)
    study = load_existing_study(storage, url, opts.study)
    in_use = HeartbeatsInUse.of(study.user_attrs)
    problem = heartbeat_problem(in_use, interval, grace)
    if problem is not None:
        what, bound = problem
        raise UsageError("--grace-period" if what == "grace" else "--heartbeat-interval",
                         grace if what == "grace" else interval,
                         describe_problem(opts.study, in_use, what, bound))
    text, study_meta = study_run(study, url)
    space = _load_space_text(text, study_meta.space, study_meta.overrides.space_overrides())
    recorded = study.user_attrs.get("space_hash", study_meta.space_hash)
    if space.hash() != recorded:
        raise SearchError(f"study {opts.study!r}: its recorded space file has hash "
                          f"{space.hash()} but the study says {recorded} (library versions "
                          "differ?)")
    if opts.space:
        given = load_space(opts.space, overrides=study_meta.overrides.space_overrides())
        if given.hash() != recorded:
            raise UsageError("--space", opts.space, f"differs from the space study "
                             f"{opts.study!r} was created with (hash {given.hash()}, the "
                             f"study's is {recorded}); leave --space out to use the study's own")
    overrides = study_meta.overrides
    if opts.data:
        overrides = replace(overrides, data=absolute_path(opts.data))
    run = replace(study_meta, run_id=new_run_id(), study=opts.study,
                  storage=storage_ref(url, run_dir), overrides=overrides,
                  trials=trial_target(opts.trials, study_meta.trials),
                  space_sha256=hashlib.sha256(text.encode()).hexdigest())
    data_cfg, train_cfg = run.configs(space)  # a bad --data fails here, before any write
    io = data_info(data_cfg, train_cfg.seed, space.input_shape, space.source)
    if (run_dir / RUN_META).is_file():
        old = read_run(run_dir)
        if old.study != run.study or old.space_hash != run.space_hash:
            raise SearchError(f"{run_dir} holds a run of study {old.study!r} (space hash "
                              f"{old.space_hash}); give another --run-dir")
        run = replace(run, run_id=old.run_id)
    return PreparedWorker(url, run_dir, space, text, run, io, interval, grace)


def write_run_files(prep: PreparedWorker) -> PreparedWorker:
    """Writes the worker's run.json and space.yaml; the plan with the space read from there."""
    prep.run_dir.mkdir(parents=True, exist_ok=True)
    if not (prep.run_dir / RUN_SPACE).is_file():
        write_atomic(prep.run_dir / RUN_SPACE, prep.space_text)
    write_run(prep.run_dir, replace(prep.run,
                                    space_sha256=file_sha256(prep.run_dir / RUN_SPACE)))
    return replace(prep, space=load_space(prep.run_dir / RUN_SPACE,
                                          overrides=prep.run.overrides.space_overrides()))


def worker_sampler_seed(seed: int) -> int:
    """Workers of one study must not all draw the same sequence."""
    blob = f"{seed}-{socket.gethostname()}-{os.getpid()}-{time.time_ns()}".encode()
    return int(hashlib.sha256(blob).hexdigest()[:8], 16)


def run_one_worker(prep: PreparedWorker, opts: WorkerOptions, out: Callable[[str], None],
                   runner_factory: RunnerFactory | None = None) -> WorkerSummary:
    """Runs this process as one worker of the study (the run directory must be locked)."""
    data_cfg, train_cfg = prep.run.configs(prep.space)
    stale = StaleHandler(opts.on_stale)
    storage = open_existing_storage(prep.url, heartbeat=True, interval=prep.interval,
                                    grace=prep.grace, stale_callback=stale)
    study = load_study(prep.run, storage, train_cfg.epochs,
                       sampler_seed=worker_sampler_seed(prep.run.seed))
    record_heartbeat(study, prep.interval, prep.grace)
    ctx = SearchContext(run=prep.run, run_dir=prep.run_dir, space=prep.space, data=data_cfg,
                        train=train_cfg, io=prep.io, storage_url=prep.url, timeout=opts.timeout,
                        progress=opts.progress, max_trials_per_worker=opts.max_trials_per_worker,
                        worker_env=dict(opts.worker_env))
    where = (f" on GPU {opts.worker_env['CUDA_VISIBLE_DEVICES']}"
             if "CUDA_VISIBLE_DEVICES" in opts.worker_env else "")
    out(f"worker {socket.gethostname()}:{os.getpid()}{where}: study {prep.run.study!r} in "
        f"{redact(prep.url)}, target {prep.run.trials} finished trials, rows in {prep.run_dir}")
    with TrialFlow(ctx, runner_factory) as flow:
        control = StudyControl(flow, stale, poll=min(float(prep.interval), 2.0), out=out)
        result: LoopResult = run_trials(study, storage, flow, control)
    if result.interrupted:
        out(f"interrupted ({result.interrupted}): run the worker again to continue the study")
    finished = count_finished(study.get_trials(deepcopy=False))
    return WorkerSummary(prep.run_dir, prep.run.study, finished, prep.run.trials,
                         results.write_tables(prep.run_dir), result.interrupted,
                         storage=redact(prep.url))
