"""The engines by name: `ENGINES[name]()` builds one (resnet_nas.engines.base.Engine).

Each entry imports its engine's module only when called, so that a search imports the library
of the engine it runs only (Keras Tuner imports Keras). The names are vocabulary.ENGINE_NAMES.
"""

from __future__ import annotations

from collections.abc import Callable

from resnet_nas.engines.base import Engine
from resnet_nas.vocabulary import KERAS_TUNER, OPTUNA


def _optuna() -> Engine:
    from resnet_nas.engines.optuna_engine import OptunaEngine

    return OptunaEngine()


def _keras_tuner() -> Engine:
    from resnet_nas.engines.keras_tuner_engine import KerasTunerEngine

    return KerasTunerEngine()


#: Engine name -> a function that builds it.
ENGINES: dict[str, Callable[[], Engine]] = {OPTUNA: _optuna, KERAS_TUNER: _keras_tuner}
