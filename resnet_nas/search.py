"""The study loop: sample -> check -> deduplicate -> train in a worker -> record.

The search process never imports Keras. Each Optuna trial is asked for, its architecture sampled
(define-by-run) and checked against the space's constraints analytically; infeasible samples are
told to Optuna as failed and resampled without a training run (their count lands in the next
row's `rejections`); an architecture already trained in the study reuses its recorded result
(state 'duplicate'); everything else trains in a recycled worker subprocess that reports every
epoch, so Optuna's pruners can stop it. Every finished trial writes one row to the run's results
table and keeps the same record in the trial's user attributes in the storage.

Several search processes ("workers", see resnet_nas.distributed) may share one study: an
architecture is claimed in the storage before it trains (`claim_architecture`), so no two workers
train the same one, and `LoopControl` decides when a worker asks for the next trial.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from resnet_nas import results
from resnet_nas.config import DataConfig
from resnet_nas.nets import Architecture
from resnet_nas.progress import Progress
from resnet_nas.records import _now, base_record, fill_from_result, objective_values
from resnet_nas.space import (PRUNERS, SAMPLERS, SearchSpace, check_constraints, load_space,
                              sample_architecture)
from resnet_nas.storage import default_storage_url, heartbeat, open_storage, redact
from resnet_nas.validation import ConfigError
from resnet_nas.worker import Job, TrialRunner

# We run ask/tell with our own heartbeat thread (storage.heartbeat), which Optuna warns about.
warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
# TPE's `group`/`constant_liar` and RDB heartbeats are marked experimental; say it once, in docs.
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
optuna.logging.set_verbosity(optuna.logging.WARNING)

RUN_META = "run.json"
RUN_SPACE = "space.yaml"
JOURNAL_FILE = "study.journal"  # default storage of a study created with --create-only
# Study user attributes that let a worker on another machine run the study from the storage
# alone (`python -m resnet_nas worker --study NAME --storage URL`).
STUDY_SPACE_YAML = "space_yaml"
STUDY_RUN_META = "run_meta"
CLAIM_ATTR = "arch_claim"  # trial user attr: 'won' / 'lost' once its architecture claim is decided
ENGINES = ("optuna", "keras-tuner")


class SearchError(RuntimeError):
    """A search cannot start or continue (bad run dir, space mismatch, infeasible space)."""


@dataclass
class SearchOptions:
    """Everything `python -m resnet_nas search` takes. None means: the space file's default."""

    space: str | None = "quickstart"
    trials: int | None = None
    timeout: float | None = None
    storage: str | None = None
    run_dir: str | None = None
    resume: bool = False
    engine: str = "optuna"
    sampler: str | None = None
    pruner: str | None = None
    study_name: str | None = None
    seed: int | None = None
    epochs: int | None = None
    backend: str | None = None
    data: str | None = None  # --data PATH: an image folder / .tar.gz, overrides the data set
    limit_train: int | None = None
    max_trials_per_worker: int = 10
    create_only: bool = False
    progress: bool = True
    worker_env: dict[str, str] = field(default_factory=dict)


@dataclass
class SearchSummary:
    run_dir: Path
    study_name: str
    storage: str
    table: Any  # pandas DataFrame
    interrupted: bool = False


# ---------------------------------------------------------------------------------------------
# Run directory and study set-up.
def latest_run_dir(space_name: str, root: str | Path = "runs") -> Path | None:
    runs = sorted(Path(root).glob(f"{space_name}-*"), key=lambda p: p.stat().st_mtime)
    return runs[-1] if runs else None


