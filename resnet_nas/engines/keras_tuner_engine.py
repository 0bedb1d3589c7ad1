"""The Keras Tuner engine: the same search space, trial flow and results table, driven by Keras
Tuner (tested with 1.4.8).

`python -m resnet_nas search SPACE --engine keras-tuner --sampler hyperband|bayesian|random`.
In the rows, `engine` is 'keras-tuner', `sampler` the tuner name and `pruner` 'none'.

How a Keras Tuner trial becomes a row
-------------------------------------
`NasTuner` (one `keras_tuner.Tuner` subclass; the oracle comes from `make_oracle`) overrides
`run_trial`, which goes through the shared flow (resnet_nas.engines.common):

1. samples an Architecture through `KerasTunerTrial(trial.hyperparameters)` (the parameter
   names an Optuna study sees) and checks the constraints: an infeasible sample raises
   `errors.FailedTrialError` (Keras Tuner records a failed trial and never proposes those values
   again), writes no row and counts as a rejection in the next row's `rejections`;
2. reuses the result of an architecture this run trained for the same number of epochs
   (state 'duplicate', same objective value returned to the oracle; not counted towards
   --trials);
3. trains the rest in the trial process; the tuner process imports keras_tuner (and with it
   Keras) but never builds a model;
4. writes one row and returns `{"val_accuracy": best}`. A failed training writes a 'failed' row
   and raises `errors.FailedTrialError`; failures never stop the search on Keras Tuner's own count.

Keras Tuner trial ids are strings; rows are numbered by a running integer (the `trial` column),
mapped in RUN_DIR/keras_tuner/resnet_nas_rows.json, and the Keras Tuner id is written into each
row's `reason` ('keras-tuner trial 07 ...').

Budgets: the oracles get no trial limit of their own (random, bayesian) and unlimited Hyperband
iterations; the search stops itself before creating a trial once the run has its --trials
counted rows, at the timeout, or when the space looks exhausted. Keras Tuner never proposes a
hyperparameter set twice, so a space with few distinct sets can end the search early (said on
the console). Hyperband trains each trial from scratch for its `tuner/epochs`
(`epochs_planned`); a promoted configuration is retrained with the larger budget, and rows of one
arch_key at several `epochs_planned` feed the report's fidelity analysis. The search seed goes
to the tuner as seed + 1 (Keras Tuner reads 0 as "no seed"). The space is declared to the
oracle up front (every parameter any sample can touch, found by sampling), so even the first
trial is a random draw. A space whose `objectives` list params or flops is still tuned on
val_accuracy alone (Keras Tuner's multi-objective mode is a weighted sum, not a Pareto search).

Resume: the project lives in RUN_DIR/keras_tuner/ and is reloaded (`overwrite=False`), so the
oracle continues with its trials, random state and brackets. A trial a stop cut short keeps its
'failed' (interrupted) row; Keras Tuner re-runs it first on resume, under a new row number.
`--storage`, `--pruner` and `--create-only` are Optuna options and are refused here.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from resnet_nas import results
from resnet_nas.config import TrainConfig
from resnet_nas.engines.base import Engine
from resnet_nas.engines.common import LoopResult, RunnerFactory, SearchContext, TrialFlow
from resnet_nas.errors import SearchError, UsageError
from resnet_nas.fileio import read_json_object, write_atomic
from resnet_nas.validation import ConfigError
from resnet_nas.interrupts import check_stop, safe_points, signal_name
from resnet_nas.nets import Architecture
from resnet_nas.quiet import import_tensorflow_quietly
from resnet_nas.run import RUN_DIR_TOKEN, Run, SearchOptions, TunerSettings
from resnet_nas.space import KerasTunerTrial, SearchSpace, sample_architecture
from resnet_nas.vocabulary import (DEFAULT_KERAS_TUNER_SAMPLER, KERAS_TUNER, KERAS_TUNER_SAMPLERS,
                                   NO_PRUNER)

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
#: The engine's 'storage': its Keras Tuner project, inside the run directory.
PROJECT_REF = f"{RUN_DIR_TOKEN}/{PROJECT_NAME}"


# ---------------------------------------------------------------------------------------------
# The engine: options and run settings (its tuners: vocabulary.KERAS_TUNER_SAMPLERS).
class KerasTunerEngine(Engine):
    """The keras-tuner engine of `search` (resnet_nas.engines.base.Engine)."""

    name = KERAS_TUNER

    def default_sampler(self, space_default: str) -> str:
        """The space's default sampler where Keras Tuner has it ('random'), else
        vocabulary.DEFAULT_KERAS_TUNER_SAMPLER."""
        return (space_default if space_default in KERAS_TUNER_SAMPLERS
                else DEFAULT_KERAS_TUNER_SAMPLER)

    def check_options(self, opts: SearchOptions) -> None:
        if opts.create_only:
            raise UsageError("--create-only", None, "creates an Optuna study for distributed "
                             "workers; the keras-tuner engine has no shared storage")
        if opts.storage:
            raise UsageError("--storage", None, "is an Optuna option; the keras-tuner engine "
                             f"keeps its state in RUN_DIR/{PROJECT_NAME}/")
        if opts.enqueue:
            raise UsageError("--enqueue", None, "is an Optuna option (Study.enqueue_trial); "
                             "the keras-tuner engine's oracles take no given trials")
        if opts.pruner not in (None, NO_PRUNER):
            raise UsageError("--pruner", opts.pruner, "is an Optuna option; with --engine "
                             "keras-tuner use --sampler hyperband for early stopping")

    def settings(self, run: Run, train: TrainConfig) -> Run:
        """The run with its tuner settings (and the project as its storage)."""
        hyperband = run.sampler == "hyperband"
        return replace(run, pruner=NO_PRUNER, storage=PROJECT_REF,
                       tuner=TunerSettings(tuner=run.sampler, objective=OBJECTIVE,
                                           seed=kt_seed(run.seed),
                                           max_epochs=train.epochs if hyperband else None,
                                           factor=HYPERBAND_FACTOR if hyperband else None))

    def default_storage(self, run_dir: Path, create_only: bool) -> str:
        return PROJECT_REF

    def resolve_storage(self, ref: str, run_dir: Path, given: str | None) -> str:
        """Where the run's Keras Tuner project is."""
        return ref.replace(RUN_DIR_TOKEN, str(run_dir.resolve()))

    def check_resumed(self, storage_url: str, run: Run, run_dir: Path,
                      rows: list[dict[str, Any]]) -> None:
        """The project must still be there: without it Keras Tuner would start a new oracle
        and propose the trials already run."""
        project = run_dir / PROJECT_NAME
        if rows and not (project / "oracle.json").is_file():
            raise SearchError(f"--resume: {project} is missing or incomplete (no oracle.json; "
                              f"the run's {len(rows)} finished trials are safe in "
                              f"{run_dir / 'rows'}): restore the Keras Tuner project, or start "
                              "a new run; nothing was changed")
        # Keras Tuner reads these only once the search runs, with errors that name no file
        for path in sorted(project.glob("*.json")) + sorted(project.glob("trial_*/trial.json")):
            what = "the Keras Tuner row map" if path.name == ROW_MAP else "a Keras Tuner file"
            data = read_json_object(path, what)
            if path.name == ROW_MAP and not all(isinstance(v, int) and not isinstance(v, bool)
                                                for v in data.values()):
                raise ConfigError(str(path), "", "a map of Keras Tuner trial ids to row numbers "
                                  "(whole numbers)", data)

    def run(self, ctx: SearchContext, resumed: bool, create_only: bool,
            out: Callable[[str], None], runner_factory: RunnerFactory | None) -> LoopResult:
        return run_keras_tuner(ctx, resumed, create_only, out, runner_factory)


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
# Row numbers.
class RowBook:
    """Keras Tuner trial id -> row number, persisted in the project.

    A trial that a stop cut short keeps its interrupted row; when Keras Tuner re-runs it after a
    resume, the re-run gets a new number (a finished row is never rewritten).
    """

    def __init__(self, run_dir: Path, study: str, flow: TrialFlow):
        self.run_dir = run_dir
        self.study = study
        self.flow = flow
        self.path = run_dir / PROJECT_NAME / ROW_MAP
        self.numbers: dict[str, int] = {}
        if self.path.exists():
            raw = read_json_object(self.path, "the Keras Tuner row map")
            self.numbers = {str(k): int(v) for k, v in raw.items()}

    def number_for(self, kt_id: str) -> int:
        """The row number of Keras Tuner trial `kt_id` (a new one is assigned and saved)."""
        number = self.numbers.get(kt_id)
        if number is None or results.row_path(self.run_dir, self.study, number).exists():
            taken = set(self.numbers.values()) | self.flow.numbers
            number = max(taken, default=-1) + 1
            self.numbers[kt_id] = number
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, json.dumps(self.numbers, indent=1, sort_keys=True))
        return number


