"""The search's vocabulary, defined once: the names a search option takes (engines, samplers per
engine, pruners, objectives, Keras backends, stale-trial policies), the range of every number
an option or a space file gives, and the search's defaults.

Everything else imports from here: the command line (its help and metavars), the one check of
each option (`check_option`, called by SearchOptions.validate and WorkerOptions.validate), the
space schema, run.json's reader, the benchmark's command line and the engines. This module
imports nothing of resnet_nas but its errors and validation's did_you_mean (modules that
import nothing of it), so every layer may use it.
tests/test_vocabulary.py fails when one of these limits or lists of names is written out again
elsewhere.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from resnet_nas.errors import UsageError
from resnet_nas.validation import did_you_mean


@dataclass(frozen=True)
class IntRange:
    """Whole numbers from `low` to `high` (both included).

    Attributes:
      why: the reason for a bound a user would not guess, said in the error message.
    """

    low: int
    high: int
    why: str = ""

    def __contains__(self, value: object) -> bool:
        return (isinstance(value, int) and not isinstance(value, bool)
                and self.low <= value <= self.high)

    @property
    def expected(self) -> str:
        """What an error message says is expected: 'an integer from 1 to 1000000'."""
        return f"an integer from {self.low} to {self.high}" + (f" ({self.why})" if self.why
                                                                else "")


@dataclass(frozen=True)
class Seconds:
    """A number of seconds greater than 0 and at most `high` (NaN and infinity refused)."""

    high: float

    def __contains__(self, value: object) -> bool:
        return (isinstance(value, (int, float)) and not isinstance(value, bool)
                and math.isfinite(value) and 0 < value <= self.high)

    @property
    def expected(self) -> str:
        return f"a number of seconds > 0 and <= {self.high:g}"


# ---------------------------------------------------------------------------------------------
# Limits. Every number a user gives has a finite range, so that no value can overflow a
# storage column, a loop or a table further on.
MAX_TRIALS = 1_000_000
MAX_TIMEOUT = 1e9  # seconds (31 years)
#: The smallest TPE history: below TPE's 10 start-up trials it would only ever sample at random.
MIN_SAMPLER_HISTORY = 10
MAX_SEED = 2**32 - 1  # a 32-bit seed
MAX_EPOCHS = 100_000
MAX_EXAMPLES = 10**9

#: The range of each option (the flag names them; a space file's key has the same range).
TRIALS = IntRange(1, MAX_TRIALS)
SAMPLER_HISTORY = IntRange(MIN_SAMPLER_HISTORY, MAX_TRIALS,
                           why=f"TPE samples at random for its first {MIN_SAMPLER_HISTORY} trials")
TIMEOUT = Seconds(MAX_TIMEOUT)
SEED = IntRange(0, MAX_SEED)
EPOCHS = IntRange(1, MAX_EPOCHS)
EXAMPLES = IntRange(1, MAX_EXAMPLES)
TRIALS_PER_PROCESS = IntRange(1, MAX_TRIALS)  # --max-trials-per-worker
# A worker's own options.
PROCESSES_PER_GPU = IntRange(1, 64)
WORKER_PROCESSES = IntRange(1, 256)
HEARTBEAT_SECONDS = IntRange(1, 3600)  # --heartbeat-interval
GRACE_SECONDS = IntRange(2, 86_400)  # --grace-period

# ---------------------------------------------------------------------------------------------
# Names.
OPTUNA = "optuna"
KERAS_TUNER = "keras-tuner"
ENGINE_NAMES = (OPTUNA, KERAS_TUNER)
#: Study samplers of the Optuna engine (a space file's `search.sampler`). Grid search is left
#: out on purpose: define-by-run spaces (stage parameters exist only when the stage does, ranges
#: that depend on the previous stage) do not fit Optuna's fixed grid.
OPTUNA_SAMPLERS = ("tpe", "random", "cmaes", "nsga2", "evolution", "local")
#: Keras Tuner tuners of the keras-tuner engine (its `--sampler` values).
KERAS_TUNER_SAMPLERS = ("bayesian", "hyperband", "random")
SAMPLERS_BY_ENGINE: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {OPTUNA: OPTUNA_SAMPLERS, KERAS_TUNER: KERAS_TUNER_SAMPLERS})
#: Samplers that optimise one objective only.
SINGLE_OBJECTIVE_SAMPLERS = ("cmaes", "evolution", "local")
MULTI_OBJECTIVE_SAMPLERS = tuple(s for s in OPTUNA_SAMPLERS if s not in SINGLE_OBJECTIVE_SAMPLERS)
NO_PRUNER = "none"
PRUNERS = (NO_PRUNER, "median", "successive_halving", "hyperband")
#: Objective name -> optimisation direction.
OBJECTIVES: Mapping[str, str] = MappingProxyType(
    {"val_accuracy": "maximize", "params": "minimize", "flops": "minimize"})
#: Keras backends a trial process can run.
BACKENDS = ("tensorflow", "jax", "torch")
#: What a worker does with a trial whose worker died (`--on-stale`).
ON_STALE = ("retry", "fail")

# ---------------------------------------------------------------------------------------------
# Defaults.
DEFAULT_SPACE = "quickstart"
DEFAULT_ENGINE = OPTUNA
DEFAULT_TRIALS = 20
# TPE was the best, or within one standard error of the best, at every budget of both replayed
# tables, NAS-Bench-201 and the quickstart (experiments/RESULTS.md, "Which sampler?").
DEFAULT_SAMPLER = "tpe"
#: The keras-tuner engine's tuner when the space's sampler is an Optuna one Keras Tuner lacks.
DEFAULT_KERAS_TUNER_SAMPLER = "bayesian"
# Hyperband had the lowest final regret of the three pruners for every sampler in the replayed
# quickstart benchmark; the median pruner (n_startup_trials=2) had the highest
# (experiments/RESULTS.md, "Which pruner?").
DEFAULT_PRUNER = "hyperband"
DEFAULT_OBJECTIVES = ("val_accuracy",)
DEFAULT_SEED = 0
#: Trials one trial process runs before it is recycled (sooner by its memory).
DEFAULT_TRIALS_PER_PROCESS = 100
DEFAULT_HEARTBEAT_INTERVAL = 10  # seconds between heartbeats of a running trial
DEFAULT_GRACE_PERIOD = 40  # a RUNNING trial without a heartbeat for this long is stale


def check_option(flag: str, value: object,
                 allowed: IntRange | Seconds | tuple[str, ...]) -> None:
    """The one check of an option's value against its range or names (None: not given).

    Raises:
      UsageError: naming the flag, what is expected and the value (exit status 2).
    """
    if value is None or value in allowed:
        return
    if isinstance(allowed, tuple):
        hint = did_you_mean(str(value), allowed)
        hint = f" ({hint})" if hint else ""
        raise UsageError(flag, value, f"expected one of {', '.join(allowed)}{hint}")
    raise UsageError(flag, value, f"expected {allowed.expected}")
