"""The Keras Tuner engine: the same search space and results table, driven by Keras Tuner.

`python -m resnet_nas search SPACE --engine keras-tuner --sampler hyperband|bayesian|random`
runs the space through Keras Tuner (tested with 1.4.8) instead of Optuna. The run directory, the
trial worker and the row schema are the ones the Optuna engine uses, so both engines' runs load
into one table (`results.load_tables`). In the rows, `engine` is 'keras-tuner', `sampler` is the
tuner name and `pruner` is 'none'.

How a Keras Tuner trial becomes a row
-------------------------------------
The tuners are subclassed with `run_trial` overridden and no hypermodel. `run_trial`:

1. samples an Architecture through `KerasTunerTrial(trial.hyperparameters)`, i.e. with the same
   parameter names an Optuna study sees;
2. checks the space's constraints: an infeasible sample raises `FailedTrialError` (Keras Tuner
   records a failed trial and its oracle never proposes those values again), writes no row, and
   counts as a rejection in the next row's `rejections`; more than `search.max_rejections` in a
   row stops the search with a SearchError. Rejections do not use up `--trials`;
3. reuses the recorded result of an architecture already trained in this run for the same number
   of epochs (state 'duplicate', same objective value returned to the oracle);
4. otherwise trains it in the recycled `TrialRunner` worker subprocess. The tuner process imports
   keras_tuner (and with it Keras) but never builds a model;
5. writes one row and returns `{"val_accuracy": best}` (objective val_accuracy, max). Failed
   training (worker error, divergence) writes a 'failed' row and then raises `FailedTrialError`;
   `max_consecutive_failed_trials` is set so high that failures never stop the search.

Keras Tuner trial ids are strings ('00', '01', ...). Rows are numbered by a running integer (the
`trial` column); the mapping lives in RUN_DIR/keras_tuner/resnet_nas_rows.json and the Keras
Tuner id is also written into each row's `reason` ('keras-tuner trial 07 ...'), so no schema
column is added.

Tuners and budgets
------------------
- random / bayesian: `--trials` is the oracle's `max_trials`, raised by one for every rejected
  sample, so a run ends with `--trials` rows. Keras Tuner never repeats a hyperparameter set,
  so a space with few distinct sets can end the search early (said on the console);
  hyperparameters that do not affect the network (a stage beyond `num_stages`, a width
  multiplier that rounds away) still give duplicate architectures. A space without any free
  parameter gives the oracle nothing to propose: random/bayesian run one trial, hyperband none.
- hyperband: `max_epochs` is the train config's epochs, `factor` 3. Keras Tuner's Hyperband has
  no trial limit; its budget is `hyperband_iterations` full sweeps over its brackets. The search starts with
  enough iterations for `--trials` rows (`hyperband_trials_per_iteration`), adds iterations
  while rows are missing (rejected samples leave holes in brackets), and stops once `--trials`
  rows exist, possibly in the middle of a bracket. Each trial trains a fresh model for
  `tuner/epochs` epochs (`epochs_planned`); Keras Tuner's checkpoint resume between brackets is
  not used (models never exist in the tuner process), so a promoted configuration is retrained
  from scratch with the larger budget. Rows of one arch_key at several `epochs_planned` feed the
  report's fidelity analysis. Continuations say which trial they promote in `reason`.
- The search seed goes to the tuner as seed + 1: Keras Tuner treats seed 0 as "no seed".
- The space is declared to the oracle up front (every parameter any sample can touch,
  found by sampling; Keras Tuner's conditional scopes are not used), so even the first trial is
  a random draw and Bayesian optimisation sees the whole space.
- A space whose `objectives` list params or flops is still tuned on val_accuracy alone (Keras
  Tuner's multi-objective mode is a weighted sum, not a Pareto search); the columns are recorded.
- `--timeout` stops starting new trials after that many seconds, as with Optuna.

Resume
------
Keras Tuner's project lives in RUN_DIR/keras_tuner/ and is created with `overwrite=False`, so
`--resume` reloads the oracle (its trials, random state and Hyperband brackets) and continues up
to `--trials` rows (without `--trials`: the target the run was started with, kept in
run.json). A trial interrupted by Ctrl-C gets a 'failed' row ('interrupted'); Keras Tuner
re-runs it first on resume, and its row is replaced under the same number. `--storage`,
`--pruner` and `--create-only` are Optuna options and are refused for this engine.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from resnet_nas import results
from resnet_nas.config import DataConfig, TrainConfig
from resnet_nas.nets import Architecture
from resnet_nas.space import KerasTunerTrial, SearchSpace, check_constraints, sample_architecture
from resnet_nas.worker import Job, TrialRunner

#: Keras Tuner tuners this engine offers (the `--sampler` values for `--engine keras-tuner`).
TUNERS = ("bayesian", "hyperband", "random")
#: Tuner used when the space's default sampler is an Optuna one that Keras Tuner lacks.
DEFAULT_TUNER = "bayesian"
PROJECT_NAME = "keras_tuner"
ROW_MAP = "resnet_nas_rows.json"
OBJECTIVE = "val_accuracy"
HYPERBAND_FACTOR = 3
#: Failures are recorded as rows and must never end the search on Keras Tuner's own count.
MAX_CONSECUTIVE_FAILED = 10**9
#: Sampling rounds used to discover the space's parameters, and how many rounds without a new
#: parameter end the discovery early.
DECLARE_DRAWS = 2000
DECLARE_PATIENCE = 200


# ---------------------------------------------------------------------------------------------
# Options.
def resolve_tuner(requested: str | None, space_default: str) -> str:
    """The Keras Tuner tuner to use.

    Args:
      requested: `--sampler` as given (None when not given).
      space_default: the space file's `search.sampler` (an Optuna sampler name).

    Returns:
      One of TUNERS: the requested one, else the space's default where Keras Tuner has it
      ('random'), else DEFAULT_TUNER.

    Raises:
      SearchError: `requested` is not one of TUNERS.
    """
    from resnet_nas.search import SAMPLERS, SearchError

    if requested is None:
        return space_default if space_default in TUNERS else DEFAULT_TUNER
    if requested not in TUNERS:
        hint = (f" ({requested!r} is an Optuna sampler; use --engine optuna for it)"
                if requested in SAMPLERS else "")
        raise SearchError(f"--sampler for --engine keras-tuner must be one of {list(TUNERS)}, "
                          f"got {requested!r}{hint}")
    return requested


def kt_seed(seed: int) -> int:
    """The seed handed to Keras Tuner: seed + 1, because its oracles treat 0 as 'unseeded'."""
    return int(seed) + 1


def hyperband_trials_per_iteration(max_epochs: int, factor: int = HYPERBAND_FACTOR) -> int:
    """Trials in one full Hyperband iteration of Keras Tuner's HyperbandOracle.

    Mirrors keras_tuner.oracles.HyperbandOracle (1.4.x): brackets b = 0 .. B-1 with
    B = number of times max_epochs can be divided by `factor` while staying >= 1; bracket b
    has rounds r = 0 .. b of ceil(ceil(1 + log_factor(max_epochs)) / (b + 1) * factor^(b - r))
    trials each.
    """
    if max_epochs < 1 or factor < 2:
        raise ValueError(f"expected max_epochs >= 1 and factor >= 2, found {max_epochs}, "
                         f"{factor}")
    brackets, epochs = 0, float(max_epochs)
    while epochs >= 1:
        epochs /= factor
        brackets += 1
    end_size = math.ceil(1 + math.log(max_epochs, factor))
    return sum(math.ceil(end_size / (b + 1) * factor ** (b - r))
               for b in range(brackets) for r in range(b + 1))


def declare_hyperparameters(space: SearchSpace, input_shape: tuple[int, int, int],
                            num_classes: int, seed: int, draws: int = DECLARE_DRAWS,
                            patience: int = DECLARE_PATIENCE):
    """Every Keras Tuner hyperparameter that sampling `space` can register.

    Sampling is define-by-run, so which parameters exist depends on earlier values (more stages
    add stage parameters, bottleneck units add ratios). The space is sampled with random values
    for the parameters known so far until `patience` draws in a row add nothing. Pure Python
    and seeded: the same space and seed declare the same space.

    Returns:
      keras_tuner.HyperParameters with every parameter registered (values empty).
    """
    import keras_tuner

    declared = keras_tuner.HyperParameters()
    names: set[str] = set()
    rng = random.Random(seed)
    quiet = 0
    for _ in range(draws):
        hp = declared.copy()
        hp.values = {p.name: p.random_sample(rng.randrange(2**31)) for p in declared.space}
        try:
            sample_architecture(space, KerasTunerTrial(hp), input_shape=input_shape,
                                num_classes=num_classes)
        except ValueError:
            pass  # an unbuildable sample still registered the parameters it drew
        new = [p for p in hp.space if p.name not in names]
        if new:
            declared.merge(new)
            names.update(p.name for p in new)
            quiet = 0
        else:
            quiet += 1
            if quiet >= patience:
                break
    return declared


# ---------------------------------------------------------------------------------------------
# Row numbers and what this run has trained.
class RowBook:
    """Keras Tuner trial id -> row number (persisted), and the trained architectures.

    Args:
      run_dir: the run directory.
      study: the run's study name (row file prefix).
    """

    def __init__(self, run_dir: Path, study: str):
        self.run_dir = run_dir
        self.study = study
        self.path = run_dir / PROJECT_NAME / ROW_MAP
        self.numbers: dict[str, int] = (json.loads(self.path.read_text())
                                        if self.path.exists() else {})
        #: (arch_key, epochs_planned) -> row number of a complete trial.
        self.trained: dict[tuple[str, int], int] = {}
        for row in self._rows():
            if row.get("state") == "complete" and row.get("arch_key"):
                self.trained.setdefault((row["arch_key"], int(row["epochs_planned"])),
                                        int(row["trial"]))

    def _rows(self) -> list[dict[str, Any]]:
        rows_dir = self.run_dir / results.ROWS_DIR
        return [json.loads(p.read_text()) for p in sorted(rows_dir.glob(f"{self.study}--*.json"))]

    def row_count(self) -> int:
        return len(list((self.run_dir / results.ROWS_DIR).glob(f"{self.study}--*.json")))

    def number_for(self, kt_id: str) -> int:
        """The row number of Keras Tuner trial `kt_id` (a new one is assigned and saved)."""
        if kt_id not in self.numbers:
            taken = set(self.numbers.values())
            taken.update(int(p.stem.rsplit("--", 1)[1]) for p in
                         (self.run_dir / results.ROWS_DIR).glob(f"{self.study}--*.json"))
            self.numbers[kt_id] = max(taken, default=-1) + 1
            self._save()
        return self.numbers[kt_id]

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(self.numbers, f, indent=1, sort_keys=True)
        os.replace(tmp, self.path)

    def row(self, number: int) -> dict[str, Any] | None:
        path = results.row_path(self.run_dir, self.study, number)
        return json.loads(path.read_text()) if path.exists() else None


# ---------------------------------------------------------------------------------------------
# The trial logic the tuner subclasses delegate to.
class _StopSearch(Exception):
    """Raised from pre_create_trial to end tuner.search() (budget or timeout reached)."""


@dataclass
class TrialDriver:
    """Runs Keras Tuner trials as resnet_nas trials (see the module docstring).

    Attributes:
      total: rows wanted in the run (`--trials`).
      timeout: seconds after which no new trial starts (None: no limit).
      fatal: an error that must end the search (set before a keras_tuner FatalError is raised,
        and re-raised by run_keras_tuner).
      current: (row number, architecture, epochs) of the trial being trained, for Ctrl-C.
    """

    space: SearchSpace
    run_dir: Path
    meta: dict[str, Any]
    data_cfg: DataConfig
    train_cfg: TrainConfig
    input_shape: tuple[int, int, int]
    num_classes: int
    runner: TrialRunner
    book: RowBook
    progress: Any  # resnet_nas.search.Progress
    total: int
    timeout: float | None
    best: dict[str, Any] | None = None
    rejections: int = 0
    stop_reason: str | None = None
    fatal: BaseException | None = None
    current: tuple[int, Architecture, int] | None = None
    start: float = field(default_factory=time.monotonic)
    oracle: Any = None

    # -- hooks --------------------------------------------------------------------------------
    def before_trial(self) -> None:
        """Ends the search once `total` rows exist or the timeout has passed."""
        # After a resume Keras Tuner first re-runs the trial Ctrl-C stopped (its retry queue);
        # that replaces the trial's own 'interrupted' row, so it runs even when `total` rows
        # exist already.
        retrying = bool(getattr(self.oracle, "_retry_queue", None))
        if self.book.row_count() >= self.total and not retrying:
            self.stop_reason = "trials"
            raise _StopSearch()
        if self.timeout is not None and time.monotonic() - self.start > self.timeout:
            self.stop_reason = "timeout"
            raise _StopSearch()
        if hasattr(self.oracle, "hyperband_iterations"):
            # The last bracket of the last iteration would end the search; add an iteration
            # while rows are missing (KT 1.4.x HyperbandOracle attributes).
            current = self.oracle._current_iteration
            self.oracle.hyperband_iterations = max(self.oracle.hyperband_iterations,
                                                   current + 2)

    def run_trial(self, trial) -> dict[str, float]:
        from keras_tuner import errors

        try:
            return self._run_trial(trial)
        except errors.FailedTrialError:
            raise
        except Exception as e:  # a bug or a SearchError: Keras Tuner must not swallow it
            self.fatal = e
            raise errors.FatalError(f"{type(e).__name__}: {e}") from e

    # -- one trial ----------------------------------------------------------------------------
    def _run_trial(self, trial) -> dict[str, float]:
        from keras_tuner import errors

        from resnet_nas.records import _now, base_record
        from resnet_nas.search import SearchError

        values = trial.hyperparameters.values
        try:
            arch = sample_architecture(self.space, KerasTunerTrial(trial.hyperparameters),
                                       input_shape=self.input_shape,
                                       num_classes=self.num_classes)
            reasons = check_constraints(arch, self.space)
        except ValueError as e:  # a sample the builders would reject
            arch, reasons = None, [str(e)]
        if reasons:
            self.rejections += 1
            if self.rejections > self.space.search.max_rejections:
                raise SearchError(
                    f"{self.space.source}: {self.rejections} samples in a row were infeasible "
                    f"(last: {'; '.join(reasons)}); loosen the constraints")
            if self.oracle.max_trials:
                self.oracle.max_trials += 1  # rejected samples do not use up --trials
            raise errors.FailedTrialError("infeasible: " + "; ".join(reasons))

        epochs = int(values.get("tuner/epochs", self.train_cfg.epochs))
        number = self.book.number_for(trial.trial_id)
        tag = self._tag(trial, epochs)
        rec = base_record(self.meta, number, arch, epochs, self.train_cfg.seed,
                          self.train_cfg.backend)
        rec["rejections"] = self.rejections
        self.rejections = 0
        original = self.book.trained.get((arch.key(), epochs))
        if original is not None and original != number:
            self._reuse(rec, original, tag)
        else:
            self.current = (number, arch, epochs)
            self._train(rec, arch, epochs, tag)
            self.current = None
        rec["finished_at"] = _now()
        results.write_record(self.run_dir, rec)
        if rec["state"] == "complete":
            self.book.trained.setdefault((arch.key(), epochs), number)
        if rec["state"] in ("complete", "duplicate"):
            acc = rec["best_val_accuracy"]
            if self.best is None or acc > self.best["best_val_accuracy"]:
                self.best = {"trial": number, "best_val_accuracy": acc}
        self.progress.trial_end(rec, self.best)
        if rec["state"] == "failed":
            raise errors.FailedTrialError(rec["reason"])
        return {OBJECTIVE: float(rec["best_val_accuracy"])}

    def _tag(self, trial, epochs: int) -> str:
        values = trial.hyperparameters.values
        tag = f"keras-tuner trial {trial.trial_id}"
        if "tuner/bracket" in values:
            tag += (f", hyperband bracket {values['tuner/bracket']} round "
                    f"{values['tuner/round']}, {epochs} epochs from scratch")
            parent = values.get("tuner/trial_id")
            if parent is not None:
                tag += f", promotes trial {self.book.numbers.get(parent, parent)}"
        return tag

    def _reuse(self, rec: dict[str, Any], original: int, tag: str) -> None:
        prev = self.book.row(original) or {}
        for k in ("epochs_run", "val_accuracy_curve", "val_loss_curve", "best_val_accuracy",
                  "final_val_accuracy", "final_val_loss", "images_per_second", "trainer",
                  "device", "backend"):
            rec[k] = prev.get(k)
        rec.update(state="duplicate", duplicate_of=original, train_seconds=0.0,
                   compile_seconds=0.0,
                   reason=f"same architecture and epochs as trial {original} [{tag}]")

    def _train(self, rec: dict[str, Any], arch: Architecture, epochs: int, tag: str) -> None:
        from resnet_nas.records import fill_from_result

        train = replace(self.train_cfg, epochs=epochs)
        job = Job(arch=arch.to_dict(), train=train.to_dict(), data=self.data_cfg.__dict__.copy())

        def on_epoch(metrics: dict[str, Any]) -> bool:
            self.progress.epoch(metrics)
            return True  # no pruning: Hyperband's budgets are the early stopping here

        self.progress.trial_start(rec["trial"], arch, epochs)
        outcome = self.runner.run(job, on_epoch)
        if not outcome.ok:
            first = (outcome.error.strip().splitlines() or ["worker error"])[0][:500]
            rec.update(state="failed", reason=f"{first} [{tag}]")
            return
        fill_from_result(rec, outcome.result)
        if outcome.result.get("diverged"):
            rec.update(state="failed",
                       reason=f"{outcome.result.get('reason', 'diverged')} [{tag}]")
        elif rec.get("best_val_accuracy") is None:
            rec.update(state="failed", reason=f"no validation accuracy reported [{tag}]")
        else:
            rec.update(state="complete", reason=tag)

    def record_interrupted(self) -> None:
        """Writes a 'failed' row for the trial Ctrl-C stopped (its retry replaces it)."""
        if self.current is None:
            return
        from resnet_nas.records import _now, base_record

        number, arch, epochs = self.current
        rec = base_record(self.meta, number, arch, epochs, self.train_cfg.seed,
                          self.train_cfg.backend)
        rec.update(state="failed", finished_at=_now(),
                   reason="interrupted: the search stopped while it ran (re-run on --resume)")
        results.write_record(self.run_dir, rec)
        self.current = None


# ---------------------------------------------------------------------------------------------
# Tuner classes (built lazily: importing keras_tuner imports Keras).
_TUNER_CLASSES: dict[str, type] = {}


def tuner_class(name: str) -> type:
    """The resnet_nas subclass of the Keras Tuner tuner `name` (one of TUNERS)."""
    if name in _TUNER_CLASSES:
        return _TUNER_CLASSES[name]
    import keras_tuner

    base = {"random": keras_tuner.RandomSearch, "bayesian": keras_tuner.BayesianOptimization,
            "hyperband": keras_tuner.Hyperband}[name]

    def __init__(self, driver: TrialDriver, **kwargs):
        self._driver = driver
        base.__init__(self, hypermodel=None, **kwargs)

    def pre_create_trial(self):
        self._driver.before_trial()

    def run_trial(self, trial, *args, **kwargs):
        return self._driver.run_trial(trial)

    def load_model(self, trial):
        raise NotImplementedError("resnet_nas trains in worker processes and keeps no models; "
                                  "export the trial and retrain it (python -m resnet_nas "
                                  "export / train)")

    cls = type(f"ResnetNas{base.__name__}", (base,), {
        "__init__": __init__, "pre_create_trial": pre_create_trial, "run_trial": run_trial,
        "load_model": load_model,
        "__doc__": f"{base.__name__} whose trials are resnet_nas architectures trained in a "
                   "worker process (see resnet_nas.search_kt)."})
    _TUNER_CLASSES[name] = cls
    return cls


@contextlib.contextmanager
def _quiet_keras_tuner():
    """Keras Tuner prints the traceback of every failed trial (config.DEBUG); rows say why."""
    try:
        from keras_tuner.src import config as kt_config
    except ImportError:  # another layout: leave its defaults alone
        yield
        return
    before = kt_config.DEBUG
    kt_config.DEBUG = False
    try:
        yield
    finally:
        kt_config.DEBUG = before


def make_tuner(name: str, driver: TrialDriver, run_dir: Path, seed: int, max_epochs: int,
               hyperparameters) -> Any:
    """Creates (or, when RUN_DIR/keras_tuner exists, reloads) the tuner."""
    import keras_tuner

    common = dict(objective=keras_tuner.Objective(OBJECTIVE, "max"), seed=kt_seed(seed),
                  hyperparameters=hyperparameters, directory=str(run_dir),
                  project_name=PROJECT_NAME, overwrite=False,
                  max_retries_per_trial=0,
                  max_consecutive_failed_trials=MAX_CONSECUTIVE_FAILED)
    if name == "hyperband":
        per_iteration = hyperband_trials_per_iteration(max_epochs)
        return tuner_class(name)(driver, max_epochs=max_epochs, factor=HYPERBAND_FACTOR,
                                 hyperband_iterations=max(1, math.ceil(driver.total /
                                                                       per_iteration)),
                                 **common)
    return tuner_class(name)(driver, max_trials=driver.total, **common)


# ---------------------------------------------------------------------------------------------
# The engine.
def _validate_options(opts, meta: dict[str, Any], space: SearchSpace) -> str:
    from resnet_nas.search import SearchError

    if opts.create_only:
        raise SearchError("--create-only creates an Optuna study for distributed workers; the "
                          "keras-tuner engine has no shared storage")
    if opts.storage:
        raise SearchError("--storage is an Optuna option; the keras-tuner engine keeps its "
                          f"state in RUN_DIR/{PROJECT_NAME}/")
    if opts.pruner not in (None, "none"):
        raise SearchError(f"--pruner {opts.pruner} is an Optuna option; with --engine "
                          "keras-tuner use --sampler hyperband for early stopping")
    if opts.resume:
        saved = meta.get("sampler")
        if saved in TUNERS:
            if opts.sampler is not None and opts.sampler != saved:
                raise SearchError(f"--resume: this run uses the {saved!r} tuner; it cannot "
                                  f"continue with --sampler {opts.sampler}")
            return saved
    return resolve_tuner(opts.sampler, space.search.sampler)


def _forget_new_run(run_dir: Path) -> None:
    """Removes what prepare_run wrote for a run that failed validation before any trial."""
    from resnet_nas.search import RUN_META, RUN_SPACE

    for name in (RUN_META, RUN_SPACE):
        with contextlib.suppress(FileNotFoundError):
            (run_dir / name).unlink()
    with contextlib.suppress(OSError):
        run_dir.rmdir()  # only when nothing else is in it


def run_keras_tuner(space: SearchSpace, run_dir: Path, meta: dict[str, Any],
                    data_cfg: DataConfig, train_cfg: TrainConfig, opts,
                    out: Callable[[str], None] = print):
    """Runs (or resumes) the search of `space` with Keras Tuner; returns the SearchSummary.

    Args:
      space, run_dir, meta: from resnet_nas.search.prepare_run (meta is updated: tuner name
        as sampler, pruner 'none', the project directory as storage).
      data_cfg, train_cfg: the run's effective configs.
      opts: the SearchOptions (trials, timeout, resume, sampler, progress, worker settings).
      out: where one-line messages go.

    Raises:
      SearchError: bad options for this engine (a new run directory is then removed again),
        or too many infeasible samples in a row.
      KeyboardInterrupt is handled as in the Optuna engine (summary.interrupted).
    """
    from resnet_nas.progress import Progress
    from resnet_nas.search import RUN_META, SearchError, SearchSummary, _best_row, dataset_io

    try:
        tuner_name = _validate_options(opts, meta, space)
    except SearchError:
        if not opts.resume and not (run_dir / results.ROWS_DIR).exists():
            _forget_new_run(run_dir)
        raise
    project = run_dir / PROJECT_NAME
    # --trials, else the run's own target (a resume without --trials finishes the run), else
    # the space's default.
    total = opts.trials or meta.get("trials") or space.search.trials
    meta.update(sampler=tuner_name, pruner="none", storage=str(project.resolve()), trials=total,
                keras_tuner={"tuner": tuner_name, "objective": OBJECTIVE,
                             "seed": kt_seed(meta["seed"]),
                             **({"max_epochs": train_cfg.epochs, "factor": HYPERBAND_FACTOR}
                                if tuner_name == "hyperband" else {})})
    (run_dir / RUN_META).write_text(json.dumps(meta, indent=1))
    if meta["objectives"] != [OBJECTIVE]:
        out(f"note: Keras Tuner optimises {OBJECTIVE} only; objectives {meta['objectives']} "
            "are recorded as columns but not searched")

    timeout = opts.timeout if opts.timeout is not None else space.search.timeout
    input_shape, num_classes = dataset_io(data_cfg, train_cfg.seed)
    book = RowBook(run_dir, meta["study"])
    done = book.row_count()
    progress = Progress(total, min(done, total), opts.progress)
    runner = TrialRunner(train_cfg.backend, opts.max_trials_per_worker, env=opts.worker_env)
    driver = TrialDriver(space=space, run_dir=run_dir, meta=meta, data_cfg=data_cfg,
                         train_cfg=train_cfg, input_shape=input_shape, num_classes=num_classes,
                         runner=runner, book=book, progress=progress, total=total,
                         timeout=timeout, best=_best_row(run_dir))
    interrupted = False
    try:
        reloading = (project / "oracle.json").exists()
        declared = declare_hyperparameters(space, input_shape, num_classes, meta["seed"])
        with contextlib.redirect_stdout(io.StringIO()):  # "Reloading Tuner from ..."
            tuner = make_tuner(tuner_name, driver, run_dir, meta["seed"], train_cfg.epochs,
                               declared)
        oracle = tuner.oracle
        oracle.verbose = 0
        driver.oracle = oracle
        if reloading:
            out(f"resume: reloaded the Keras Tuner project {project} "
                f"({len(oracle.trials)} trials, {done} rows)")
        if oracle.max_trials:
            # Rejected samples (Keras Tuner trials without a row) do not count against --trials.
            oracle.max_trials = total + sum(1 for t in oracle.trials if t not in book.numbers)
        try:
            with _quiet_keras_tuner():
                tuner.search(verbose=0)
        except _StopSearch:
            pass
        except Exception:
            if driver.fatal is not None:
                raise driver.fatal from None
            raise
        if driver.stop_reason == "timeout":
            progress.write(f"timeout of {timeout:.0f}s reached; not starting new trials")
        elif book.row_count() < total and driver.stop_reason is None:
            progress.write(f"the {tuner_name} oracle stopped after {book.row_count()} of {total} "
                           "rows: it has no untried hyperparameter values left (Keras Tuner "
                           "never repeats a set)")
    except KeyboardInterrupt:
        interrupted = True
        driver.record_interrupted()
        progress.write("interrupted: the running trial is marked failed (Keras Tuner re-runs it "
                       "on resume); finished trials are kept. Resume with: python -m resnet_nas "
                       f"search --resume --run-dir {run_dir}")
    finally:
        runner.close()
        progress.close()
    table = (results.write_tables(run_dir) if (run_dir / results.ROWS_DIR).exists()
             else results.load_table(run_dir))
    return SearchSummary(run_dir, meta["study"], meta["storage"], table, interrupted)