def prepare_run(opts: SearchOptions) -> tuple[SearchSpace, Path, dict[str, Any]]:
    """Resolves the space, the run directory and the run metadata (new or resumed).

    Raises:
      SearchError / ConfigError: with the file or directory that is wrong.
    """
    if opts.resume:
        run_dir = Path(opts.run_dir) if opts.run_dir else None
        if run_dir is None:
            if not opts.space:
                raise SearchError("--resume needs --run-dir (or --space to pick its latest run)")
            name = load_space(opts.space).name
            run_dir = latest_run_dir(name)
            if run_dir is None:
                raise SearchError(f"--resume: no earlier run of space {name!r} under runs/; "
                                  "give --run-dir")
        meta_path = run_dir / RUN_META
        if not meta_path.exists():
            raise SearchError(f"--resume: {run_dir} is not a resnet_nas run directory "
                              f"(no {RUN_META})")
        meta = json.loads(meta_path.read_text())
        space = load_space(run_dir / RUN_SPACE)
        if opts.space:
            given = load_space(opts.space)
            if given.hash() != meta["space_hash"]:
                raise SearchError(f"--resume: space {opts.space!r} (hash {given.hash()}) differs "
                                  f"from the one this run was started with "
                                  f"({meta['space_hash']}, saved in {run_dir / RUN_SPACE})")
        return space, run_dir, meta
    space = load_space(opts.space or "quickstart")
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = Path(opts.run_dir) if opts.run_dir else Path("runs") / f"{space.name}-{stamp}"
    if (run_dir / RUN_META).exists():
        raise SearchError(f"{run_dir} already holds a run; pass --resume to continue it or "
                          "choose another --run-dir")
    run_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(space.source, run_dir / RUN_SPACE)
    defaults = space.search
    storage = opts.storage or default_storage_url(run_dir)
    if opts.create_only and not opts.storage:
        # a study created for workers: without a database, a file journal takes several
        # processes on one machine (SQLite does not take concurrent writers well)
        storage = f"journal:///{(run_dir / JOURNAL_FILE).resolve().as_posix().lstrip('/')}"
    meta = {
        "study": opts.study_name or space.name,
        "storage": storage,
        "space": space.name,
        "space_hash": space.hash(),
        "space_source": str(space.source),
        "engine": opts.engine,
        "sampler": opts.sampler or defaults.sampler,
        "pruner": opts.pruner or defaults.pruner,
        "objectives": list(defaults.objectives),
        "seed": defaults.seed if opts.seed is None else opts.seed,
        "trials": opts.trials or defaults.trials,
        "created": _now(),
        "overrides": {k: v for k, v in {"epochs": opts.epochs, "backend": opts.backend,
                                        "data": opts.data,
                                        "limit_train": opts.limit_train}.items()
                      if v is not None},
    }
    (run_dir / RUN_META).write_text(json.dumps(meta, indent=1))
    return space, run_dir, meta


def effective_configs(space: SearchSpace, meta: dict[str, Any]):
    """The data and train configs after the run's CLI overrides."""
    over = meta.get("overrides", {})
    data: DataConfig = space.data
    if "data" in over:
        data = replace(data, name="folder", path=over["data"])
    if "limit_train" in over:
        data = replace(data, limit_train=over["limit_train"])
    train = space.train
    if "epochs" in over:
        train = replace(train, epochs=over["epochs"])
    if "backend" in over:
        train = replace(train, backend=over["backend"])
    data.validate(space.source, "data")
    train.validate(space.source, "train")
    return data, train


def make_sampler(name: str, seed: int, multi_objective: bool) -> optuna.samplers.BaseSampler:
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True,
                                          constant_liar=True)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "cmaes":
        # CMA-ES covers the numeric, always-present parameters; the rest (categorical and
        # conditional stage parameters) fall back to independent TPE.
        return optuna.samplers.CmaEsSampler(
            seed=seed,
            independent_sampler=optuna.samplers.TPESampler(seed=seed))
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    raise ConfigError(None, "search.sampler", f"one of {list(SAMPLERS)}", name)


def make_pruner(name: str, epochs: int, multi_objective: bool) -> optuna.pruners.BasePruner:
    if multi_objective or name == "none":
        return optuna.pruners.NopPruner()  # Optuna cannot prune multi-objective studies
    if name == "median":
        # the first epochs of short trials are noisy: let a quarter of them pass unpruned
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=max(1, epochs // 4))
    if name == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(epochs, 1),
                                              reduction_factor=3)
    raise ConfigError(None, "search.pruner", f"one of {list(PRUNERS)}", name)


def study_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """The run metadata a worker needs, as kept in the study (no storage URL: it may hold a
    password, and the worker knows it anyway)."""
    return {k: v for k, v in meta.items() if k != "storage"}


