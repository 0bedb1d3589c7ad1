"""The distinct architectures of a search space: exhaustively, or N unique random samples.

Sampling is define-by-run (`resnet_nas.space.sample_architecture`), so the space's tree of
parameters is only known by walking it: `enumerate_architectures` runs the sampler through a
trial that replays a prefix of choices and branches on the first parameter it has not decided
yet (depth-first over every suggest call). This works for any space the sampler understands,
conditional parameters included, without a second description of the space.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from resnet_nas.nets import Architecture
from resnet_nas.space import SearchSpace, check_constraints, sample_architecture


class Infinite(Exception):
    """The space has a continuous (float, no step) parameter: it cannot be enumerated."""


def _grid(low: float, high: float, step: float | None, log: bool, integer: bool) -> list[Any]:
    if integer:
        if log:
            return list(range(int(low), int(high) + 1))
        return list(range(int(low), int(high) + 1, int(step or 1)))
    if step is None or log:
        raise Infinite()
    n = int(round((high - low) / step))
    return [low + k * step for k in range(n + 1)]


class _BranchTrial:
    """A TrialLike that answers suggest calls from `prefix`, then with the first value of each
    further parameter, recording how many values each call had (the branching to explore)."""

    def __init__(self, prefix: Sequence[int]):
        self.prefix = list(prefix)
        self.path: list[int] = []
        self.widths: list[int] = []
        self.params: dict[str, Any] = {}

    def _choose(self, name: str, values: list[Any]) -> Any:
        i = len(self.path)
        index = self.prefix[i] if i < len(self.prefix) else 0
        self.path.append(index)
        self.widths.append(len(values))
        self.params[name] = values[index]
        return values[index]

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1,
                    log: bool = False) -> int:
        return self._choose(name, _grid(low, high, step, log, True))

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None,
                      log: bool = False) -> float:
        return self._choose(name, _grid(low, high, step, log, False))

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        return self._choose(name, list(choices))


@dataclass(frozen=True)
class Enumeration:
    """The architectures of a space.

    Attributes:
      archs: distinct feasible architectures, in a deterministic order.
      exhaustive: True when `archs` is every feasible architecture of the space.
      infeasible: distinct sampled architectures the space's constraints rejected.
    """

    archs: tuple[Architecture, ...]
    exhaustive: bool
    infeasible: int = 0


def _feasible(arch: Architecture, space: SearchSpace, seen: set[str]) -> bool | None:
    """None for a duplicate, else whether the (new) architecture satisfies the constraints."""
    key = arch.key()
    if key in seen:
        return None
    seen.add(key)
    return not check_constraints(arch, space)


def enumerate_architectures(space: SearchSpace, input_shape: Sequence[int] | None,
                            num_classes: int | None, limit: int | None = None,
                            seed: int = 0) -> Enumeration:
    """Every distinct feasible architecture of `space`, or `limit` unique random ones.

    Args:
      space: the search space.
      input_shape / num_classes: of the data set (when the space leaves them null).
      limit: at most this many; when the space has more (or is continuous), `limit` unique
        random samples instead. None: all (a continuous space then raises Infinite).
      seed: seed of the random samples.

    Returns:
      The Enumeration.

    Raises:
      Infinite: `limit` is None and the space has a continuous parameter.
    """
    try:
        every = _walk(space, input_shape, num_classes, cap=limit)
    except Infinite:
        if limit is None:
            raise
        every = None
    if every is not None:
        return every
    return _random_unique(space, input_shape, num_classes, int(limit or 0), seed)


def _walk(space: SearchSpace, input_shape: Sequence[int] | None, num_classes: int | None,
          cap: int | None) -> Enumeration | None:
    """Depth-first walk of the sampler's decision tree; None when more than `cap` are found."""
    seen: set[str] = set()
    archs: list[Architecture] = []
    infeasible = 0
    stack: list[list[int]] = [[]]
    while stack:
        prefix = stack.pop()
        trial = _BranchTrial(prefix)
        arch = sample_architecture(space, trial, input_shape=input_shape,
                                   num_classes=num_classes)
        # Siblings of every decision made past the prefix (pushed last-first: file order).
        for depth in range(len(trial.path) - 1, len(prefix) - 1, -1):
            for value in range(trial.widths[depth] - 1, 0, -1):
                stack.append(trial.path[:depth] + [value])
        ok = _feasible(arch, space, seen)
        if ok:
            archs.append(arch)
            if cap is not None and len(archs) > cap:
                return None
        elif ok is False:
            infeasible += 1
    return Enumeration(tuple(archs), exhaustive=True, infeasible=infeasible)


class _RandomTrial(_BranchTrial):
    """A TrialLike drawing every value uniformly from its grid (floats uniformly in range)."""

    def __init__(self, rng: random.Random):
        super().__init__(())
        self.rng = rng

    def _choose(self, name: str, values: list[Any]) -> Any:
        self.params[name] = value = self.rng.choice(values)
        return value

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None,
                      log: bool = False) -> float:
        try:
            return self._choose(name, _grid(low, high, step, log, False))
        except Infinite:
            return self.rng.uniform(low, high)


def _random_unique(space: SearchSpace, input_shape: Sequence[int] | None,
                   num_classes: int | None, n: int, seed: int) -> Enumeration:
    rng = random.Random(seed)
    seen: set[str] = set()
    archs: list[Architecture] = []
    infeasible = 0
    misses = 0
    # A space with fewer than n architectures ends the loop through the run of misses.
    while len(archs) < n and misses < 1000 * max(n, 1):
        arch = sample_architecture(space, _RandomTrial(rng), input_shape=input_shape,
                                   num_classes=num_classes)
        ok = _feasible(arch, space, seen)
        if ok is None:
            misses += 1
        elif ok:
            archs.append(arch)
            misses = 0
        else:
            infeasible += 1
    return Enumeration(tuple(archs), exhaustive=False, infeasible=infeasible)
