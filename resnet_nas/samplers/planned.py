"""The shared mechanics of samplers that plan a trial's whole point before it is sampled.

A `PlannedSampler` decides, when a trial starts (`before_trial`), the point it should be (a
mutation, a neighbour), from the study's trials; define-by-run sampling then asks for each
parameter in turn, and a planned value is used where the trial's distribution holds it. A
parameter the plan does not fix (a stage the mutation added, or no plan: the random start
or a restart) is drawn at random from a generator of its own per trial and parameter, so the
same seed and study give the same trials.
"""

from __future__ import annotations

from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial

from resnet_nas.samplers.points import Params, fits, random_value, trial_rng


class PlannedSampler(optuna.samplers.BaseSampler):
    """Base class: subclasses implement `plan`.

    Args:
      seed: the seed of every random decision (None: not reproducible).
    """

    #: the name in messages
    name = "planned"

    def __init__(self, seed: int | None = None):
        self._seed = seed
        # the plan of each trial being sampled in this process (dropped when it ends)
        self._plans: dict[int, Params | None] = {}

    def plan(self, study: optuna.Study, trial: FrozenTrial) -> Params | None:
        """The point trial `trial` should be, or None for a random one."""
        raise NotImplementedError

    # -- optuna.samplers.BaseSampler ----------------------------------------------------------
    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial
                                    ) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        return {}

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self._plans[trial.number] = self.plan(study, trial)

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        if trial.number not in self._plans:  # a trial this process did not start
            self._plans[trial.number] = self.plan(study, trial)
        planned = self._plans[trial.number]
        if planned is not None and param_name in planned and fits(param_distribution,
                                                                  planned[param_name]):
            return planned[param_name]
        return random_value(param_distribution, trial_rng(self._seed, trial.number, "value",
                                                          param_name))

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state, values) -> None:
        self._plans.pop(trial.number, None)

    def reseed_rng(self) -> None:  # Optuna calls it for workers that copy a sampler
        pass