def open_study(meta: dict[str, Any], train_epochs: int, create: bool,
               heartbeat_enabled: bool = True, space_text: str | None = None,
               storage: optuna.storages.BaseStorage | None = None,
               sampler_seed: int | None = None) -> optuna.Study:
    """Creates or loads the run's study with its sampler and pruner.

    Args:
      meta: the run metadata (prepare_run).
      train_epochs: epochs per trial (the Hyperband pruner's max resource).
      create: create the study (or load it if it exists) and record the space in it.
      heartbeat_enabled: open the storage with heartbeats.
      space_text: the space file's text, kept in the study (user attr 'space_yaml') with the
        run metadata ('run_meta') so that workers elsewhere need only the study and storage.
      storage: an already opened storage (default: open meta['storage']).
      sampler_seed: sampler seed (default meta['seed']; workers of one study need distinct ones).

    Raises:
      SearchError: the study does not exist (create=False) or was made for another space.
    """
    if storage is None:
        storage = open_storage(meta["storage"], heartbeat=heartbeat_enabled)
    directions = [{"val_accuracy": "maximize"}.get(o, "minimize") for o in meta["objectives"]]
    multi = len(directions) > 1
    seed = meta["seed"] if sampler_seed is None else sampler_seed
    sampler = make_sampler(meta["sampler"], seed, multi)
    pruner = make_pruner(meta["pruner"], train_epochs, multi)
    if create:
        study = optuna.create_study(study_name=meta["study"], storage=storage, sampler=sampler,
                                    pruner=pruner, directions=directions, load_if_exists=True)
        recorded = study.user_attrs.get("space_hash")
        if recorded and recorded != meta["space_hash"]:
            raise SearchError(f"study {meta['study']!r} in {redact(meta['storage'])!r} was "
                              f"created for a space with hash {recorded}, but this space's hash "
                              f"is {meta['space_hash']}; choose another --study-name")
        if not recorded:
            study.set_user_attr("space_hash", meta["space_hash"])
            study.set_user_attr("space", meta["space"])
        if space_text is not None and STUDY_SPACE_YAML not in study.user_attrs:
            study.set_user_attr(STUDY_SPACE_YAML, space_text)
            study.set_user_attr(STUDY_RUN_META, study_meta(meta))
        return study
    try:
        study = optuna.load_study(study_name=meta["study"], storage=storage, sampler=sampler,
                                  pruner=pruner)
    except KeyError:
        raise SearchError(f"study {meta['study']!r} does not exist in storage "
                          f"{redact(meta.get('storage', '?'))!r}") from None
    recorded = study.user_attrs.get("space_hash")
    if recorded and recorded != meta["space_hash"]:
        raise SearchError(f"study {meta['study']!r} was created for a space with hash "
                          f"{recorded}, but this space's hash is {meta['space_hash']}")
    return study


# ---------------------------------------------------------------------------------------------
# The loop.
INTERRUPTED = "interrupted"  # reason prefix of a trial the search was stopped in


def _finished_rows(run_dir: Path, study: str) -> int:
    """Rows that count towards --trials: a trial cut short by an interruption does not."""
    count = 0
    for path in (run_dir / results.ROWS_DIR).glob(f"{study}--*.json"):
        row = json.loads(path.read_text())
        count += not (row.get("state") == "failed"
                      and str(row.get("reason") or "").startswith(INTERRUPTED))
    return count


TRAINED_STATES = (TrialState.COMPLETE, TrialState.PRUNED)