# ---------------------------------------------------------------------------------------------
# The trials.
class _StopSearch(Exception):
    """Raised before a trial is created to end tuner.search() (target, timeout, exhausted)."""


class TrialDriver:
    """Runs Keras Tuner trials through the shared flow (see the module docstring).

    Attributes:
      stop_reason: why the search was stopped ('trials', 'timeout', 'exhausted').
      fatal: an error that must end the search (Keras Tuner would otherwise swallow it).
      current: (row number, architecture, epochs) of the trial being trained, for a stop.
    """

    def __init__(self, ctx: SearchContext, flow: TrialFlow, book: RowBook):
        self.ctx = ctx
        self.flow = flow
        self.book = book
        self.stop_reason: str | None = None
        self.fatal: BaseException | None = None
        self.current: tuple[int, Architecture, int] | None = None
        self.start = time.monotonic()

    def before_trial(self) -> None:
        check_stop()
        if self.flow.done:
            self.stop_reason = "trials"
        elif self.ctx.timeout is not None and time.monotonic() - self.start > self.ctx.timeout:
            self.stop_reason = "timeout"
        elif self.flow.exhausted:
            self.stop_reason = "exhausted"
        if self.stop_reason:
            raise _StopSearch()

    def run_trial(self, trial) -> dict[str, float]:
        from keras_tuner import errors

        try:
            return self._run_trial(trial)
        except errors.FailedTrialError:
            raise
        except Exception as e:  # a bug or a SearchError: Keras Tuner must not swallow it
            self.fatal = e
            raise errors.FatalError(f"{type(e).__name__}: {e}") from e

    def _run_trial(self, trial) -> dict[str, float]:
        from keras_tuner import errors

        sample = self.flow.sample(KerasTunerTrial(trial.hyperparameters))
        if not sample.feasible:
            raise errors.FailedTrialError("infeasible: " + "; ".join(sample.reasons))
        values = trial.hyperparameters.values
        epochs = int(values.get("tuner/epochs", self.ctx.train.epochs))
        number = self.book.number_for(trial.trial_id)
        tag = self._tag(trial, epochs)
        rec = self.flow.record(number, sample.arch, epochs)
        original = self.flow.original(sample.arch.key(), epochs)
        if original is not None:
            rec = self.flow.reuse(rec, original, tag)
        else:
            self.current = (number, sample.arch, epochs)
            rec = self.flow.train(rec, sample.arch, epochs, note=tag)
            self.current = None
        rec = self.flow.finish(rec)
        if rec.state == "failed":
            raise errors.FailedTrialError(rec.reason)
        return {OBJECTIVE: float(rec.best_val_accuracy)}

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

    def record_interrupted(self) -> None:
        if self.current is not None:
            number, arch, epochs = self.current
            self.flow.interrupted(number, arch, epochs,
                                  "the search stopped while it ran (re-run on --resume)")
            self.current = None


