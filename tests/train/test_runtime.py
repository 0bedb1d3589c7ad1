"""The trainers' runtime (resnet_nas.train.runtime)."""

from __future__ import annotations

import pytest

from resnet_nas.config import TrainConfig
from resnet_nas.train.runtime import resolve_trainer


def test_resolve_trainer():
    assert resolve_trainer(TrainConfig(trainer="auto"), "jax") == "jax"
    assert resolve_trainer(TrainConfig(trainer="auto"), "tensorflow") == "tf"
    assert resolve_trainer(TrainConfig(trainer="auto"), "torch") == "fit"
    assert resolve_trainer(TrainConfig(trainer="fit"), "jax") == "fit"
    with pytest.raises(ValueError, match="'jax' needs the JAX backend"):
        resolve_trainer(TrainConfig(trainer="jax"), "torch")
