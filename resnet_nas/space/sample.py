"""Sampling architectures from a SearchSpace, and checking them against its constraints.

Pure Python: no Keras import, so the search process can draw and reject thousands of samples
per second.

Sampling is define-by-run: a parameter is suggested only when it matters (a stage's parameters
only if the stage exists, bottleneck parameters only for bottleneck units, `shortcut` only for
basic units, `root_depth` only when there is a root), and fixed values are never suggested.
Parameter names are stable and readable:

    unit, root, root_depth, shortcut, stride_placement, width_multiplier, output_stride,
    num_stages, stage{i}_depth, stage{i}_units, stage{i}_stride, stage{i}_bottleneck_ratio,
    stage{i}_depth_bottleneck                     (i is 0-based)
    stage_<key>                                   (a stage key marked `shared: true`)

`depths_non_decreasing` is enforced by construction: a stage's integer-range depth has its
lower bound raised to the previous stage's depth, and a choice-valued depth (after the first
stage) is drawn as `stage{i}_depth_index`, its index in the sorted choices, from the first
choice at least the previous stage's depth (Optuna fixes a categorical parameter's choices,
not an integer's range). Everything else (total-stride bounds, an output stride the strides
cannot reach, parameter and FLOP budgets) is checked afterwards by `check_constraints`; the
search rejects and re-samples, and tells its sampler by how much each constraint was missed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any

from resnet_nas.nets.arch import Architecture, BlockSpec, UnitKind
from resnet_nas.nets.plan import check_output_stride
from resnet_nas.space.params import (Choice, IntRange, ParamSpec, TrialLike, round_half_up,
                                     suggest)
from resnet_nas.space.schema import DEFAULT_ROUND_TO, SearchSpace

#: root_depth recorded when root is 'none' (the value is unused; a constant keeps arch keys of
#: identical networks identical).
UNUSED_ROOT_DEPTH = next(f.default for f in fields(Architecture) if f.name == "root_depth")


def scale_depth(depth: int, multiplier: float, round_to: int) -> int:
    """Applies a width multiplier and rounds to a multiple of `round_to` (at least `round_to`).

    A multiplier of exactly 1 leaves the depth as written, so spaces without a multiplier give
    exactly the depths in the file.

    Args:
      depth: base depth from the space.
      multiplier: width multiplier (> 0).
      round_to: multiple to round to (>= 1); halves round up.

    Returns:
      The scaled depth.
    """
    if multiplier == 1.0:
        return depth
    return max(round_to, round_half_up(depth * multiplier / round_to) * round_to)


def resolve_io(space: SearchSpace, input_shape: Sequence[int] | None,
               num_classes: int | None) -> tuple[tuple[int, int, int], int]:
    """Combines the space's input_shape/num_classes with those of the data set.

    The space's value is used when it sets one; the data set's otherwise. A space value that
    contradicts the data set is an error rather than a model that fails later inside Keras.

    Raises:
      ValueError: when a value is missing from both, or they disagree.
    """
    shape = tuple(int(v) for v in input_shape) if input_shape is not None else None
    if space.input_shape is not None:
        if shape is not None and shape != space.input_shape:
            raise ValueError(f"{space.source}: space.input_shape is {list(space.input_shape)} "
                             f"but the data set gives {list(shape)}")
        shape = space.input_shape
    if shape is None or len(shape) != 3:
        raise ValueError(f"{space.source}: space.input_shape is null (take it from the data "
                         f"set), so sample_architecture needs input_shape=(h, w, c); got "
                         f"{input_shape!r}")
    classes = num_classes
    if space.num_classes is not None:
        if classes is not None and classes != space.num_classes:
            raise ValueError(f"{space.source}: space.num_classes is {space.num_classes} but the "
                             f"data set has {classes} classes")
        classes = space.num_classes
    if classes is None:
        raise ValueError(f"{space.source}: space.num_classes is null (take it from the data "
                         "set), so sample_architecture needs num_classes=")
    return shape, int(classes)  # type: ignore[return-value]


def depth_round_to(space: SearchSpace, spec: ParamSpec) -> int:
    """The multiple a scaled depth of `spec` is rounded to (space.round_to, else the depth
    range's step when > 1, else DEFAULT_ROUND_TO)."""
    if space.round_to is not None:
        return space.round_to
    if isinstance(spec, IntRange) and spec.step > 1:
        return spec.step
    return DEFAULT_ROUND_TO


def _suggest_chosen_depth(spec: Choice, trial: TrialLike, name: str, floor: int) -> int:
    """A choice-valued depth of at least `floor`: the index of the depth in the sorted
    choices, drawn from the first that is at least the floor (Optuna keeps a categorical
    parameter's choices fixed, an integer's range may move)."""
    ordered = sorted(spec.choices)
    first = next((i for i, c in enumerate(ordered) if c >= floor), None)
    if first is None:
        return suggest(spec, trial, name)  # cannot hold; check_constraints rejects it
    if getattr(trial, "dynamic_ranges", True):
        return ordered[trial.suggest_int(f"{name}_index", first, len(ordered) - 1)]
    value = max(ordered[first], suggest(spec, trial, name))  # Keras Tuner: lifted
    params = getattr(trial, "params", None)
    if isinstance(params, dict):
        params[name] = value
    return value


def _suggest_depth(spec: ParamSpec, trial: TrialLike, name: str, floor: int | None) -> int:
    """Suggests a base depth, at least `floor` when the spec is a range or integer choices."""
    if floor is not None and isinstance(spec, Choice) and all(
            isinstance(c, int) and not isinstance(c, bool) for c in spec.choices):
        return _suggest_chosen_depth(spec, trial, name, floor)
    if floor is None or not isinstance(spec, IntRange):
        return suggest(spec, trial, name)
    low = spec.ceil_to_grid(floor)
    if low > spec.high:
        return suggest(spec, trial, name)  # cannot hold; check_constraints rejects it
    if getattr(trial, "dynamic_ranges", True):
        return trial.suggest_int(name, low, spec.high, step=spec.step, log=spec.log)
    # Engines that fix a parameter's range at first use (Keras Tuner) get the full range; the
    # value is lifted to the floor instead.
    value = max(low, suggest(spec, trial, name))
    params = getattr(trial, "params", None)
    if isinstance(params, dict):
        params[name] = value  # record the value used, so a FixedTrial of params reproduces it
    return value


def sample_architecture(space: SearchSpace, trial: TrialLike, *,
                        input_shape: Sequence[int] | None = None,
                        num_classes: int | None = None) -> Architecture:
    """Draws one architecture from `space` through an Optuna-like `trial`.

    Args:
      space: the search space.
      trial: anything with Optuna's suggest_int / suggest_float / suggest_categorical (an
        optuna Trial or FixedTrial, or a KerasTunerTrial).
      input_shape: (height, width, channels) of the data set; required unless the space fixes
        it.
      num_classes: classes of the data set; required unless the space fixes it.

    Returns:
      The Architecture (not yet checked against `space.constraints`: see check_constraints).
    """
    shape, classes = resolve_io(space, input_shape, num_classes)
    unit = suggest(space.unit, trial, "unit")
    basic = UnitKind(unit).basic
    root = suggest(space.root, trial, "root")
    root_depth = (suggest(space.root_depth, trial, "root_depth") if root != "none"
                  else UNUSED_ROOT_DEPTH)
    # Bottleneck units always project (slim), so the shortcut choice only exists for basic units.
    shortcut = suggest(space.shortcut, trial, "shortcut") if basic else "B"
    placement = suggest(space.stride_placement, trial, "stride_placement")
    multiplier = suggest(space.width_multiplier, trial, "width_multiplier")
    output_stride = suggest(space.output_stride, trial, "output_stride")
    num_stages = suggest(space.stages.count, trial, "num_stages")

    shared: dict[str, Any] = {}

    def draw(spec: ParamSpec, name: str, floor: int | None = None) -> Any:
        if name.startswith("stage_"):  # shared across stages: draw once
            if name not in shared:
                shared[name] = suggest(spec, trial, name)
            return shared[name]
        if floor is not None:
            return _suggest_depth(spec, trial, name, floor)
        return suggest(spec, trial, name)

    blocks = []
    previous_depth: int | None = None
    for i in range(num_stages):
        specs = space.stages.for_stage(i)
        depth_spec, depth_name = specs["depth"]
        floor = previous_depth if space.constraints.depths_non_decreasing else None
        base_depth = draw(depth_spec, depth_name, floor)
        previous_depth = base_depth
        n_units = draw(*specs["units"])
        stride = draw(*specs["stride"])
        depth = scale_depth(base_depth, multiplier, depth_round_to(space, depth_spec))
        if basic:
            depth_bottleneck = depth
        elif "bottleneck_ratio" in specs:
            ratio = draw(*specs["bottleneck_ratio"])
            depth_bottleneck = max(1, round_half_up(depth * ratio))
        else:
            db_spec, db_name = specs["depth_bottleneck"]
            depth_bottleneck = scale_depth(draw(db_spec, db_name), multiplier,
                                           depth_round_to(space, db_spec))
        stride_at = 0 if placement == "first" else n_units - 1
        units = tuple((depth, depth_bottleneck, stride if j == stride_at else 1)
                      for j in range(n_units))
        blocks.append(BlockSpec(scope=f"block{i + 1}", units=units))

    return Architecture(blocks=tuple(blocks), unit=unit, root=root, root_depth=root_depth,
                        shortcut=shortcut, output_stride=output_stride, num_classes=classes,
                        input_shape=shape)


# -- constraints -------------------------------------------------------------------------------

def total_stride(arch: Architecture) -> int:
    """Nominal total stride: root stride times every unit stride (ignoring output_stride)."""
    stride = arch.root_stride
    for block in arch.blocks:
        for unit in block.units:
            stride *= unit[2]
    return stride


def output_stride_problem(arch: Architecture) -> str | None:
    """Why slim could not build `arch` with its output_stride, or None when it can.

    Uses the builders' own stride plan (slim's stack_blocks_dense rule: units stride normally
    until the running stride equals the target, then run atrous; the target must be met
    exactly, after the imagenet root's stride of 4).
    """
    if arch.output_stride is None:
        return None
    try:
        check_output_stride(arch.unit_strides(), arch.output_stride, root=arch.root)
    except ValueError as e:
        return (f"output_stride {arch.output_stride} is not possible with nominal total stride "
                f"{total_stride(arch)} ({e})")
    return None


def _default_complexity():
    from resnet_nas.nets.complexity import complexity
    return complexity


@dataclass(frozen=True)
class Violation:
    """One constraint an architecture breaks.

    Attributes:
      constraint: the constraint's key ('max_params', 'depths_non_decreasing',
        'output_stride', ...).
      excess: how far beyond it, > 0 (relative for bounds: (value - bound) / bound; the
        number of decreases for the depth order; 1 for an impossible output stride): what
        a constraint-aware sampler is told, to steer towards feasible architectures.
      text: a sentence for people.
    """

    constraint: str
    excess: float
    text: str


def constraint_violations(arch: Architecture, space: SearchSpace,
                          complexity_fn: Callable[[Architecture], Any] | None = None
                          ) -> list[Violation]:
    """The constraints of `space` that `arch` breaks (empty when it is feasible).

    Args:
      complexity_fn: arch -> object with `.params` and `.flops` (default:
        resnet_nas.nets.complexity.complexity); only called when a budget is set.
    """
    c = space.constraints
    out: list[Violation] = []
    problem = output_stride_problem(arch)
    if problem:
        out.append(Violation("output_stride", 1.0, problem))
    if c.depths_non_decreasing:
        depths = [block.units[-1][0] for block in arch.blocks]
        drops = sum(b < a for a, b in zip(depths, depths[1:]))
        if drops:
            out.append(Violation("depths_non_decreasing", float(drops),
                                 f"stage depths {depths} decrease (depths_non_decreasing)"))
    stride = total_stride(arch)
    if c.max_total_stride is not None and stride > c.max_total_stride:
        out.append(Violation("max_total_stride", stride / c.max_total_stride - 1,
                             f"total stride {stride} > max_total_stride {c.max_total_stride}"))
    if c.min_total_stride is not None and stride < c.min_total_stride:
        out.append(Violation("min_total_stride", c.min_total_stride / stride - 1,
                             f"total stride {stride} < min_total_stride {c.min_total_stride}"))
    if c.needs_complexity and problem is None:  # complexity needs a buildable stride plan
        cx = (complexity_fn or _default_complexity())(arch)
        for what, value in (("params", cx.params), ("flops", cx.flops)):
            hi, lo = getattr(c, f"max_{what}"), getattr(c, f"min_{what}")
            if hi is not None and value > hi:
                out.append(Violation(f"max_{what}", (value - hi) / max(hi, 1),
                                     f"{what} {value:,} > max_{what} {hi:,}"))
            if lo is not None and value < lo:
                out.append(Violation(f"min_{what}", (lo - value) / max(lo, 1),
                                     f"{what} {value:,} < min_{what} {lo:,}"))
    return out


def check_constraints(arch: Architecture, space: SearchSpace,
                      complexity_fn: Callable[[Architecture], Any] | None = None) -> list[str]:
    """Checks `arch` against the space's constraints.

    Args:
      arch: a sampled architecture.
      space: the space whose `constraints` apply.
      complexity_fn: arch -> object with `.params` and `.flops` (default:
        resnet_nas.nets.complexity.complexity); only called when a budget is set.

    Returns:
      Human-readable reasons the architecture is infeasible; empty when it is feasible
      (constraint_violations, as sentences).
    """
    return [v.text for v in constraint_violations(arch, space, complexity_fn)]