def claim_architecture(study: optuna.Study, trial: optuna.Trial, key: str,
                       timeout: float = 60.0, poll: float = 0.2) -> int | None:
    """Claims architecture `key` for the RUNNING `trial` against other workers of the study.

    Protocol (it needs only that an attribute written before a read is seen by later reads):
    write the trial's `arch_key`, then read the other claimants of the key (trials with that
    key that are not duplicates). A trained or lower-numbered claimant holds it. A
    higher-numbered claimant that is still RUNNING may have missed our write, so we wait until
    it has decided (user attr CLAIM_ATTR): if it won, it holds the key. Of two concurrent
    claimants at least one sees the other's write, so they never both win; a claimant waits only
    for higher-numbered ones, so waits end. A claimant that never decides (its worker died) is
    waited for at most `timeout` seconds and then counts as holding the key.

    Returns:
      None when `trial` won the key (CLAIM_ATTR 'won'), else the number of the trial holding
      it (CLAIM_ATTR 'lost').
    """
    trial.set_user_attr(CLAIM_ATTR, "pending")  # first: a second claim undoes an earlier 'lost'
    trial.set_user_attr("arch_key", key)
    deadline = time.monotonic() + timeout
    holder: int | None = None
    while True:
        others = [t for t in study.get_trials(deepcopy=False,
                                              states=(*TRAINED_STATES, TrialState.RUNNING))
                  if t.number != trial.number and t.user_attrs.get("arch_key") == key
                  and t.user_attrs.get("duplicate_of") is None
                  and t.user_attrs.get(CLAIM_ATTR) != "lost"]
        first = [t for t in others if t.state != TrialState.RUNNING or t.number < trial.number
                 or t.user_attrs.get(CLAIM_ATTR) == "won"]
        if first:
            holder = min(t.number for t in first)
            break
        if not others:
            break
        if time.monotonic() > deadline:
            holder = min(t.number for t in others)
            break
        time.sleep(poll)
    trial.set_user_attr(CLAIM_ATTR, "won" if holder is None else "lost")
    return holder


def architecture_holders(study: optuna.Study, trial_number: int,
                         key: str) -> tuple[int | None, int | None]:
    """(trained, running): the first trial other than `trial_number` that trained `key` (complete
    or pruned, not a duplicate), and the first RUNNING one that trains or claims it."""
    trained = running = None
    for t in study.get_trials(deepcopy=False, states=(*TRAINED_STATES, TrialState.RUNNING)):
        if (t.number == trial_number or t.user_attrs.get("arch_key") != key
                or t.user_attrs.get("duplicate_of") is not None):
            continue
        if t.state != TrialState.RUNNING:
            trained = t.number if trained is None else min(trained, t.number)
        elif t.user_attrs.get(CLAIM_ATTR) != "lost":
            running = t.number if running is None else min(running, t.number)
    return trained, running


def settle_architecture(study: optuna.Study, trial: optuna.Trial, key: str,
                        control: "LoopControl") -> tuple[int | None, list[str]]:
    """Decides how the RUNNING `trial` gets architecture `key`.

    Returns:
      (None, []): train it (the claim is won); (N, []): reuse trial N's result (a duplicate);
      (None, [reason]): reject the sample, because another trial is training the architecture
      and `control.wait_for_conflicts` is off. With it on (several workers), the trial waits
      until that one has finished and then reuses its result (or, if it failed, claims again).
    """
    while True:
        trained, running = architecture_holders(study, trial.number, key)
        if trained is not None:
            return trained, []
        if running is None:
            running = claim_architecture(study, trial, key)
            if running is None:
                return None, []
        if not control.wait_for_conflicts:
            return None, [f"same architecture is being trained by trial {running}"]
        control.recover(study)  # the trial waited for may be stale
        control.idle()


def _reject(study: optuna.Study, trial: optuna.Trial, reason: str) -> None:
    """Tells Optuna a sample that is not run (infeasible, taken, surplus): failed + 'rejected'."""
    try:
        trial.set_user_attr("rejected", reason)
        study.tell(trial, state=TrialState.FAIL)
    except optuna.exceptions.UpdateFinishedTrialError:
        pass  # another worker found it stale and failed it already


class LoopControl:
    """When `run_trials` asks for the next trial. This default is a single search process: it
    counts the run directory's rows, admits every trial and, when interrupted, fails every trial
    left RUNNING. `resnet_nas.distributed` has one for several workers of a study.
    """

    #: wait for another trial training the same architecture (and reuse its result) instead
    #: of rejecting the sample
    wait_for_conflicts = False

    def __init__(self, run_dir: Path, study_name: str, total: int):
        self.run_dir = Path(run_dir)
        self.study_name = study_name
        self.total = total

    def recover(self, study: optuna.Study) -> None:
        """Deals with trials whose process died (nothing here: `--resume` does it)."""

    def finished(self, study: optuna.Study) -> int:
        """Finished trials that count towards `total`."""
        return _finished_rows(self.run_dir, self.study_name)

    def next_action(self, study: optuna.Study) -> str:
        """'ask' a new trial, 'wait' (idle() then ask again) or 'stop'."""
        return "ask" if self.finished(study) < self.total else "stop"

    def idle(self) -> None:
        time.sleep(1.0)

    def admit(self, study: optuna.Study, trial: optuna.Trial) -> str | None:
        """None to run the fresh trial, else why it is rejected unrun."""
        return None

    def interrupted(self, study: optuna.Study, trial: optuna.Trial | None, run_dir: Path,
                    meta: dict[str, Any]) -> None:
        """Ctrl-C: records the trial that was running as failed."""
        fail_interrupted_trials(study, run_dir, meta, only_stale=False)