def _oracles() -> dict[str, type]:
    import keras_tuner

    return {"random": keras_tuner.oracles.RandomSearchOracle,
            "bayesian": keras_tuner.oracles.BayesianOptimizationOracle,
            "hyperband": keras_tuner.oracles.HyperbandOracle}


def make_oracle(name: str, seed: int, max_epochs: int, hyperparameters) -> Any:
    """The oracle of tuner `name`, with no budget of its own (the driver stops the search)."""
    import keras_tuner

    common = dict(objective=keras_tuner.Objective(OBJECTIVE, "max"), seed=kt_seed(seed),
                  hyperparameters=hyperparameters, max_retries_per_trial=0,
                  max_consecutive_failed_trials=MAX_CONSECUTIVE_FAILED)
    if name == "hyperband":
        return _oracles()[name](max_epochs=max_epochs, factor=HYPERBAND_FACTOR,
                                hyperband_iterations=None, **common)
    return _oracles()[name](max_trials=None, **common)


def tuner_class() -> type:
    """`NasTuner`, defined on first use (importing keras_tuner imports Keras)."""
    import keras_tuner

    class NasTuner(keras_tuner.Tuner):
        """A Keras Tuner tuner whose trials are resnet_nas architectures, trained in the trial
        process (see resnet_nas.engines.keras_tuner_engine)."""

        def __init__(self, driver: TrialDriver, **kwargs):
            self.driver = driver
            super().__init__(hypermodel=None, **kwargs)

        def pre_create_trial(self):
            self.driver.before_trial()

        def run_trial(self, trial, *args, **kwargs):
            return self.driver.run_trial(trial)

        def load_model(self, trial):
            raise NotImplementedError("resnet_nas trains in trial processes and keeps no "
                                      "models; export the trial and retrain it (python -m "
                                      "resnet_nas export / train)")

    return NasTuner


