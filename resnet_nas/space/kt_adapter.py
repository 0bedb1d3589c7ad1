"""Keras Tuner adapter: lets the same search space drive a Keras Tuner search.

`KerasTunerTrial(hp)` wraps a `keras_tuner.HyperParameters` and offers Optuna's
`suggest_int` / `suggest_float` / `suggest_categorical`, so

    def build_model(hp):
        arch = sample_architecture(space, KerasTunerTrial(hp), input_shape=..., num_classes=...)
        ...

registers exactly the parameters (same names) that an Optuna study would see. Two Keras Tuner
rules shape the mapping:

- `hp.Choice` values must be scalars of one type; choices that mix types or contain None
  (e.g. output_stride [null, 16, 8]) are registered as their JSON strings ('null', '16', '8')
  and decoded back.
- A hyperparameter's range is fixed when it is first registered, and later registrations under
  the same name return the oracle's value unchanged. The adapter therefore clips values into
  the range asked for, and says `dynamic_ranges = False` so that `sample_architecture` asks
  for full ranges and applies range-dependent rules (non-decreasing depths) itself.

This module does not import keras_tuner; it only calls methods of the object it is given.
"""

from __future__ import annotations

import json
import math
from typing import Any


def _same_type_scalars(values: list[Any]) -> bool:
    if not values:
        return False
    types = {type(v) for v in values}
    return len(types) == 1 and types.pop() in (int, float, str, bool)


class KerasTunerTrial:
    """Optuna-style trial facade over `keras_tuner.HyperParameters`.

    Attributes:
      hp: the wrapped HyperParameters.
      params: name -> value of every parameter suggested through this object (like
        `optuna.trial.Trial.params`).
    """

    #: Keras Tuner cannot change a parameter's range between builds (see module docstring).
    dynamic_ranges = False

    def __init__(self, hp: Any):
        self.hp = hp
        self.params: dict[str, Any] = {}

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1,
                    log: bool = False) -> int:
        """hp.Int(name, low, high, step, sampling='linear'|'log'), clipped to [low, high]."""
        if low == high:
            value = low
        elif log:
            # Keras Tuner reads `step` multiplicatively under log sampling; leave it out.
            value = self.hp.Int(name, low, high, sampling="log")
        else:
            value = self.hp.Int(name, low, high, step=step, sampling="linear")
        value = int(min(max(value, low), high))
        if not log and step > 1:
            value = low + (value - low) // step * step
        self.params[name] = value
        return value

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None,
                      log: bool = False) -> float:
        """hp.Float(name, low, high, step, sampling='linear'|'log'), clipped to [low, high]."""
        if low == high:
            value = float(low)
        elif log:
            value = self.hp.Float(name, low, high, sampling="log")
        else:
            value = self.hp.Float(name, low, high, step=step, sampling="linear")
        value = float(min(max(value, low), high))
        if step:
            value = round(low + math.floor((value - low) / step + 1e-9) * step, 12)
        self.params[name] = value
        return value

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        """hp.Choice(name, choices); mixed-type or None choices go through JSON strings."""
        choices = list(choices)
        if len(choices) == 1:
            value = choices[0]
        elif _same_type_scalars(choices):
            value = self.hp.Choice(name, choices)
            if value not in choices:
                raise ValueError(f"Keras Tuner hyperparameter {name!r} was registered with "
                                 f"other choices; got {value!r}, expected one of {choices}")
        else:
            labels = [json.dumps(c) for c in choices]
            label = self.hp.Choice(name, labels)
            if label not in labels:
                raise ValueError(f"Keras Tuner hyperparameter {name!r} was registered with "
                                 f"other choices; got {label!r}, expected one of {labels}")
            value = choices[labels.index(label)]
        self.params[name] = value
        return value
