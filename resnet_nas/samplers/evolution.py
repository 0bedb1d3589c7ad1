"""Regularized (aging) evolution, Real et al. 2019 ("Regularized Evolution for Image
Classifier Architecture Search"), as an Optuna sampler.

The population is the `population_size` youngest complete trials (by trial number: the oldest
is removed as a new one joins, whatever its accuracy, which is the "aging"); until the study has
that many, trials are random. Each new trial picks `sample_size` members at random, takes the
best of them as its parent, and mutates one of the parent's parameters to another of its
values. A mutation that gives a point tried already (finished, running elsewhere, or a rejected
infeasible sample) is drawn again; a sample the search rejects as infeasible simply makes the
next trial mutate again. A parameter the parent did not have (a stage the mutation added) is
drawn at random.
"""

from __future__ import annotations

import optuna
from optuna.trial import FrozenTrial

from resnet_nas.samplers.planned import PlannedSampler
from resnet_nas.samplers.points import (Params, better, evaluated, other_values,
                                        single_direction, trial_rng, tried, untried)

#: Mutations drawn for one trial before it falls back to a random point.
MAX_MUTATIONS = 50


class EvolutionSampler(PlannedSampler):
    """Aging evolution over a study's trials.

    Args:
      seed: seed of every random decision.
      population_size: complete trials in the population (the youngest ones).
      sample_size: members drawn for each tournament.
    """

    name = "evolution"

    def __init__(self, seed: int | None = None, population_size: int = 10,
                 sample_size: int = 3):
        super().__init__(seed)
        if not 1 <= sample_size <= population_size:
            raise ValueError(f"sample_size must be in [1, population_size], got {sample_size}")
        self.population_size = population_size
        self.sample_size = sample_size

    def plan(self, study: optuna.Study, trial: FrozenTrial) -> Params | None:
        direction = single_direction(study, self.name)
        trials = study.get_trials(deepcopy=False)
        done = evaluated(trials, before=trial.number)
        if len(done) < self.population_size:
            return None  # the random start
        population = done[-self.population_size:]
        seen = tried(trials, other_than=trial.number)
        rng = trial_rng(self._seed, trial.number, "mutation")
        for _ in range(MAX_MUTATIONS):
            members = rng.sample(population, self.sample_size)
            parent = members[0]
            for m in members[1:]:
                if better(m.value, parent.value, direction):
                    parent = m
            names = sorted(parent.params)
            name = names[rng.randrange(len(names))]
            options = other_values(parent.distributions[name], parent.params[name],
                                   adjacent=False)
            if not options:
                continue
            child = {**parent.params, name: options[rng.randrange(len(options))]}
            if untried(child, seen):
                return child
        return None
