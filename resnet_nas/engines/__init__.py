"""Search engines and `run_search`, the one entry point of `python -m resnet_nas search`.

    summary = run_search(SearchOptions(space="quickstart", trials=6))

`run_search` decides and checks everything before it writes anything (the options, the space,
the run directory, the engine's options, the trials' configs, the backend, the data set, the
storage), then creates or resumes the run directory (holding its lock) and hands the loop to
the run's engine. Engines (`ENGINES`) share the trial flow of resnet_nas.engines.common:

    optuna        ask/tell with TPE, random, CMA-ES or NSGA-II and per-epoch pruning
    keras-tuner   Keras Tuner's random, bayesian or hyperband tuners
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import shlex
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from resnet_nas import results
from resnet_nas.config import FILE_DATASETS, TrainConfig
from resnet_nas.engines.common import (DataInfo, RunnerFactory, SearchContext, data_info,
                                       describe_counts, make_runner)
from resnet_nas.enqueue import place
from resnet_nas.errors import SearchError, UsageError
from resnet_nas.lock import RunLock
from resnet_nas.run import (RUN_SPACE, Overrides, Resume, Run, SearchOptions, absolute_path,
                            check_run_dir_target, create_run_dir, default_storage_url,
                            file_sha256, latest_run_dir, new_run_id, now, read_run,
                            resolve_storage, run_space, storage_from_env, storage_ref,
                            trial_target, write_run)
from resnet_nas.space import PRUNERS, SAMPLERS, SearchSpace, load_space, parse_overrides
from resnet_nas.space.bounds import infeasible_settings
from resnet_nas.train.runtime import resolve_trainer

__all__ = ["ENGINES", "Engine", "SearchOptions", "SearchSummary", "run_search"]

#: The module each Keras backend needs, and how to install it.
BACKEND_MODULES = {"tensorflow": ("tensorflow", "pip install tensorflow"),
                   "jax": ("jax", "pip install -e \".[jax]\" in the checkout (the project's jax "
                           "extra), or pip install 'jax[cuda12]' for an NVIDIA GPU"),
                   "torch": ("torch", "pip install torch")}


@dataclass(frozen=True)
class Engine:
    """A search engine.

    Attributes:
      name: the --engine value.
      samplers: its --sampler values.
      default_sampler: the space's default sampler -> this engine's.
      check_options: refuses options the engine has no use for (UsageError).
      check_new: (storage URL, run) -> None, before a new run directory is created.
      check_resumed: (storage URL, run, run_dir, rows) -> None, before a resume changes anything.
      restore_rows: (storage URL, run, run_dir) -> rows restored from the storage's records
        (a resume's repair of rows a full disk or a removal lost).
      settings: (run, train config) -> the run with engine settings filled in.
      run: (context, resumed, create_only, out, runner_factory) -> the loop's result.
      default_storage: (run dir, create_only) -> the storage of a new run given none.
      resolve_storage: (Run.storage, run dir, --storage) -> the usable storage of a resume.
    """

    name: str
    samplers: tuple[str, ...]
    default_sampler: Callable[[str], str]
    check_options: Callable[[SearchOptions], None]
    check_new: Callable[[str, Run], None]
    check_resumed: Callable[[str, Run, Path, list[dict[str, Any]]], None]
    settings: Callable[[Run, Any], Run]
    run: Callable[..., Any]
    default_storage: Callable[[Path, bool], str] = default_storage_url
    resolve_storage: Callable[[str, Path, str | None], str] = resolve_storage
    restore_rows: Callable[[str, Run, Path], int] = lambda url, run, run_dir: 0


def _optuna_engine() -> Engine:
    from resnet_nas.engines import optuna_study
    from resnet_nas.engines.optuna_engine import run_optuna

    return Engine(name="optuna", samplers=SAMPLERS, default_sampler=lambda s: s,
                  check_options=lambda opts: None, check_new=optuna_study.check_new_study,
                  check_resumed=optuna_study.check_resumed_study,
                  settings=lambda run, train: run, run=run_optuna,
                  restore_rows=optuna_study.restore_missing_rows)


def _keras_tuner_engine() -> Engine:
    from resnet_nas.engines import keras_tuner_engine as kt

    return Engine(name="keras-tuner", samplers=kt.TUNERS, default_sampler=kt.default_tuner,
                  check_options=kt.check_options, check_new=lambda url, run: None,
                  check_resumed=kt.check_resumed, settings=kt.settings, run=kt.run_keras_tuner,
                  default_storage=kt.project_ref, resolve_storage=kt.project_path)


#: Engine name -> a function that builds it (importing an engine's library only when used).
ENGINES: dict[str, Callable[[], Engine]] = {"optuna": _optuna_engine,
                                            "keras-tuner": _keras_tuner_engine}


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


@dataclass(frozen=True)
class _Plan:
    engine: Engine
    run: Run
    run_dir: Path
    space: SearchSpace
    space_file: Path
    storage_url: str
    resumed: bool
    lock: RunLock | None = None


def _check_backend(backend: str, flag_given: bool) -> None:
    module, hint = BACKEND_MODULES[backend]
    if importlib.util.find_spec(module) is None:
        what = f"--backend {backend}" if flag_given else f"train.backend {backend!r}"
        raise SearchError(f"{what}: the Keras backend {backend!r} needs the {module!r} package, "
                          f"which is not installed here; install it ({hint}) or choose "
                          "another --backend")


def _resolve_sampler(engine: Engine, opts: SearchOptions, space: SearchSpace) -> str:
    sampler = opts.sampler or engine.default_sampler(space.search.sampler)
    if sampler not in engine.samplers:
        other = {"optuna": "keras-tuner", "keras-tuner": "optuna"}[engine.name]
        hint = ""
        if sampler in (SAMPLERS if other == "optuna" else ENGINES[other]().samplers):
            hint = f" ({sampler!r} is a sampler of --engine {other})"
        raise UsageError("--sampler", sampler, f"expected one of {', '.join(engine.samplers)} "
                         f"for --engine {engine.name}{hint}")
    return sampler


def _resolve_history(opts: SearchOptions, space: SearchSpace, sampler: str) -> int | None:
    if opts.sampler_history is None:
        # the space's TPE setting does not carry over to a sampler chosen on the command line
        return space.search.sampler_history if sampler == "tpe" else None
    if sampler != "tpe":
        raise UsageError("--sampler-history", opts.sampler_history, "expected it only with "
                         f"--sampler tpe (it bounds the history TPE models), not {sampler}")
    return opts.sampler_history


def _resolve_pruner(engine: Engine, opts: SearchOptions, space: SearchSpace) -> str:
    if engine.name == "keras-tuner":
        return "none"
    pruner = opts.pruner or space.search.pruner
    if pruner not in PRUNERS:
        raise UsageError("--pruner", pruner, f"expected one of {', '.join(PRUNERS)}")
    if len(space.search.objectives) > 1 and pruner != "none":
        raise UsageError("--pruner", pruner, "expected 'none' for this multi-objective space "
                         "(Optuna cannot prune multi-objective studies)")
    return pruner


def _plan_new(opts: SearchOptions) -> _Plan:
    engine = ENGINES[opts.engine or "optuna"]()
    engine.check_options(opts)
    sets = parse_overrides(opts.sets)
    space = load_space(opts.space or "quickstart", overrides=sets)
    sampler = _resolve_sampler(engine, opts, space)
    if sampler in ("cmaes", "evolution", "local") and len(space.search.objectives) > 1:
        raise UsageError("--sampler", sampler, "expected a multi-objective sampler (tpe, "
                         f"random, nsga2) for this space: {sampler} optimises one objective")
    history = _resolve_history(opts, space, sampler)
    pruner = _resolve_pruner(engine, opts, space)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = Path(opts.run_dir) if opts.run_dir else Path("runs") / f"{space.name}-{stamp}"
    check_run_dir_target(run_dir)
    given = storage_from_env(opts.storage)
    url = given or engine.default_storage(run_dir, opts.create_only)
    space_file = Path(space.source)
    run = Run(run_id=new_run_id(), study=opts.study_name or space.name, space=space.name,
              space_hash=space.hash(), space_sha256=file_sha256(space_file),
              space_source=str(space_file.resolve()), engine=engine.name, sampler=sampler,
              sampler_history=history, pruner=pruner, objectives=tuple(space.search.objectives),
              seed=space.search.seed if opts.seed is None else opts.seed,
              trials=trial_target(opts.trials, space.search.trials),
              storage=storage_ref(url, run_dir),
              created=now(), overrides=Overrides(epochs=opts.epochs, backend=opts.backend,
                                                 data=absolute_path(opts.data),
                                                 limit_train=opts.limit_train,
                                                 sets=tuple(opts.sets)))
    data_cfg, train_cfg = run.configs(space)
    run = engine.settings(run, train_cfg)
    return _Plan(engine, run, run_dir, space, space_file, url, resumed=False)


def _same(flag: str, given: Any, recorded: Any, what: str) -> None:
    if given is not None and given != recorded:
        raise UsageError(flag, given, f"this run's {what} is {recorded!r}, and a resumed run "
                         "cannot change it (its trials would not be comparable); start a new "
                         "run with another --run-dir")


def _plan_resume(opts: SearchOptions) -> _Plan:
    if opts.run_dir:
        run_dir = Path(opts.run_dir)
    else:
        if not opts.space:
            raise UsageError("--resume", None, "needs --run-dir (or a space, to pick its latest "
                             "run under runs/)")
        name = load_space(opts.space).name
        found = latest_run_dir(name)
        if found is None:
            raise UsageError("--resume", None, f"found no earlier run of space {name!r} under "
                             "runs/; give --run-dir")
        run_dir = found
    run = read_run(run_dir)
    lock = RunLock(run_dir).acquire()  # first: a second search is refused before anything else
    try:
        space = run_space(run_dir, run)
        if opts.space:
            given = load_space(opts.space, overrides=run.overrides.space_overrides())
            if given.hash() != run.space_hash:
                raise UsageError("--space", opts.space, f"this run was started with another "
                                 f"space (hash {run.space_hash}, saved in "
                                 f"{run_dir / RUN_SPACE}); the given one differs (hash "
                                 f"{given.hash()})")
        engine = ENGINES[run.engine]()
        _same("--engine", opts.engine, run.engine, "engine")
        engine.check_options(opts)
        _same("--sampler", opts.sampler, run.sampler, "sampler")
        _same("--sampler-history", opts.sampler_history, run.sampler_history,
              "sampler history")
        _same("--pruner", opts.pruner, run.pruner, "pruner")
        _same("--seed", opts.seed, run.seed, "sampler seed")
        _same("--study-name", opts.study_name, run.study, "study")
        if opts.sets and parse_overrides(opts.sets) != run.overrides.space_overrides():
            raise UsageError("--set", " ".join(opts.sets), "this run's --set values are "
                             f"{list(run.overrides.sets) or 'none'}, and a resumed run cannot "
                             "change them (its trials would not be comparable); start a new "
                             "run with another --run-dir")
        data_cfg, train_cfg = run.configs(space)
        _same("--epochs", opts.epochs, train_cfg.epochs, "epochs per trial")
        _same("--limit-train", opts.limit_train, data_cfg.limit_train, "training-set limit")
        if opts.data is not None and data_cfg.name not in FILE_DATASETS:
            raise UsageError("--data", opts.data, f"this run trains on the data set "
                             f"{data_cfg.name!r} of its space; a resumed run cannot change it")
        # an image folder may have moved: --data is its new place (the data fingerprint checks
        # that it is the same data)
        url = engine.resolve_storage(run.storage, run_dir, storage_from_env(opts.storage))
        changes = Resume(at=now(), trials=trial_target(opts.trials, run.trials),
                         backend=opts.backend, data=absolute_path(opts.data),
                         timeout=opts.timeout)
        overrides = replace(run.overrides,
                            backend=opts.backend or run.overrides.backend,
                            data=absolute_path(opts.data) or run.overrides.data)
        run = replace(run, trials=changes.trials, overrides=overrides,
                      resumes=(*run.resumes, changes))
    except BaseException:
        lock.release()
        raise
    return _Plan(engine, run, run_dir, space, run_dir / RUN_SPACE, url, resumed=True, lock=lock)


def _looks_ahead(plan: _Plan, opts: SearchOptions, train_cfg: TrainConfig) -> bool:
    """A search samples its next trial while one trains, set up by a second trial process,
    where that process has something to set up ahead: the Optuna engine's loop with the
    TensorFlow trainer (its trace; the JAX trainer prepares nothing ahead yet, and two JAX
    processes would each reserve most of a GPU's memory), in a run of more than one trial
    (`train_cfg`: the run's training config)."""
    try:
        trainer = resolve_trainer(train_cfg, train_cfg.backend)
    except ValueError:  # a trainer its backend lacks: every trial reports it
        return False
    return (opts.lookahead and plan.engine.name == "optuna" and trainer == "tf"
            and plan.run.trials > 1)


def _context(plan: _Plan, opts: SearchOptions, io: DataInfo, lookahead: bool) -> SearchContext:
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
    plan = _plan_resume(opts) if opts.resume else _plan_new(opts)
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
            lock.announce()
            if lock.took_over:
                held = lock.took_over
                out(f"resume: the run directory's lock was left by a {held.get('what')} that "
                    f"is gone (pid {held.get('pid')} on host {held.get('host')}); taken over")
            write_run(plan.run_dir, run)
        else:
            plan.engine.check_new(plan.storage_url, run)
            run = replace(run, data_fingerprint=io.fingerprint, dataset=io.label)
            lock = create_run_dir(plan.run_dir, run, plan.space_file)
        plan = replace(plan, run=run)
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
        return SearchSummary(plan.run_dir, run.study, plan.storage_url, table,
                             interrupted=result.interrupted, note=result.note,
                             ran=Counter(result.ran),
                             counts=describe_counts(plan.run_dir, run.study))
    finally:
        if runner is not None:
            runner.close()
        if lock is not None:
            lock.release()