def fail_interrupted_trials(study: optuna.Study, run_dir: Path, meta: dict[str, Any],
                            only_stale: bool) -> int:
    """Marks RUNNING trials left by a killed search as failed and records their rows."""
    if only_stale:
        before = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
        optuna.storages.fail_stale_trials(study)
        stale = [t for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
                 if t.number in before]
    else:
        stale = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        for t in stale:
            study.tell(t.number, state=TrialState.FAIL)
    for t in stale:
        if results.row_path(run_dir, meta["study"], t.number).exists():
            continue
        arch = Architecture.from_dict(t.user_attrs["arch"]) if "arch" in t.user_attrs else None
        rec = base_record(meta, t.number, arch, t.user_attrs.get("epochs_planned", 0),
                          meta["seed"], t.user_attrs.get("backend", ""))
        rec.update(state="failed", reason="interrupted: the search stopped while it ran",
                   finished_at=_now())
        results.write_record(run_dir, rec)
    return len(stale)


def run_search(opts: SearchOptions, out: Callable[[str], None] = print) -> SearchSummary:
    """Runs (or resumes) a search as `opts` says; returns the run's results table.

    Raises:
      ConfigError, SearchError, StorageError: bad input, before any trial runs.
      KeyboardInterrupt is handled: the running trial is marked failed ('interrupted'), the
      finished ones are kept, and the summary has interrupted=True.
    """
    if opts.engine not in ENGINES:
        raise SearchError(f"--engine must be one of {list(ENGINES)}, got {opts.engine!r}")
    space, run_dir, meta = prepare_run(opts)
    data_cfg, train_cfg = effective_configs(space, meta)
    if meta["engine"] == "keras-tuner":
        from resnet_nas.search_kt import run_keras_tuner
        return run_keras_tuner(space, run_dir, meta, data_cfg, train_cfg, opts, out)
    study = open_study(meta, train_cfg.epochs, create=True,
                       space_text=(run_dir / RUN_SPACE).read_text())
    if opts.create_only:
        out(f"created study {meta['study']!r} in {redact(meta['storage'])}")
        return SearchSummary(run_dir, meta["study"], meta["storage"], results.load_table(run_dir))
    if opts.resume:
        n = fail_interrupted_trials(study, run_dir, meta, only_stale=False)
        if n:
            out(f"resume: marked {n} trial(s) left running by the interrupted search as failed")
    # A resumed run keeps the target it was started with unless --trials changes it.
    total = opts.trials or meta.get("trials") or space.search.trials
    if opts.resume and opts.trials and opts.trials != meta.get("trials"):
        meta["trials"] = opts.trials
        (run_dir / RUN_META).write_text(json.dumps(meta, indent=1))
    timeout = opts.timeout if opts.timeout is not None else space.search.timeout
    return run_trials(study, space, run_dir, meta, data_cfg, train_cfg, total, timeout, opts, out)


def dataset_io(data_cfg: DataConfig, seed: int) -> tuple[tuple[int, int, int], int]:
    """Input shape and class count of the data set (loads it once; data.py never imports Keras)."""
    from resnet_nas.data import load_dataset
    data = load_dataset(data_cfg, seed=seed)
    return tuple(data.input_shape), int(data.num_classes)


