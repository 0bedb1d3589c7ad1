"""What a space can hold at its extremes: the fewest and most parameters and FLOPs of its
architectures, and the smallest total stride, computed before any sampling.

A parameter budget no architecture can meet (`constraints.max_params: 1000`), or a stride that
shrinks every network's input below one pixel, is found here, by `spaces validate` and before
`search` creates anything, instead of after a thousand rejected samples.

The extremes are the space's corners: every numeric parameter at its low (or high) end, for
each combination of the categorical ones (unit kind, root, shortcut, stride placement).
Parameters grow with every numeric choice (stages, units, depths, bottleneck depths, root depth,
width multiplier) and not with strides; FLOPs grow with the same choices, shrink with larger
strides, and grow with a smaller (atrous) output stride. So the low corners bound the space
from below and the high corners from above, the depths-non-decreasing rule included (a corner
drawn under it is the smallest or largest architecture that keeps it). The other constraints
(stride bounds, budgets) only remove architectures: the bounds hold for what is left.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from resnet_nas.nets.arch import Architecture
from resnet_nas.space.params import Choice, ParamSpec
from resnet_nas.space.sample import output_stride_problem, sample_architecture, total_stride
from resnet_nas.space.schema import SearchSpace

#: The categorical space keys enumerated at every corner (sample_architecture's names).
CATEGORICAL = ("unit", "root", "shortcut", "stride_placement")


class _CornerTrial:
    """An Optuna-like trial that answers every numeric parameter with its low or high end.

    Args:
      high: the high ends (else the low ones).
      picks: values of the categorical parameters, by name.
      strides_high: the stride parameters' high end instead (FLOPs fall as strides grow).
      output_stride: the value of `output_stride` (None where the space allows it).
    """

    dynamic_ranges = True

    def __init__(self, high: bool, picks: dict[str, Any], strides_high: bool,
                 output_stride: Any):
        self.high, self.picks = high, picks
        self.strides_high, self.output_stride = strides_high, output_stride

    def _end(self, name: str, low: Any, high: Any) -> Any:
        up = self.strides_high if name.endswith("stride") else self.high
        return high if up else low

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1,
                    log: bool = False) -> int:
        return self._end(name, low, high)

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None,
                      log: bool = False) -> float:
        return self._end(name, low, high)

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        if name in self.picks:
            return self.picks[name]
        if name == "output_stride":
            return self.output_stride
        ordered = sorted(choices)
        return self._end(name, ordered[0], ordered[-1])


@dataclass(frozen=True)
class Bounds:
    """The space's extremes (None where no corner could be built).

    Attributes:
      min_params / max_params: the fewest and most weights (incl. BN statistics).
      min_flops / max_flops: the fewest and most multiply-accumulates of one example.
      min_total_stride: the smallest nominal total stride.
      smallest / largest: the corner architectures with the fewest and most parameters.
    """

    min_params: int | None
    max_params: int | None
    min_flops: int | None
    max_flops: int | None
    min_total_stride: int | None
    smallest: Architecture | None = None
    largest: Architecture | None = None


def _choices(spec: ParamSpec) -> list[Any]:
    return list(spec.choices) if isinstance(spec, Choice) else [spec.bounds()[0]]


def _output_strides(space: SearchSpace) -> tuple[Any, Any]:
    """(the output stride of the fewest FLOPs, of the most)."""
    values = _choices(space.output_stride)
    numbers = sorted(v for v in values if v is not None)
    least = None if None in values else numbers[-1]
    most = numbers[0] if numbers else None
    return least, most


def corner(space: SearchSpace, input_shape: tuple[int, int, int], num_classes: int,
           picks: dict[str, Any], high: bool, strides_high: bool,
           output_stride: Any) -> Architecture:
    return sample_architecture(space, _CornerTrial(high, picks, strides_high, output_stride),
                               input_shape=input_shape, num_classes=num_classes)


def space_bounds(space: SearchSpace, input_shape: tuple[int, int, int],
                 num_classes: int) -> Bounds:
    """The space's extremes at this input shape and class count (see the module doc)."""
    from resnet_nas.nets.complexity import complexity

    least_os, most_os = _output_strides(space)
    names = [n for n in CATEGORICAL]
    options = [_choices(getattr(space, n)) for n in names]
    low_params, high_params, low_flops, high_flops, strides = [], [], [], [], []
    for combo in itertools.product(*options):
        picks = dict(zip(names, combo))
        for high, strides_high, output_stride, into in (
                (False, False, None, low_params), (True, False, None, high_params),
                (False, True, least_os, low_flops), (True, False, most_os, high_flops)):
            try:
                arch = corner(space, input_shape, num_classes, picks, high, strides_high,
                              output_stride)
                if output_stride_problem(arch) is not None:
                    arch = corner(space, input_shape, num_classes, picks, high, strides_high,
                                  None if None in _choices(space.output_stride) else
                                  output_stride)
                    if output_stride_problem(arch) is not None:
                        continue
                c = complexity(arch)
            except ValueError:  # a corner the builders reject: no bound from it
                continue
            into.append((c.params if into in (low_params, high_params) else c.flops, arch))
            if into is low_params:
                strides.append(total_stride(corner(space, input_shape, num_classes, picks,
                                                   False, False, None)))
    smallest = min(low_params, key=lambda t: t[0], default=(None, None))
    largest = max(high_params, key=lambda t: t[0], default=(None, None))
    return Bounds(min_params=smallest[0], max_params=largest[0],
                  min_flops=min((v for v, _ in low_flops), default=None),
                  max_flops=max((v for v, _ in high_flops), default=None),
                  min_total_stride=min(strides, default=None),
                  smallest=smallest[1], largest=largest[1])


def infeasible_settings(space: SearchSpace, input_shape: tuple[int, int, int],
                        num_classes: int) -> list[str]:
    """Why no architecture of `space` can be trained at `input_shape` (empty when some can):
    a parameter or FLOP budget beyond the space's extremes, or a total stride larger than the
    input. Each reason names the constraint and the extreme it misses."""
    b = space_bounds(space, input_shape, num_classes)
    c = space.constraints
    source = space.source or "space"
    reasons = []
    for what in ("params", "flops"):
        lo, hi = getattr(b, f"min_{what}"), getattr(b, f"max_{what}")
        budget_max, budget_min = getattr(c, f"max_{what}"), getattr(c, f"min_{what}")
        if budget_max is not None and lo is not None and lo > budget_max:
            reasons.append(f"{source}: constraints.max_{what} is {budget_max:,}, but the "
                           f"smallest architecture of the space has {lo:,} {what}")
        if budget_min is not None and hi is not None and hi < budget_min:
            reasons.append(f"{source}: constraints.min_{what} is {budget_min:,}, but the "
                           f"largest architecture of the space has {hi:,} {what}")
    side = min(input_shape[0], input_shape[1])
    if b.min_total_stride is not None and b.min_total_stride > side:
        reasons.append(f"{source}: every architecture of the space strides by at least "
                       f"{b.min_total_stride} in total, more than the {side}-pixel input "
                       f"({input_shape[0]}x{input_shape[1]}): its last stages would see less "
                       "than one pixel; lower the strides or raise space.input_shape")
    return reasons
