"""Where an architecture lies in a search space: the parameter values that sample it.

`search --enqueue` starts a study from known architectures (an exported config, a paper's
network), and Optuna's `enqueue_trial` takes parameter values, not networks. `locate` finds
them by running the space's own sampler (`sample_architecture`, define-by-run) through a trial
that answers each suggest call with the values consistent with the target architecture (its
unit kind, block count, a stage's depth at the width multiplier chosen so far ...), backtracking
over the few places where several values fit (the width multiplier), and keeps a sample only
when it is the target network. No second description of the space is needed, so conditional
parameters, shared stage keys and per-stage overrides work as they do for sampling.

An architecture that is not a point of the space gets the reason from the furthest the walk
came: ``block2 depth 48 is not one of [16, 32]``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from resnet_nas.nets.arch import Architecture, UnitKind
from resnet_nas.space.params import Choice, Fixed, round_half_up
from resnet_nas.space.sample import (check_constraints, depth_round_to, sample_architecture,
                                     scale_depth)
from resnet_nas.space.schema import SearchSpace

#: The most values of one integer or float-grid parameter that are tried one by one.
MAX_GRID = 100_000
_STAGE_NAME = re.compile(r"stage(\d+)_(\w+)")


class NotInSpace(ValueError):
    """The architecture is no point of the space (the message says what does not fit)."""


@dataclass(frozen=True)
class Location:
    """The parameter values that sample an architecture from a space.

    Attributes:
      params: parameter name -> value, as Optuna's `enqueue_trial` takes them.
      arch: the architecture they sample (the target's structure, with the data's input
        shape and classes).
    """

    params: dict[str, Any]
    arch: Architecture


class _DeadEnd(Exception):
    def __init__(self, reason: str, depth: int):
        super().__init__(reason)
        self.reason, self.depth = reason, depth


def _grid(low: float, high: float, step: float | None, log: bool, integer: bool
          ) -> list[Any] | None:
    """Every value of a range, or None when it is continuous or too large to try."""
    if integer:
        step = 1 if log else int(step or 1)
        n = (int(high) - int(low)) // step + 1
        return list(range(int(low), int(high) + 1, step)) if n <= MAX_GRID else None
    if step is None or log:
        return None
    n = int(round((high - low) / step))
    return [low + k * step for k in range(n + 1)] if n < MAX_GRID else None


def structure(arch: Architecture) -> tuple:
    """What makes two networks the same, whatever data they are built for: unit tuples, unit
    kind, root (and its depth when there is one), shortcut (basic units), output stride."""
    return (tuple(b.units for b in arch.blocks), arch.unit, arch.root,
            arch.root_depth if arch.root != "none" else None,
            arch.shortcut if UnitKind(arch.unit).basic else None, arch.output_stride)


def differences(arch: Architecture, target: Architecture) -> tuple[int, str]:
    """How far `arch` (a point of the space) matches `target` before they differ (a count of
    matching fields and units), and that first difference in words."""
    at = 0
    for name in ("unit", "root", "root_depth", "shortcut", "output_stride"):
        got, want = getattr(arch, name), getattr(target, name)
        if name == "root_depth" and target.root == "none":
            continue
        if name == "shortcut" and not UnitKind(target.unit).basic:
            continue
        if got != want:
            return at, f"{name} {want} is not {got}, the space's"
        at += 1
    if len(arch.blocks) != len(target.blocks):
        return at, f"{len(target.blocks)} blocks, the space has {len(arch.blocks)}"
    for a, t in zip(arch.blocks, target.blocks):
        scope = t.scope
        if len(a.units) != len(t.units):
            return at, f"{scope} has {len(t.units)} units, the space's has {len(a.units)}"
        for j, (ua, ut) in enumerate(zip(a.units, t.units)):
            if ua != ut:
                what = ("depth", "depth_bottleneck", "stride")
                k = next(i for i in range(3) if ua[i] != ut[i])
                return at, (f"{scope} unit {j + 1} {what[k]} {ut[k]} is not {ua[k]}, the "
                            "space's there")
            at += 1
    return at, "it differs"


class _LocatingTrial:
    """Answers suggest calls: the values of `prefix` first, then the values consistent with
    the target (the first of them; the others are left for backtracking)."""

    def __init__(self, space: SearchSpace, target: Architecture, prefix: Sequence[Any]):
        self.space, self.target, self.prefix = space, target, list(prefix)
        self.params: dict[str, Any] = {}
        self.path: list[Any] = []
        self.alternatives: list[list[Any]] = []

    # -- the TrialLike interface -----------------------------------------------------------
    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1,
                    log: bool = False) -> int:
        return self._decide(name, lambda: _grid(low, high, step, log, True),
                            f"in [{low}, {high}]" + (f" step {step}" if step > 1 else ""),
                            (low, high, step))

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None,
                      log: bool = False) -> float:
        return self._decide(name, lambda: _grid(low, high, step, log, False),
                            f"in [{low:g}, {high:g}]" + (f" step {step:g}" if step else ""),
                            (low, high, step))

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        values = list(choices)
        return self._decide(name, lambda: values, f"one of {values}", None)

    # -- deciding ----------------------------------------------------------------------------
    def _decide(self, name: str, values, described: str, bounds) -> Any:
        k = len(self.path)
        if k < len(self.prefix):
            value = self.prefix[k]
        else:
            fitting, what = self._fitting(name, values, bounds)
            if not fitting:
                why = what if " is not " in what else f"{what} is not {described}"
                raise _DeadEnd(why, k)
            value = fitting[0]
            self.alternatives.append(fitting[1:])
        self.path.append(value)
        self.params[name] = value
        return value

    def _fitting(self, name: str, values, bounds) -> tuple[list[Any], str]:
        """(the values of parameter `name` consistent with the target, the target's value in
        words)."""
        t = self.target
        direct = {"unit": t.unit, "root": t.root, "root_depth": t.root_depth,
                  "shortcut": t.shortcut, "output_stride": t.output_stride,
                  "num_stages": len(t.blocks)}
        if name in direct:
            want = direct[name]
            label = {"num_stages": "the number of blocks"}.get(name, name)
            return [v for v in _all(values, name) if v == want], f"{label} {want}"
        if name == "stride_placement":
            return self._placements(values), "where the blocks' strides are"
        if name == "width_multiplier":
            return self._multipliers(values, bounds), "the width multiplier of its depths"
        stage, key = self._stage_of(name)
        if stage is None or stage >= len(t.blocks):
            options = values()
            if options is None:
                raise NotInSpace(f"parameter {name} is continuous: no architecture can be "
                                 "placed in this space")
            return options, name
        block = t.blocks[stage]
        depth, depth_bottleneck, _ = block.units[0]
        scope = block.scope
        if key in ("depth", "depth_index", "depth_bottleneck"):
            spec_key = "depth_bottleneck" if key == "depth_bottleneck" else "depth"
            want = depth_bottleneck if key == "depth_bottleneck" else depth
            spec = self.space.stages.for_stage(stage)[spec_key][0]
            multiplier = self.params.get("width_multiplier",
                                         _fixed(self.space.width_multiplier))
            r = depth_round_to(self.space, spec)

            def scaled(v: int) -> int:
                return scale_depth(v, multiplier, r)

            if key == "depth_index":
                ordered = sorted(spec.choices)
                fit = [i for i in _all(values, name) if scaled(ordered[i]) == want]
                shown = [scaled(ordered[i]) for i in _all(values, name)]
            else:
                options = _all(values, name)
                fit = [v for v in options if scaled(v) == want]
                shown = [scaled(v) for v in options] if len(options) <= 12 else None
            if fit or shown is None:
                return fit, f"{scope} {spec_key} {want}"
            at = f" (at width multiplier {multiplier:g})" if multiplier != 1.0 else ""
            return [], f"{scope} {spec_key} {want} is not one of {sorted(set(shown))}{at}"
        if key == "units":
            return ([v for v in _all(values, name) if v == len(block.units)],
                    f"{scope} with {len(block.units)} units")
        if key == "stride":
            stride = max(u[2] for u in block.units)
            return [v for v in _all(values, name) if v == stride], f"{scope} stride {stride}"
        if key == "bottleneck_ratio":
            return (self._ratios(values, bounds, depth, depth_bottleneck),
                    f"{scope} bottleneck ratio {depth_bottleneck}/{depth}")
        options = values()
        if options is None:
            raise NotInSpace(f"parameter {name} is continuous: no architecture can be placed "
                             "in this space")
        return options, name

    def _stage_of(self, name: str) -> tuple[int | None, str]:
        m = _STAGE_NAME.fullmatch(name)
        if m:
            return int(m.group(1)), m.group(2)
        if name.startswith("stage_"):  # a shared key: drawn by the first stage that uses it
            key = name[len("stage_"):]
            for i in range(len(self.target.blocks)):
                specs = self.space.stages.for_stage(i)
                if key in specs and specs[key][1] == name:
                    return i, key
        return None, name

    def _placements(self, values) -> list[str]:
        fits = []
        for placement in _all(values, "stride_placement"):
            at_ok = True
            for b in self.target.blocks:
                strides = [u[2] for u in b.units]
                at = 0 if placement == "first" else len(strides) - 1
                if any(s != 1 for j, s in enumerate(strides) if j != at):
                    at_ok = False
            if at_ok:
                fits.append(placement)
        return fits

    def _multipliers(self, values, bounds) -> list[float]:
        options = values()
        if options is not None:
            return options
        low, high, _ = bounds
        hints = {1.0}
        spec = self.space.stages.for_stage(0)["depth"][0]
        for base in getattr(spec, "choices", ()) or ((spec.value,) if isinstance(spec, Fixed)
                                                      else ()):
            hints.add(self.target.blocks[0].units[0][0] / base)
        return sorted(h for h in hints if low <= h <= high)

    @staticmethod
    def _ratios(values, bounds, depth: int, depth_bottleneck: int) -> list[float]:
        def fits(v: float) -> bool:
            return max(1, round_half_up(depth * v)) == depth_bottleneck

        options = values()
        if options is not None:
            return [v for v in options if fits(v)]
        low, high, _ = bounds
        exact = depth_bottleneck / depth
        return [exact] if low <= exact <= high and fits(exact) else []


def _all(values, name: str) -> list[Any]:
    options = values()
    if options is None:
        raise NotInSpace(f"parameter {name} has too many values to place an architecture")
    return options


def _fixed(spec: Any) -> Any:
    return spec.value if isinstance(spec, Fixed) else 1.0


def locate(space: SearchSpace, target: Architecture, input_shape: Sequence[int],
           num_classes: int) -> Location:
    """The parameter values with which `space`'s sampler draws `target`'s network.

    Args:
      space: the search space.
      target: the architecture (its input shape and classes are not compared: a network of
        another data set is placed as the same network for this one).
      input_shape / num_classes: of the data the search runs on.

    Returns:
      The Location (params for Optuna's enqueue_trial, and the architecture they sample).

    Raises:
      NotInSpace: saying what does not fit (or which constraint it breaks).
    """
    want = structure(target)
    stack: list[list[Any]] = [[]]
    deepest: tuple[int, str] | None = None
    tried = 0
    while stack:
        tried += 1
        if tried > 10_000:
            break
        prefix = stack.pop()
        trial = _LocatingTrial(space, target, prefix)
        try:
            arch = sample_architecture(space, trial, input_shape=input_shape,
                                       num_classes=num_classes)
        except _DeadEnd as e:
            if deepest is None or e.depth > deepest[0]:
                deepest = (e.depth, e.reason)
            arch = None
        except ValueError as e:  # the builders refuse what the prefix leads to
            arch, deepest = None, deepest or (0, str(e))
        for k in range(len(trial.alternatives) - 1, -1, -1):
            base = trial.path[:len(prefix) + k]
            for value in reversed(trial.alternatives[k]):
                stack.append(base + [value])
        if arch is None:
            continue
        if structure(arch) == want:
            problems = check_constraints(arch, space)
            if problems:
                raise NotInSpace(f"it is a point of the space but breaks its constraints: "
                                 f"{'; '.join(problems)}")
            return Location(dict(trial.params), arch)
        matched, why = differences(arch, target)
        score = len(trial.path) + matched  # past every decision, then as far as it matches
        if deepest is None or score > deepest[0]:
            deepest = (score, why)
    raise NotInSpace(deepest[1] if deepest else "no sample of the space is this network")