def run_trials(study: optuna.Study, space: SearchSpace, run_dir: Path, meta: dict[str, Any],
               data_cfg: DataConfig, train_cfg, total: int, timeout: float | None,
               opts: SearchOptions, out: Callable[[str], None],
               stop_when: Callable[[], bool] | None = None,
               control: LoopControl | None = None,
               resume_hint: str | None = None) -> SearchSummary:
    """Asks/tells trials until `control` says stop (default: `total` finished rows in the run)
    or the timeout passes.

    Each trial keeps a heartbeat from ask to tell, so a killed process leaves a trial that other
    workers find stale.
    """
    input_shape, num_classes = dataset_io(data_cfg, train_cfg.seed)
    objectives = meta["objectives"]
    single = len(objectives) == 1
    control = control or LoopControl(run_dir, meta["study"], total)
    start = time.monotonic()
    done = control.finished(study)
    progress = Progress(total, min(done, total), opts.progress)
    rejections = 0
    interrupted = False
    runner = TrialRunner(train_cfg.backend, opts.max_trials_per_worker, env=opts.worker_env)
    best: dict[str, Any] | None = _best_row(run_dir)
    trial = None
    try:
        while True:
            trial = None
            if timeout is not None and time.monotonic() - start > timeout:
                progress.write(f"timeout of {timeout:.0f}s reached; not starting new trials")
                break
            if stop_when is not None and stop_when():
                break
            action = control.next_action(study)
            if action == "stop":
                break
            if action == "wait":
                control.idle()
                continue
            trial = study.ask()
            with heartbeat(study._storage, trial._trial_id):
                surplus = control.admit(study, trial)
                if surplus:
                    _reject(study, trial, surplus)
                    continue
                trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
                try:
                    arch = sample_architecture(space, trial, input_shape=input_shape,
                                               num_classes=num_classes)
                    reasons = check_constraints(arch, space)
                except ValueError as e:  # a sample the builders would reject
                    arch, reasons = None, [str(e)]
                original = None
                if not reasons:
                    original, reasons = settle_architecture(study, trial, arch.key(), control)
                    if original is not None:
                        # before arch_key, so that no other worker takes it for a claimant
                        trial.set_user_attr("duplicate_of", original)
                        trial.set_user_attr("arch_key", arch.key())
                if reasons:
                    rejections += 1
                    _reject(study, trial, "; ".join(reasons))
                    if rejections > space.search.max_rejections:
                        raise SearchError(
                            f"{space.source}: {rejections} samples in a row were infeasible "
                            f"(last: {'; '.join(reasons)}); loosen the constraints")
                    continue
                rec = base_record(meta, trial.number, arch, train_cfg.epochs, train_cfg.seed,
                                  train_cfg.backend)
                rec["rejections"] = rejections
                rejections = 0
                try:
                    trial.set_user_attr("arch", arch.to_dict())
                    trial.set_user_attr("epochs_planned", train_cfg.epochs)
                    trial.set_user_attr("backend", train_cfg.backend)
                    if original is not None:
                        rec = _reuse(study, trial, original, rec, run_dir, meta)
                    else:
                        rec = _train_one(study, trial, arch, rec, runner, data_cfg, train_cfg,
                                         progress, objectives, single)
                except optuna.exceptions.UpdateFinishedTrialError:
                    rec.update(state="failed", reason=STALE_REASON_SELF)
            rec["finished_at"] = _now()
            results.write_record(run_dir, rec)
            trial = None
            if rec["state"] in ("complete", "duplicate"):
                if best is None or (rec.get("best_val_accuracy") or 0) > best["best_val_accuracy"]:
                    best = {"trial": rec["trial"], "best_val_accuracy": rec["best_val_accuracy"]}
            progress.trial_end(rec, best)
    except KeyboardInterrupt:
        interrupted = True
        hint = resume_hint or (f"Resume with: python -m resnet_nas search --resume --run-dir "
                               f"{run_dir}")
        progress.write(f"interrupted: the running trial is marked failed; finished trials are "
                       f"kept. {hint}")
        control.interrupted(study, trial, run_dir, meta)
    finally:
        runner.close()
        progress.close()
    return SearchSummary(run_dir, meta["study"], meta["storage"], results.write_tables(run_dir),
                         interrupted)


STALE_REASON_SELF = ("stale: another worker found no heartbeat of this trial within the grace "
                     "period and failed it; its result is not used")


