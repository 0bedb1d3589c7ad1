"""Parameter specs: how one searchable value is written in a search-space file.

A *parameter spec* is one of

- a fixed scalar, ``unit: v1_basic`` -- used as is, never suggested to the sampler;
- a list of choices, ``unit: [v1_basic, v2_basic]`` or ``{choices: [v1_basic, v2_basic]}``;
- an integer range, ``{low: 16, high: 64, step: 16}`` (``step`` defaults to 1 and must divide
  ``high - low``) or ``{low: 1, high: 64, log: true}``;
- a float range, ``{low: 0.5, high: 1.0, step: 0.25}`` or ``{low: 0.01, high: 1.0, log: true}``.

Parsing normalises the spellings: a one-element list and a range with ``low == high`` become
fixed values, integers given for float parameters become floats. The normalised spec is what the
space hash covers, so equivalent spellings hash the same.

`suggest` turns a spec into a value through an Optuna-like trial (`suggest_int`,
`suggest_float`, `suggest_categorical`); fixed values are returned without a call.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, Union

from resnet_nas.validation import (ConfigError, check_keys, expect_bool, expect_choice,
                                   expect_float, expect_int, join)


class TrialLike(Protocol):
    """The part of `optuna.trial.Trial` the sampler uses (KerasTunerTrial implements it too)."""

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1,
                    log: bool = False) -> int: ...

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None,
                      log: bool = False) -> float: ...

    def suggest_categorical(self, name: str, choices: Any) -> Any: ...


@dataclass(frozen=True)
class Fixed:
    """A value that is used as is and never suggested."""

    value: Any

    def bounds(self) -> tuple[Any, Any]:
        return self.value, self.value

    def to_data(self) -> Any:
        return self.value


@dataclass(frozen=True)
class Choice:
    """A categorical parameter: one of `choices` (at least two, distinct, in file order)."""

    choices: tuple[Any, ...]

    def bounds(self) -> tuple[Any, Any]:
        return min(self.choices), max(self.choices)

    def to_data(self) -> Any:
        return list(self.choices)


@dataclass(frozen=True)
class IntRange:
    """An integer in [low, high] on the grid low + k * step (or log-uniform when `log`)."""

    low: int
    high: int
    step: int = 1
    log: bool = False

    def bounds(self) -> tuple[int, int]:
        return self.low, self.high

    def to_data(self) -> Any:
        return {"low": self.low, "high": self.high, "step": self.step, "log": self.log}

    def ceil_to_grid(self, value: int) -> int:
        """The smallest value of this range's grid that is >= `value` (may exceed `high`)."""
        if value <= self.low:
            return self.low
        if self.log:
            return value
        return self.low + -(-(value - self.low) // self.step) * self.step


@dataclass(frozen=True)
class FloatRange:
    """A float in [low, high], on the grid low + k * step when `step` is set."""

    low: float
    high: float
    step: float | None = None
    log: bool = False

    def bounds(self) -> tuple[float, float]:
        return self.low, self.high

    def to_data(self) -> Any:
        return {"low": self.low, "high": self.high, "step": self.step, "log": self.log}


ParamSpec = Union[Fixed, Choice, IntRange, FloatRange]


@dataclass(frozen=True)
class ValueType:
    """What a single value of a parameter may be.

    Attributes:
      kind: 'int', 'float' or 'str'.
      minimum / maximum: numeric bounds (inclusive unless `exclusive_minimum`).
      enum: the allowed values, when the set is closed (unit kinds, strides 1 and 2).
      nullable: whether YAML `null` is a valid value (output_stride).
      power_of_two: integers must be powers of two (output_stride).
    """

    kind: str
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    enum: tuple[Any, ...] | None = None
    nullable: bool = False
    power_of_two: bool = False

    @property
    def rangeable(self) -> bool:
        """Whether {low, high} ranges make sense for this type."""
        return self.kind in ("int", "float") and not self.power_of_two

    def check(self, value: Any, source: str | None, path: str) -> Any:
        """Returns the normalised value or raises ConfigError."""
        if value is None and self.nullable:
            return None
        if self.kind == "int":
            if self.power_of_two and not (isinstance(value, int) and not isinstance(value, bool)):
                raise ConfigError(source, path, "a power of two (4, 8, 16, ...) or null", value)
            value = expect_int(value, source, path, minimum=_int_or_none(self.minimum),
                               maximum=_int_or_none(self.maximum))
            if self.power_of_two and value & (value - 1):
                raise ConfigError(source, path, "a power of two (4, 8, 16, ...) or null", value)
        elif self.kind == "float":
            value = expect_float(value, source, path, minimum=self.minimum,
                                 maximum=self.maximum, exclusive_minimum=self.exclusive_minimum)
        elif not isinstance(value, str):
            expected = f"one of {list(self.enum)}" if self.enum else "a string"
            raise ConfigError(source, path, expected, value)
        if self.enum is not None:
            expect_choice(value, self.enum, source, path)
        return value


def _int_or_none(x: float | None) -> int | None:
    return None if x is None else int(x)


_CHOICE_KEYS = ("choices",)
_RANGE_KEYS = ("low", "high", "step", "log")


def parse_param(raw: Any, vtype: ValueType, source: str | None, path: str) -> ParamSpec:
    """Parses one parameter spec (fixed value, list of choices, or range).

    Args:
      raw: the YAML value.
      vtype: what each value must be.
      source: file name for error messages.
      path: dotted key path for error messages, e.g. 'space.stages.depth'.

    Returns:
      The normalised spec: Fixed, Choice, IntRange or FloatRange.

    Raises:
      ConfigError: naming the file, the key path, what was expected and what was found.
    """
    if isinstance(raw, list):
        return _parse_choices(raw, vtype, source, path)
    if isinstance(raw, Mapping):
        keys = set(raw)
        if "choices" in keys:
            if keys & {"low", "high", "step", "log"}:
                raise ConfigError(source, path, "either {choices: [...]} or {low:, high:}",
                                  dict(raw), hint="a spec cannot be both")
            check_keys(raw, _CHOICE_KEYS, source, path)
            if not isinstance(raw["choices"], list):
                raise ConfigError(source, join(path, "choices"), "a list of values",
                                  raw["choices"])
            return _parse_choices(raw["choices"], vtype, source, join(path, "choices"))
        if not keys & {"low", "high"}:
            # No recognisable spec key: report the first unknown one with a hint.
            check_keys(raw, _CHOICE_KEYS + _RANGE_KEYS, source, path,
                       required=["low", "high"])
        return _parse_range(raw, vtype, source, path)
    return Fixed(vtype.check(raw, source, path))


#: A categorical parameter with more choices than this is a range in disguise (and a sampler
#: would never explore it).
MAX_CHOICES = 1000


def _parse_choices(raw: list, vtype: ValueType, source: str | None, path: str) -> ParamSpec:
    if not raw:
        raise ConfigError(source, path, "a non-empty list of choices", raw)
    if len(raw) > MAX_CHOICES:
        raise ConfigError(source, path, f"at most {MAX_CHOICES} choices (use a range "
                          "{low:, high:, step:})", f"{len(raw)} choices")
    values = [vtype.check(v, source, join(path, i)) for i, v in enumerate(raw)]
    seen: set[tuple[type, Any]] = set()
    for i, v in enumerate(values):
        if (type(v), v) in seen:
            raise ConfigError(source, join(path, i), "distinct choices", v,
                              hint="this value is listed twice")
        seen.add((type(v), v))
    if len(values) == 1:
        return Fixed(values[0])
    return Choice(tuple(values))


def _parse_range(raw: Mapping, vtype: ValueType, source: str | None, path: str) -> ParamSpec:
    if not vtype.rangeable:
        allowed = f"one of {list(vtype.enum)}" if vtype.enum else "a value"
        raise ConfigError(source, path, f"{allowed} or a list of choices "
                          "(ranges {low:, high:} are only for numeric parameters)", dict(raw))
    check_keys(raw, _RANGE_KEYS, source, path, required=["low", "high"])
    low = vtype.check(raw["low"], source, join(path, "low"))
    high = vtype.check(raw["high"], source, join(path, "high"))
    if low is None or high is None:
        raise ConfigError(source, path, "numeric low and high", dict(raw))
    log = expect_bool(raw.get("log", False), source, join(path, "log"))
    if high < low:
        raise ConfigError(source, join(path, "high"), f"a value >= low ({low})", high)
    if log and low <= 0:
        raise ConfigError(source, join(path, "low"), "a value > 0 for a log-scaled range", low)
    if vtype.kind == "int":
        step = raw.get("step", 1)
        step = expect_int(step, source, join(path, "step"), minimum=1)
        if log and step != 1:
            raise ConfigError(source, join(path, "step"), "1 (or no step) for a log-scaled range",
                              step)
        if (high - low) % step:
            raise ConfigError(source, join(path, "step"),
                              f"a step that divides high - low = {high - low}", step,
                              hint=f"e.g. high: {low + (high - low) // step * step}")
        if low == high:
            return Fixed(low)
        return IntRange(low, high, step, log)
    step = raw.get("step")
    if step is not None:
        step = expect_float(step, source, join(path, "step"), minimum=0.0,
                            exclusive_minimum=True)
        if log:
            raise ConfigError(source, join(path, "step"), "no step for a log-scaled range", step)
        n = (high - low) / step
        if abs(n - round(n)) > 1e-9 * max(1.0, abs(n)):
            raise ConfigError(source, join(path, "step"),
                              f"a step that divides high - low = {high - low:g}", step)
    if low == high:
        return Fixed(low)
    return FloatRange(low, high, step, log)


def spec_to_data(spec: ParamSpec) -> Any:
    """The normalised YAML form of a spec (what `parse_param` reads back to the same spec)."""
    return spec.to_data()


def suggest(spec: ParamSpec, trial: TrialLike, name: str) -> Any:
    """Draws a value for `spec` from `trial` under `name`; fixed values are not suggested."""
    if isinstance(spec, Fixed):
        return spec.value
    if isinstance(spec, Choice):
        return trial.suggest_categorical(name, list(spec.choices))
    if isinstance(spec, IntRange):
        return trial.suggest_int(name, spec.low, spec.high, step=spec.step, log=spec.log)
    if isinstance(spec, FloatRange):
        return trial.suggest_float(name, spec.low, spec.high, step=spec.step, log=spec.log)
    raise TypeError(f"not a parameter spec: {spec!r}")


def possible_values(spec: ParamSpec) -> tuple[Any, ...] | None:
    """All values a spec can take, or None for ranges (which may be large or continuous)."""
    if isinstance(spec, Fixed):
        return (spec.value,)
    if isinstance(spec, Choice):
        return spec.choices
    return None


def round_half_up(x: float) -> int:
    """Rounds to the nearest integer, halves up (Python's round() rounds halves to even)."""
    return int(math.floor(x + 0.5))


__all__ = ["Choice", "Fixed", "FloatRange", "IntRange", "ParamSpec", "TrialLike", "ValueType",
           "parse_param", "possible_values", "round_half_up", "spec_to_data", "suggest"]
