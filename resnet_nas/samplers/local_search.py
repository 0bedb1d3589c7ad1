"""Local search, after White et al. 2021 ("Exploring the Loss Landscape in Neural Architecture
Search"), as an Optuna sampler.

From the incumbent (the current point), each trial evaluates an untried one-parameter
neighbour (another choice of one categorical parameter, the next or previous value of a
numeric one), in a random order; the first that improves on the incumbent becomes it (first
improvement). When every neighbour of the incumbent has been tried and none improved, the
search restarts at a random point, which becomes the incumbent.

The incumbent is not kept in memory but read off the study's trials in order: the first
complete trial is it; a later trial that is not a neighbour of the incumbent was a restart and
becomes it; a neighbour that is better becomes it. A resumed search or a second worker thus
continues the same walk.
"""

from __future__ import annotations

import optuna
from optuna.trial import FrozenTrial

from resnet_nas.samplers.planned import PlannedSampler
from resnet_nas.samplers.points import (Evaluated, Params, better, evaluated, neighbour,
                                        other_values, single_direction, trial_rng, tried,
                                        untried)


def incumbent(done: list[Evaluated], direction: optuna.study.StudyDirection
              ) -> Evaluated | None:
    """The walk's current point after the complete trials `done` (in trial order)."""
    current = None
    for e in done:
        if (current is None or not neighbour(current.params, e.params)
                or better(e.value, current.value, direction)):
            current = e
    return current


class LocalSearchSampler(PlannedSampler):
    """First-improvement local search with random restarts over a study's trials."""

    name = "local"

    def plan(self, study: optuna.Study, trial: FrozenTrial) -> Params | None:
        direction = single_direction(study, self.name)
        trials = study.get_trials(deepcopy=False)
        current = incumbent(evaluated(trials, before=trial.number), direction)
        if current is None:
            return None  # the random start
        seen = tried(trials, other_than=trial.number)
        options = [{**current.params, name: value}
                   for name in sorted(current.params)
                   for value in other_values(current.distributions[name], current.params[name],
                                             adjacent=True)]
        options = [o for o in options if untried(o, seen)]
        if not options:
            return None  # a local optimum: restart at random
        rng = trial_rng(self._seed, trial.number, "neighbour")
        return options[rng.randrange(len(options))]
