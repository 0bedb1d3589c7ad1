"""Points of a define-by-run space as the samplers see them: a trial's parameter values, the
values a distribution holds, and one-parameter neighbours.

A conditional space gives trials different parameter sets (a stage count that adds or drops
per-stage parameters), so points are compared on the parameters they share.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.distributions import (BaseDistribution, CategoricalDistribution,
                                  FloatDistribution, IntDistribution)
from optuna.trial import FrozenTrial, TrialState

from resnet_nas import trial_attrs

Params = Mapping[str, Any]


@dataclass(frozen=True)
class Evaluated:
    """A trial with a result the samplers may learn from: complete, not a rejected sample."""

    number: int
    params: Params
    distributions: Mapping[str, BaseDistribution]
    value: float


def evaluated(trials: Iterable[FrozenTrial], before: int) -> list[Evaluated]:
    """The complete trials numbered below `before`, in order (single objective), less rejected
    samples and duplicates (a reused result of an architecture trained already)."""
    out = []
    for t in trials:
        if (t.number < before and t.state == TrialState.COMPLETE and t.values is not None
                and len(t.values) == 1 and trial_attrs.REJECTED not in t.user_attrs
                and trial_attrs.DUPLICATE_OF not in t.user_attrs  # a copy: nothing new
                and math.isfinite(t.values[0])):
            out.append(Evaluated(t.number, t.params, t.distributions, float(t.values[0])))
    return sorted(out, key=lambda e: e.number)


def tried(trials: Iterable[FrozenTrial], other_than: int) -> list[Params]:
    """The parameter values of every other trial that has any: finished in any state, or
    running (another worker's, too): a point proposed once is not proposed again."""
    return [t.params for t in trials if t.number != other_than and t.params]


def matches(point: Params, other: Params) -> bool:
    """Whether `other` is `point` as far as they can be compared: the same value of every
    parameter they share. (A planned point can hold parameters its trial will not ask for,
    a stage that a smaller stage count drops, and lack some it will, a stage that a mutation
    adds; so extra parameters on either side do not make two points differ.)"""
    return all(other[k] == v for k, v in point.items() if k in other)


def untried(point: Params, seen: Sequence[Params]) -> bool:
    return not any(matches(point, p) for p in seen)


def neighbour(a: Params, b: Params) -> bool:
    """Whether `b` differs from `a` in exactly one of the parameters they share."""
    return sum(a[k] != b[k] for k in a.keys() & b.keys()) == 1


def fits(dist: BaseDistribution, value: Any) -> bool:
    """Whether `value` is one of the values `dist` holds."""
    if isinstance(dist, CategoricalDistribution):
        return value in dist.choices
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if isinstance(dist, IntDistribution):
        return (value == int(value) and dist.low <= value <= dist.high
                and (dist.log or (int(value) - dist.low) % dist.step == 0))
    if isinstance(dist, FloatDistribution):
        return dist.low <= value <= dist.high
    return False


def random_value(dist: BaseDistribution, rng: random.Random) -> Any:
    if isinstance(dist, CategoricalDistribution):
        return dist.choices[rng.randrange(len(dist.choices))]
    if isinstance(dist, IntDistribution):
        if dist.log:
            return rng.randint(dist.low, dist.high)
        return dist.low + dist.step * rng.randrange((dist.high - dist.low) // dist.step + 1)
    if isinstance(dist, FloatDistribution):
        if dist.step:
            n = int(round((dist.high - dist.low) / dist.step))
            return dist.low + dist.step * rng.randint(0, n)
        if dist.log:
            return math.exp(rng.uniform(math.log(dist.low), math.log(dist.high)))
        return rng.uniform(dist.low, dist.high)
    raise TypeError(f"unknown distribution {dist!r}")


def other_values(dist: BaseDistribution, value: Any, adjacent: bool) -> list[Any]:
    """The values one step from `value`: every other choice of a categorical parameter; the
    grid neighbours of a number (`adjacent`), or all other grid values (not `adjacent`; a
    continuous range gives none)."""
    if isinstance(dist, CategoricalDistribution):
        return [c for c in dist.choices if c != value]
    if isinstance(dist, IntDistribution):
        step = 1 if dist.log else dist.step
        if adjacent:
            return [v for v in (value - step, value + step) if dist.low <= v <= dist.high]
        if (dist.high - dist.low) // step > 10_000:
            return []
        return [v for v in range(dist.low, dist.high + 1, step) if v != value]
    if isinstance(dist, FloatDistribution) and dist.step:
        n = int(round((dist.high - dist.low) / dist.step))
        grid = [dist.low + k * dist.step for k in range(n + 1)]
        if adjacent:
            i = min(range(len(grid)), key=lambda k: abs(grid[k] - value))
            return [grid[k] for k in (i - 1, i + 1) if 0 <= k < len(grid)]
        return [g for g in grid if not math.isclose(g, value)]
    return []


def better(a: float, b: float, direction: optuna.study.StudyDirection) -> bool:
    """Whether `a` is better than `b` in the study's direction."""
    return a > b if direction == optuna.study.StudyDirection.MAXIMIZE else a < b


def single_direction(study: optuna.Study, sampler: str) -> optuna.study.StudyDirection:
    """The study's direction.

    Raises:
      ValueError: a multi-objective study (these samplers rank by one value).
    """
    if len(study.directions) != 1:
        raise ValueError(f"the {sampler} sampler optimises one objective; this study has "
                         f"{len(study.directions)} (use tpe, random or nsga2)")
    return study.direction


def trial_rng(seed: int | None, number: int, *salt: str) -> random.Random:
    """A random generator of its own for one decision of one trial: the same seed, trial and
    decision give the same draws, in any process, resumed or not."""
    return random.Random(":".join([str(seed), str(number), *salt]))
