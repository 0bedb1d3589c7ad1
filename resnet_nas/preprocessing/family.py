"""The preprocessing families' common form and the factory (slim's preprocessing_factory)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from resnet_nas.config import AugmentConfig

#: Family name -> its module (each defines train_image and eval_image).
FAMILIES = {"cifar": "resnet_nas.preprocessing.cifar",
            "inception": "resnet_nas.preprocessing.inception",
            "vgg": "resnet_nas.preprocessing.vgg"}


@dataclass(frozen=True)
class Preprocessing:
    """One family's two functions on a single image (TensorFlow tensors).

    Attributes:
      name: the family.
      train_image: (encoded, (height, width, channels), seed [2], AugmentConfig) -> uint8
        image of that shape, augmented.
      eval_image: (encoded, (height, width, channels)) -> uint8 image of that shape,
        deterministic.
    """

    name: str
    train_image: Callable[[Any, tuple[int, int, int], Any, AugmentConfig], Any]
    eval_image: Callable[[Any, tuple[int, int, int]], Any]


def get_preprocessing(name: str) -> Preprocessing:
    """The family `name` (cifar, inception or vgg).

    Raises:
      ValueError: an unknown name.
    """
    if name not in FAMILIES:
        raise ValueError(f"data.preprocessing: expected one of {sorted(FAMILIES)}, found "
                         f"{name!r}")
    module = importlib.import_module(FAMILIES[name])
    return Preprocessing(name, module.train_image, module.eval_image)
