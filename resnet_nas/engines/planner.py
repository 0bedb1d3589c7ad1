"""One planner of a run directory, for the three ways one is made: a new search (`plan_new`),
a resumed search (`plan_resume`) and a worker of a shared study (`plan_worker`).

Each decides and checks everything before anything is written (the engine, sampler, pruner,
storage, target, space and overrides) and returns a `RunPlan`; `write_run_dir` then writes the
directory the same way for all three, under its lock: RUN_DIR/space.yaml (a new run's space
file, or a worker's study's recorded one) and run.json. The rules the three share are here once:
the trial target (`trial_target`), a given --space against the run's (`check_given_space`), a
--data path made absolute, and a directory holding another study's run (`refuse_other_study`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from resnet_nas.config import FILE_DATASETS
from resnet_nas.engines.base import Engine
from resnet_nas.engines.registry import ENGINES
from resnet_nas.errors import SearchError, UsageError
from resnet_nas.fileio import write_atomic
from resnet_nas.lock import RunLock
from resnet_nas.run import (RUN_META, RUN_SPACE, Overrides, Resume, Run, SearchOptions,
                            absolute_path, default_storage_url, file_sha256, latest_run_dir,
                            new_run_id, now, read_run, resolve_storage, run_space,
                            storage_from_env, storage_ref, write_run)
from resnet_nas.space import SearchSpace, load_space, parse_overrides
from resnet_nas.vocabulary import (DEFAULT_ENGINE, DEFAULT_SPACE, MULTI_OBJECTIVE_SAMPLERS,
                                   NO_PRUNER, OPTUNA, SINGLE_OBJECTIVE_SAMPLERS)

NEW, RESUME, WORKER = "new", "resume", "worker"
#: Who holds a run directory's lock, as another process is told.
LOCK_HOLDER = {NEW: "search", RESUME: "search", WORKER: "worker"}


@dataclass(frozen=True)
class RunPlan:
    """A run directory, decided and checked: nothing of it is written yet (`write_run_dir`).

    Attributes:
      kind: NEW, RESUME or WORKER.
      engine: the run's engine.
      run: what run.json is to hold.
      space: the run's space (with its --set values).
      storage_url: the usable storage URL (it may hold a password: never written).
      space_text: what RUN_DIR/space.yaml gets from a worker (the study's recorded file); a new
        run copies its space file (space.source), a resumed one keeps its own.
      lock: the directory's lock once held (a resume holds it from its first check on).
    """

    kind: str
    engine: Engine
    run: Run
    run_dir: Path
    space: SearchSpace
    storage_url: str
    space_text: str | None = None
    lock: RunLock | None = None

    @property
    def resumed(self) -> bool:
        return self.kind == RESUME


# ---------------------------------------------------------------------------------------------
# Rules the three paths share.
def trial_target(given: int | None, fallback: int) -> int:
    """The finished trials a run should end with (the one rule): --trials when given, else
    `fallback`, which is the run's recorded target on a resume and for a worker, and the
    space's `search.trials` for a new run."""
    return given if given is not None else fallback


def check_given_space(given: str | None, overrides: Overrides, recorded_hash: str, of: str,
                      where: str) -> None:
    """A --space given to a run that has its space already must be that space (same hash).

    Args:
      of: whose space it is: 'this run', "study 'x'".
      where: where the run's own space is ('saved in RUN_DIR/space.yaml').

    Raises:
      UsageError: naming --space and both hashes.
    """
    if not given:
        return
    space = load_space(given, overrides=overrides.space_overrides())
    if space.hash() != recorded_hash:
        raise UsageError("--space", given, f"expected the space of {of} (hash {recorded_hash}, "
                         f"{where}); the given one is another space (hash {space.hash()})")


def refuse_other_study(run_dir: Path, run: Run) -> Run | None:
    """The run already in `run_dir` (None: none), refused unless it is of `run`'s study and
    space.

    Raises:
      SearchError: a run of another study or space.
    """
    if not (run_dir / RUN_META).is_file():
        return None
    old = read_run(run_dir)
    if old.study != run.study or old.space_hash != run.space_hash:
        raise SearchError(f"{run_dir} holds a run of study {old.study!r} (space hash "
                          f"{old.space_hash}); give another --run-dir")
    return old


def check_new_run_dir(run_dir: Path, flag: str = "--run-dir") -> None:
    """A new run's directory: absent, or an existing directory without a run in it."""
    if run_dir.exists() and not run_dir.is_dir():
        raise UsageError(flag, str(run_dir), "expected a directory, found a file")
    if (run_dir / RUN_META).exists():
        raise UsageError(flag, str(run_dir), "already holds a run; pass --resume to continue "
                         "it or choose another --run-dir")
    parent = run_dir.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise UsageError(flag, str(run_dir), f"expected a directory that can be created "
                         f"({parent} is not writable)")


# ---------------------------------------------------------------------------------------------
# A new search.
def plan_new(opts: SearchOptions) -> RunPlan:
    """A new run of `opts.space` (options already checked on their own: opts.validate()).

    Raises:
      UsageError, ConfigError: an option that does not fit the space or the engine.
    """
    engine = ENGINES[opts.engine or DEFAULT_ENGINE]()
    engine.check_options(opts)
    space = load_space(opts.space or DEFAULT_SPACE, overrides=parse_overrides(opts.sets))
    sampler = opts.sampler or engine.default_sampler(space.search.sampler)
    if sampler in SINGLE_OBJECTIVE_SAMPLERS and len(space.search.objectives) > 1:
        raise UsageError("--sampler", sampler, "expected a multi-objective sampler ("
                         f"{', '.join(MULTI_OBJECTIVE_SAMPLERS)}) for this space: {sampler} "
                         "optimises one objective")
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = Path(opts.run_dir) if opts.run_dir else Path("runs") / f"{space.name}-{stamp}"
    check_new_run_dir(run_dir)
    url = storage_from_env(opts.storage) or engine.default_storage(run_dir, opts.create_only)
    space_file = Path(space.source)
    run = Run(run_id=new_run_id(), study=opts.study_name or space.name, space=space.name,
              space_hash=space.hash(), space_sha256=file_sha256(space_file),
              space_source=str(space_file.resolve()), engine=engine.name, sampler=sampler,
              sampler_history=_history(opts, space, sampler),
              pruner=_pruner(engine, opts, space), objectives=tuple(space.search.objectives),
              seed=space.search.seed if opts.seed is None else opts.seed,
              trials=trial_target(opts.trials, space.search.trials),
              storage=storage_ref(url, run_dir),
              created=now(), overrides=Overrides(epochs=opts.epochs, backend=opts.backend,
                                                 data=absolute_path(opts.data),
                                                 limit_train=opts.limit_train,
                                                 sets=tuple(opts.sets)))
    _, train_cfg = run.configs(space)
    return RunPlan(NEW, engine, engine.settings(run, train_cfg), run_dir, space, url)


def _history(opts: SearchOptions, space: SearchSpace, sampler: str) -> int | None:
    if opts.sampler_history is None:
        # the space's TPE setting does not carry over to a sampler chosen on the command line
        return space.search.sampler_history if sampler == "tpe" else None
    if sampler != "tpe":
        raise UsageError("--sampler-history", opts.sampler_history, "expected it only with "
                         f"--sampler tpe (it bounds the history TPE models), not {sampler}")
    return opts.sampler_history


def _pruner(engine: Engine, opts: SearchOptions, space: SearchSpace) -> str:
    if engine.name != OPTUNA:  # the pruners are Optuna's; other engines refuse --pruner
        return NO_PRUNER
    pruner = opts.pruner or space.search.pruner
    if len(space.search.objectives) > 1 and pruner != NO_PRUNER:
        raise UsageError("--pruner", pruner, f"expected '{NO_PRUNER}' for this multi-objective "
                         "space (Optuna cannot prune multi-objective studies)")
    return pruner


# ---------------------------------------------------------------------------------------------
# A resumed search.
def plan_resume(opts: SearchOptions) -> RunPlan:
    """The run in --run-dir (or the space's latest), with this resume's changes; the plan holds
    the directory's lock (a second search is refused before anything else).

    Raises:
      UsageError: an option that would change what the run's trials are.
      SearchError, ConfigError: a run directory that cannot be resumed.
    """
    run_dir = Path(opts.run_dir) if opts.run_dir else _latest(opts.space)
    run = read_run(run_dir)
    lock = RunLock(run_dir).acquire(LOCK_HOLDER[RESUME])
    try:
        space = run_space(run_dir, run)
        check_given_space(opts.space, run.overrides, run.space_hash, "this run",
                          f"saved in {run_dir / RUN_SPACE}")
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
    return RunPlan(RESUME, engine, run, run_dir, space, url, lock=lock)


def _latest(space: str | None) -> Path:
    if not space:
        raise UsageError("--resume", None, "needs --run-dir (or a space, to pick its latest "
                         "run under runs/)")
    name = load_space(space).name
    found = latest_run_dir(name)
    if found is None:
        raise UsageError("--resume", None, f"found no earlier run of space {name!r} under "
                         "runs/; give --run-dir")
    return found


def _same(flag: str, given: Any, recorded: Any, what: str) -> None:
    if given is not None and given != recorded:
        raise UsageError(flag, given, f"this run's {what} is {recorded!r}, and a resumed run "
                         "cannot change it (its trials would not be comparable); start a new "
                         "run with another --run-dir")


# ---------------------------------------------------------------------------------------------
# A worker of a shared study.
def worker_run_dir(study: str, run_dir: str | None) -> Path:
    """A worker's run directory: --run-dir, else runs/<study>."""
    return Path(run_dir) if run_dir else Path("runs") / study


def worker_storage(given: str | None, run_dir: Path) -> str:
    """A worker's storage: --storage, else $RESNET_NAS_STORAGE, else the storage of the run
    directory's run.json (a study created there with --create-only), else its file journal."""
    given = storage_from_env(given)
    if (run_dir / RUN_META).is_file():
        run = read_run(run_dir)
        return resolve_storage(run.storage, run_dir, given)
    return given or default_storage_url(run_dir, journal=True)


def plan_worker(recorded: Run, space_text: str, recorded_hash: str, run_dir: Path, url: str,
                space: str | None = None, trials: int | None = None,
                data: str | None = None) -> RunPlan:
    """A worker's run directory for the study `search` created: the study's recorded run, with
    this worker's run id (the directory's own, when it has one), storage, --data and target.

    Args:
      recorded: the Run the study keeps; space_text: its space file; recorded_hash: the
        space hash the study says (user attribute), which that file must have.
      space, trials, data: the worker's --space (checked against the study's), --trials and
        --data.

    Raises:
      UsageError, SearchError, ConfigError, DataError: bad input.
    """
    own = _space_from_text(space_text, recorded.space, recorded.overrides.space_overrides())
    if own.hash() != recorded_hash:
        raise SearchError(f"study {recorded.study!r}: its recorded space file has hash "
                          f"{own.hash()} but the study says {recorded_hash} (library versions "
                          "differ?)")
    check_given_space(space, recorded.overrides, recorded_hash, f"study {recorded.study!r}",
                      "recorded in the study: leave --space out to use it")
    overrides = recorded.overrides
    if data:
        overrides = replace(overrides, data=absolute_path(data))
    run = replace(recorded, run_id=new_run_id(), storage=storage_ref(url, run_dir),
                  overrides=overrides, trials=trial_target(trials, recorded.trials),
                  space_sha256=hashlib.sha256(space_text.encode()).hexdigest())
    run.configs(own)  # a bad --data fails here, before any write
    old = refuse_other_study(run_dir, run)
    if old is not None:
        run = replace(run, run_id=old.run_id)
    return RunPlan(WORKER, ENGINES[run.engine](), run, run_dir, own, url, space_text=space_text)


def _space_from_text(text: str, name: str, overrides: dict[str, Any]) -> SearchSpace:
    """Validates a space file's text (as recorded in a study), with the run's --set values."""
    with tempfile.TemporaryDirectory(prefix="resnet_nas-space-") as tmp:
        path = Path(tmp) / f"{name}.yaml"
        path.write_text(text)
        return load_space(path, overrides=overrides)


# ---------------------------------------------------------------------------------------------
# Writing the directory.
def write_run_dir(plan: RunPlan) -> RunPlan:
    """Writes the planned run directory under its lock (taken here unless the plan holds it):
    space.yaml (a new run's space file; a worker's study's file unless the directory has it)
    and run.json. Returns the plan as written, holding the lock; a worker's space is read back
    from RUN_DIR/space.yaml.

    Raises:
      RunBusyError: another live process holds the directory.
      SearchError: a new run's directory taken by a concurrent search, or its space file
        changed while the search started.
    """
    plan.run_dir.mkdir(parents=True, exist_ok=True)
    lock = plan.lock or RunLock(plan.run_dir).acquire(LOCK_HOLDER[plan.kind])
    space_file = plan.run_dir / RUN_SPACE
    try:
        lock.announce()
        run, space = plan.run, plan.space
        if plan.kind == NEW:
            if (plan.run_dir / RUN_META).exists():  # a concurrent search made it meanwhile
                raise SearchError(f"{plan.run_dir} already holds a run; pass --resume to "
                                  "continue it")
            text = Path(space.source).read_bytes()
            if hashlib.sha256(text).hexdigest() != run.space_sha256:
                raise SearchError(f"{space.source} changed while the search started; run it "
                                  "again")
            write_atomic(space_file, text)
        elif plan.kind == WORKER:
            if not space_file.is_file():
                write_atomic(space_file, plan.space_text or "")
            run = replace(run, space_sha256=file_sha256(space_file))
            space = load_space(space_file, overrides=run.overrides.space_overrides())
        write_run(plan.run_dir, run)
    except BaseException:
        if plan.lock is None:
            lock.release()
        raise
    return replace(plan, run=run, space=space, lock=lock)