class _Sink(io.TextIOBase):
    """A stream that drops what it is given."""

    def write(self, text: str) -> int:
        return len(text)


def run_keras_tuner(ctx: SearchContext, resumed: bool, create_only: bool,
                    out: Callable[[str], None], runner_factory: RunnerFactory | None = None
                    ) -> LoopResult:
    """Runs (or resumes) the search of the run with Keras Tuner."""
    if os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow":
        import_tensorflow_quietly()  # keras_tuner imports it here, in the search process
    from keras_tuner import errors

    project = ctx.run_dir / PROJECT_NAME
    tuner_name = ctx.run.sampler
    if list(ctx.run.objectives) != [OBJECTIVE]:
        out(f"note: Keras Tuner optimises {OBJECTIVE} only; objectives "
            f"{list(ctx.run.objectives)} are recorded as columns but not searched")
    with TrialFlow(ctx, runner_factory) as flow:
        book = RowBook(ctx.run_dir, ctx.run.study, flow)
        driver = TrialDriver(ctx, flow, book)
        reloading = (project / "oracle.json").exists()
        declared = declare_hyperparameters(ctx.space, ctx.io.input_shape, ctx.io.num_classes,
                                           ctx.run.seed)
        oracle = make_oracle(tuner_name, ctx.run.seed, ctx.train.epochs, declared)
        with contextlib.redirect_stdout(_Sink()):  # "Reloading Tuner from ..."
            tuner = tuner_class()(driver, oracle=oracle, directory=str(ctx.run_dir),
                                  project_name=PROJECT_NAME, overwrite=False)
        oracle.verbose = 0
        if reloading:
            flow.progress.write(f"resume: reloaded the Keras Tuner project {project} "
                                f"({len(oracle.trials)} Keras Tuner trials)")
        try:
            # Keras Tuner prints the traceback of every failed trial on stderr; the rows say
            # why. (The progress display keeps the stream it was given.)
            with contextlib.redirect_stderr(_Sink()), safe_points():
                tuner.search(verbose=0)
        except _StopSearch:
            pass
        except errors.FatalError:
            if driver.fatal is not None:
                raise driver.fatal from None
            raise
        except KeyboardInterrupt as e:
            driver.record_interrupted()
            return LoopResult(interrupted=signal_name(e), ran=dict(flow.tally.here))
        note = None
        if driver.stop_reason == "timeout":
            note = f"timeout of {ctx.timeout:g}s reached; not starting new trials"
        elif driver.stop_reason == "exhausted":
            note = (f"stopped early: the last {flow.duplicates_in_a_row} samples were all "
                    "architectures trained already (the space looks exhausted)")
        elif driver.stop_reason is None and not flow.done:
            note = (f"the {tuner_name} oracle stopped after {flow.tally.counted} of "
                    f"{ctx.target} trials: it has no untried hyperparameter values left (Keras "
                    "Tuner never repeats a set)")
        return LoopResult(note=note, ran=dict(flow.tally.here))
