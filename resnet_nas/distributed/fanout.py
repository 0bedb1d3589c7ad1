"""Several worker processes on one machine: one per GPU (`--gpus 0,1`), several per GPU
(`--per-gpu K`), or N on the CPU (`--workers N`). The parent holds the run directory's lock and
waits; each child is a full worker of the study (resnet_nas.distributed.worker).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import asdict, replace
from typing import Any

from resnet_nas import results
from resnet_nas.distributed.collect import load_existing_study, open_existing_storage
from resnet_nas.storage import redact
from resnet_nas.sharing.stale import count_finished
from resnet_nas.distributed.worker import (PreparedWorker, WorkerOptions, WorkerSummary,
                                           prepare_worker, run_one_worker, write_run_files)
from resnet_nas.engines import common
from resnet_nas.engines.common import RunnerFactory
from resnet_nas.errors import UsageError


def parse_gpus(text: str | None) -> tuple[str, ...]:
    """'0,1,3' -> ('0', '1', '3').

    Raises:
      UsageError: an id that is not a non-negative integer, or one given twice.
    """
    if not text:
        return ()
    ids = [g.strip() for g in text.split(",") if g.strip()]
    bad = [g for g in ids if not g.isdigit()]
    if bad or not ids:
        raise UsageError("--gpus", text, "expected a comma-separated list of GPU ids like 0,1,2")
    if len(set(ids)) != len(ids):
        raise UsageError("--gpus", text, "expected each GPU once (one is listed twice)")
    return tuple(ids)


def worker_processes(opts: WorkerOptions) -> list[tuple[WorkerOptions, dict[str, str]]]:
    """The worker processes `opts` starts on this machine: options and trial-process env each.

    One per GPU id (CUDA_VISIBLE_DEVICES=<id>, so each sees only its GPU), else `workers`.
    """
    if opts.gpus:  # opts.per_gpu is checked (WorkerOptions.validate)
        env: dict[str, str] = {}
        if opts.per_gpu > 1:
            env = {"XLA_PYTHON_CLIENT_PREALLOCATE": "false",
                   "XLA_PYTHON_CLIENT_MEM_FRACTION": f"{0.9 / opts.per_gpu:.3f}"}
        return [(replace(opts, gpus=(g,), workers=1, per_gpu=1),
                 {"CUDA_VISIBLE_DEVICES": g, **env})
                for g in opts.gpus for _ in range(opts.per_gpu)]
    return [(replace(opts, workers=1), {}) for _ in range(opts.workers)]


def _print_line(text: str) -> None:
    # one write per line: several worker processes share this stdout
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def child_main(opts: dict[str, Any], runner_factory: RunnerFactory) -> None:
    """A worker process: its parent holds the run directory's lock and set up its files."""
    from resnet_nas.errors import SearchError
    from resnet_nas.interrupts import stop_signals
    from resnet_nas.storage import StorageError
    from resnet_nas.trial_process import die_with_parent

    die_with_parent(os.getppid())
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    worker = WorkerOptions(**{**opts, "gpus": tuple(opts["gpus"])})
    try:
        with stop_signals():
            prep = prepare_worker(worker)
            summary = run_one_worker(prep, worker, _print_line, runner_factory)
    except KeyboardInterrupt:
        sys.exit(130)
    except (SearchError, StorageError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    sys.exit({None: 0, "SIGINT": 130, "SIGTERM": 143}[summary.interrupted])


def run_many(prep: PreparedWorker, procs: list[tuple[WorkerOptions, dict[str, str]]],
             out: Callable[[str], None], runner_factory: RunnerFactory) -> WorkerSummary:
    ctx = mp.get_context("spawn")
    children = []
    for single, env in procs:
        d = asdict(replace(single, storage=prep.plan.storage_url, run_dir=str(prep.plan.run_dir),
                           progress=False, worker_env={**single.worker_env, **env}))
        p = ctx.Process(target=child_main, args=(d, runner_factory), name="resnet_nas-worker")
        p.start()
        children.append(p)
    out(f"started {len(children)} workers (pids {', '.join(str(p.pid) for p in children)})")
    interrupted = None
    for p in children:
        while True:
            try:
                p.join()
                break
            except KeyboardInterrupt as e:  # the children got it too; wait for their clean-up
                from resnet_nas.interrupts import Terminated, signal_name
                interrupted = signal_name(e)
                if isinstance(e, Terminated):  # a SIGTERM reached only this process
                    for c in children:
                        if c.is_alive():
                            os.kill(c.pid, signal.SIGTERM)
    codes = [p.exitcode for p in children]
    plan = prep.plan
    storage = open_existing_storage(plan.storage_url, heartbeat=False)
    study = load_existing_study(storage, plan.storage_url, plan.run.study)
    finished = count_finished(study.get_trials(deepcopy=False))
    bad = [c for c in codes if c not in (0, 130, 143)]
    if bad:
        out(f"error: {len(bad)} of {len(codes)} worker processes failed (exit codes {codes})")
    if interrupted is None and (130 in codes or 143 in codes):
        interrupted = "SIGINT" if 130 in codes else "SIGTERM"
    return WorkerSummary(plan.run_dir, plan.run.study, finished, plan.run.trials,
                         results.write_tables(plan.run_dir), interrupted,
                         failed_workers=len(bad), storage=redact(plan.storage_url))


def run_workers(opts: WorkerOptions, out: Callable[[str], None] = print,
                runner_factory: RunnerFactory | None = None) -> WorkerSummary:
    """Runs worker(s) of an existing study until it has its trials (or the timeout): this
    process itself, or with several GPUs (or --workers N) one child process each, waited for.

    Raises:
      UsageError, StorageError, SearchError, ConfigError: bad input, before any trial runs.
    """
    prep = prepare_worker(opts)
    procs = worker_processes(opts)
    # resolved here, so that the worker processes use the same (a picklable function or class)
    factory = runner_factory or common.TrialRunner
    prep = write_run_files(prep)  # the run directory's lock is held from here
    try:
        if len(procs) > 1:
            return run_many(prep, procs, out, factory)
        single, env = procs[0]
        return run_one_worker(prep, replace(single, worker_env={**opts.worker_env, **env}), out,
                              factory)
    finally:
        prep.plan.lock.release()
