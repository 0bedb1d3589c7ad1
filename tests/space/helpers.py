"""Shared helpers of the search-space tests."""

import textwrap
from pathlib import Path

import optuna
import pytest

from resnet_nas.space import load_space
from resnet_nas.validation import ConfigError

SHIPPED = ("quickstart", "cifar_resnet", "slim_imagenet", "anynet")

# A small space with every kind of conditional parameter.
CONDITIONAL = """\
name: conditional
space:
  unit: [v1_basic, v1_bottleneck]
  root: [cifar, none]
  root_depth: {low: 8, high: 16, step: 8}
  shortcut: [A, B]
  stages:
    count: {low: 1, high: 3}
    depth: {low: 8, high: 64, step: 8}
    units: {low: 1, high: 3}
    stride: [1, 2]
    bottleneck_ratio: [0.25, 0.5]
"""


def write(tmp_path: Path, text: str, name: str = "space.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def random_trials(seed: int = 0):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    while True:
        yield study.ask()


class RecordingTrial:
    """Optuna-like trial that records every suggestion and returns the lowest value."""

    def __init__(self):
        self.calls: list[str] = []

    def suggest_int(self, name, low, high, step=1, log=False):
        self.calls.append(name)
        return low

    def suggest_float(self, name, low, high, step=None, log=False):
        self.calls.append(name)
        return low

    def suggest_categorical(self, name, choices):
        self.calls.append(name)
        return choices[0]


def error_of(tmp_path: Path, text: str) -> ConfigError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_space(path)
    message = str(info.value)
    assert str(path) in message, message
    return info.value


