"""Search engines and `run_search`, the one entry point of `python -m resnet_nas search`.

    summary = run_search(SearchOptions(space="quickstart", trials=6))

`run_search` decides and checks everything before it writes anything (the options, the space,
the run directory, the engine's options, the trials' configs, the backend, the data set, the
storage), then creates or resumes the run directory (holding its lock) and hands the loop to
the run's engine. The planner (resnet_nas.engines.planner) decides the run directory;
engines (`ENGINES`, each a resnet_nas.engines.base.Engine) share the trial flow of
resnet_nas.engines.common:

    optuna        ask/tell with TPE, random, CMA-ES or NSGA-II and per-epoch pruning
    keras-tuner   Keras Tuner's random, bayesian or hyperband tuners
"""

from __future__ import annotations

import importlib.util
import shlex
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from resnet_nas import results
from resnet_nas.config import TrainConfig
from resnet_nas.engines.base import Engine
from resnet_nas.engines.common import (DataInfo, RunnerFactory, SearchContext, data_info,
                                       describe_counts, make_runner)
from resnet_nas.engines.planner import RunPlan, plan_new, plan_resume, write_run_dir
from resnet_nas.engines.registry import ENGINES
from resnet_nas.enqueue import place
from resnet_nas.errors import SearchError, UsageError
from resnet_nas.run import SearchOptions
from resnet_nas.space.bounds import infeasible_settings
from resnet_nas.train.runtime import resolve_trainer
from resnet_nas.vocabulary import OPTUNA

__all__ = ["ENGINES", "Engine", "SearchOptions", "SearchSummary", "run_search"]

#: The module each Keras backend needs, and how to install it.
BACKEND_MODULES = {"tensorflow": ("tensorflow", "pip install tensorflow"),
                   "jax": ("jax", "pip install -e \".[jax]\" in the checkout (the project's jax "
                           "extra), or pip install 'jax[cuda12]' for an NVIDIA GPU"),
                   "torch": ("torch", "pip install torch")}


@dataclass(frozen=True)
class SearchSummary:
    """How a search ended.

    Attributes:
      storage: the study's storage URL (it may hold a password: print redact(storage)).
      table: the run directory's results table (pandas DataFrame).
      interrupted: 'SIGINT' or 'SIGTERM' when a signal stopped the search.
      note: why the search stopped before its target, when it did (timeout, exhausted space).
      ran: states of the trials this process finished.
      counts: the run's trials in words (trained by state, duplicates apart).
    """

    run_dir: Path
    study: str
    storage: str
    table: Any
    interrupted: str | None = None
    note: str | None = None
    ran: Counter = field(default_factory=Counter)
    counts: str = ""

    @property
    def all_failed(self) -> bool:
        """Every trial this process ran failed (and it ran at least one)."""
        return sum(self.ran.values()) > 0 and self.ran["failed"] == sum(self.ran.values())

    @property
    def failure(self) -> str | None:
        """The error line of a search whose every trial failed (None: not so), with the first
        failed trial's reason."""
        if not self.all_failed:
            return None
        reasons = self.table[self.table["state"] == "failed"]["reason"].dropna()
        return (f"error: every trial of this search failed ({self.ran['failed']}); the first "
                f"reason: {reasons.iloc[0] if len(reasons) else '?'}")


def _check_backend(backend: str, flag_given: bool) -> None:
    module, hint = BACKEND_MODULES[backend]
    if importlib.util.find_spec(module) is None:
        what = f"--backend {backend}" if flag_given else f"train.backend {backend!r}"
        raise SearchError(f"{what}: the Keras backend {backend!r} needs the {module!r} package, "
                          f"which is not installed here; install it ({hint}) or choose "
                          "another --backend")


def _looks_ahead(plan: RunPlan, opts: SearchOptions, train_cfg: TrainConfig) -> bool:
    """A search samples its next trial while one trains, set up by a second trial process,
    where that process has something to set up ahead: the Optuna engine's loop with the
    TensorFlow trainer (its trace; the JAX trainer prepares nothing ahead yet, and two JAX
    processes would each reserve most of a GPU's memory), in a run of more than one trial
    (`train_cfg`: the run's training config)."""
    try:
        trainer = resolve_trainer(train_cfg, train_cfg.backend)
    except ValueError:  # a trainer its backend lacks: every trial reports it
        return False
    return (opts.lookahead and plan.engine.name == OPTUNA and trainer == "tf"
            and plan.run.trials > 1)


def _context(plan: RunPlan, opts: SearchOptions, io: DataInfo, lookahead: bool) -> SearchContext:
    data_cfg, train_cfg = plan.run.configs(plan.space)
    timeout = opts.timeout if opts.timeout is not None else plan.space.search.timeout
    return SearchContext(run=plan.run, run_dir=plan.run_dir, space=plan.space, data=data_cfg,
                         train=train_cfg, io=io, storage_url=plan.storage_url, timeout=timeout,
                         progress=opts.progress, max_trials_per_worker=opts.max_trials_per_worker,
                         worker_env=dict(opts.worker_env), lookahead=lookahead)