def _best_row(run_dir: Path) -> dict[str, Any] | None:
    if not (run_dir / results.ROWS_DIR).exists():
        return None
    df = results.load_table(run_dir)
    df = df[df["state"].isin(["complete", "duplicate"]) & df["best_val_accuracy"].notna()]
    if df.empty:
        return None
    row = df.loc[df["best_val_accuracy"].idxmax()]
    return {"trial": int(row["trial"]), "best_val_accuracy": float(row["best_val_accuracy"])}


def _reuse(study, trial, original: int, rec, run_dir: Path, meta) -> dict[str, Any]:
    """A duplicate architecture: tell Optuna the original's outcome, train nothing.

    The original's record comes from this run's rows or, when another worker trained it, from
    the storage (user attr 'record').
    """
    orig = next(t for t in study.get_trials(deepcopy=False, states=TRAINED_STATES)
                if t.number == original)
    prev_path = results.row_path(run_dir, meta["study"], original)
    prev = None
    if prev_path.exists():
        prev = json.loads(prev_path.read_text())
    elif "record" in orig.user_attrs:
        prev = json.loads(orig.user_attrs["record"])
    if prev is not None:
        for k in ("epochs_run", "val_accuracy_curve", "val_loss_curve", "best_val_accuracy",
                  "final_val_accuracy", "final_val_loss", "images_per_second", "trainer",
                  "device", "backend"):
            rec[k] = prev.get(k)
    pruned = orig.state == TrialState.PRUNED
    rec.update(state="duplicate", reason=f"same architecture as trial {original}"
               + (" (pruned)" if pruned else ""),
               duplicate_of=original, train_seconds=0.0, compile_seconds=0.0)
    trial.set_user_attr("duplicate_of", original)
    trial.set_user_attr("record", json.dumps(results.normalise_record(rec)))
    if pruned:
        study.tell(trial, state=TrialState.PRUNED)
    else:
        study.tell(trial, orig.values)
    return rec


def _train_one(study, trial, arch: Architecture, rec, runner: TrialRunner, data_cfg, train_cfg,
               progress: Progress, objectives: list[str], single: bool) -> dict[str, Any]:
    job = Job(arch=arch.to_dict(), train=train_cfg.to_dict(), data=data_cfg.__dict__.copy())
    pruned = {"flag": False}

    def on_epoch(metrics: dict[str, Any]) -> bool:
        progress.epoch(metrics)
        if not single:
            return True
        trial.report(metrics["val_accuracy"], metrics["epoch"])
        if trial.should_prune():
            pruned["flag"] = True
            return False
        return True

    progress.trial_start(trial.number, arch, train_cfg.epochs)
    outcome = runner.run(job, on_epoch)  # run_trials keeps the trial's heartbeat
    if not outcome.ok:
        rec.update(state="failed", reason=outcome.error.strip().splitlines()[0][:500])
        trial.set_user_attr("reason", rec["reason"])
        trial.set_user_attr("record", json.dumps(results.normalise_record(rec)))
        study.tell(trial, state=TrialState.FAIL)
        return rec
    fill_from_result(rec, outcome.result)
    if outcome.result.get("diverged"):
        rec.update(state="failed", reason=outcome.result.get("reason", "diverged"))
        state = TrialState.FAIL
    elif pruned["flag"]:
        rec.update(state="pruned", reason=f"pruned by {study.pruner.__class__.__name__} after "
                   f"epoch {rec['epochs_run']}")
        state = TrialState.PRUNED
    else:
        rec.update(state="complete", reason="")
        state = TrialState.COMPLETE
    trial.set_user_attr("record", json.dumps(results.normalise_record(rec)))
    if state == TrialState.COMPLETE:
        study.tell(trial, objective_values(rec, objectives))
    else:
        study.tell(trial, state=state)
    return rec


def leaderboard(table, k: int = 10):
    """Top-k complete trials by best validation accuracy (duplicates left out)."""
    df = table[table["state"] == "complete"].sort_values("best_val_accuracy", ascending=False)
    cols = ["trial", "best_val_accuracy", "params", "flops", "epochs_run", "train_seconds",
            "unit", "arch_key"]
    return df[cols].head(k).reset_index(drop=True)


def describe_arch_json(arch_json: str) -> str:
    return Architecture.from_dict(json.loads(arch_json)).describe()