def run_search(opts: SearchOptions, out: Callable[[str], None] = print,
               runner_factory: RunnerFactory | None = None) -> SearchSummary:
    """Runs (or resumes) a search as `opts` says.

    Args:
      opts: the search options.
      out: where one-line messages go.
      runner_factory: builds the trial runner (default: resnet_nas.trial_process.TrialRunner).

    Returns:
      The SearchSummary (also when a signal stopped the search: summary.interrupted).

    Raises:
      UsageError, ConfigError, SearchError, StorageError, DataError: bad input, found before
        anything is written.
    """
    opts.validate()
    plan = plan_resume(opts) if opts.resume else plan_new(opts)
    lock = plan.lock
    runner = None
    try:
        data_cfg, train_cfg = plan.run.configs(plan.space)
        _check_backend(train_cfg.backend, opts.backend is not None)
        lookahead = _looks_ahead(plan, opts, train_cfg)
        if not (opts.create_only or plan.resumed):
            # A new run's trial process starts now: its backend's import (seconds) goes on
            # while this process reads the data set's facts and opens the study, instead of
            # delaying the first trial. A search refused from here on stops it, unused. (A
            # resumed run may be at its target already: its flow starts one if it needs it.)
            runner = make_runner(runner_factory, train_cfg.backend,
                                 opts.max_trials_per_worker, opts.worker_env, lookahead)
            runner.start()
            # The search waits seconds for that import before its first trial starts: the
            # tables' modules, which the end of the search needs, are imported meanwhile.
            threading.Thread(target=results.import_table_modules, daemon=True,
                             name="resnet_nas-table-imports").start()
        io = data_info(data_cfg, train_cfg.seed, plan.space.input_shape, plan.space.source)
        problems = infeasible_settings(plan.space, io.input_shape, io.num_classes)
        if problems:  # found before the run directory exists, not after 1,000 samples
            raise SearchError("\n".join(problems))
        enqueued = place(opts.enqueue, plan.space, io.input_shape, io.num_classes)
        if len(enqueued) > plan.run.trials:
            raise UsageError("--enqueue", None, f"{len(enqueued)} architectures to enqueue, "
                             f"more than the run's {plan.run.trials} trials; raise --trials")
        run = plan.run
        if plan.resumed:
            if run.data_fingerprint and io.fingerprint != run.data_fingerprint:
                raise SearchError(
                    f"--resume: the data set is not the one this run was started with (its "
                    f"fingerprint {io.fingerprint} differs from {run.data_fingerprint} in "
                    f"{plan.run_dir / 'run.json'}): the files changed, or --data names other "
                    "data; restore them, or start a new run")
            plan.engine.check_resumed(plan.storage_url, run, plan.run_dir,
                                      results.read_rows(plan.run_dir, run.study))
            restored = plan.engine.restore_rows(plan.storage_url, run, plan.run_dir)
            if restored:
                out(f"resume: {restored} row(s) missing from {plan.run_dir / results.ROWS_DIR} "
                    "restored from the study's records")
            lost = results.lost_rows(plan.run_dir)
            if lost:
                raise SearchError(
                    f"--resume: {plan.run_dir / 'results.parquet'} holds {len(lost)} finished "
                    f"trial(s) whose rows are gone from {plan.run_dir / results.ROWS_DIR} and "
                    f"that its storage has no record of (e.g. {lost[0][0]} trial "
                    f"{lost[0][1]}): restore the rows before resuming; nothing was changed")
            run = replace(run, data_fingerprint=run.data_fingerprint or io.fingerprint,
                          dataset=run.dataset or io.label)
        else:
            plan.engine.check_new(plan.storage_url, run)
            run = replace(run, data_fingerprint=io.fingerprint, dataset=io.label)
        plan = write_run_dir(replace(plan, run=run))
        lock = plan.lock
        if plan.resumed and lock is not None and lock.took_over:
            held = lock.took_over
            out(f"resume: the run directory's lock was left by a {held.get('what')} that "
                f"is gone (pid {held.get('pid')} on host {held.get('host')}); taken over")
        ctx = replace(_context(plan, opts, io, lookahead), enqueue=enqueued)
        result = plan.engine.run(ctx, plan.resumed, opts.create_only, out,
                                 runner_factory if runner is None
                                 else lambda *args, **kw: runner)
        if result.note:
            out(result.note)
        if result.interrupted:
            hint = "python -m resnet_nas search --resume --run-dir " + shlex.quote(
                str(plan.run_dir))
            out(f"interrupted ({result.interrupted}): the running trial is recorded as "
                f"interrupted; finished trials are kept. Resume with: {hint}")
        table = (results.write_tables(plan.run_dir) if not opts.create_only
                 else results.load_table(plan.run_dir))
        return SearchSummary(plan.run_dir, plan.run.study, plan.storage_url, table,
                             interrupted=result.interrupted, note=result.note,
                             ran=Counter(result.ran),
                             counts=describe_counts(plan.run_dir, plan.run.study))
    finally:
        if runner is not None:
            runner.close()
        if lock is not None:
            lock.release()
