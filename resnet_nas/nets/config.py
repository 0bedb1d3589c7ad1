"""`ResNetConfig`: the explicit replacement for slim's `resnet_arg_scope` (plain data)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ResNetConfig:
    """Explicit replacement for slim's `resnet_arg_scope`.

    Attributes:
      weight_decay: slim's l2_regularizer scale: the loss is weight_decay * sum(w^2) / 2 on every
        conv kernel (logits included), never on biases or batch-norm variables.
      batch_norm_decay: moving-average decay (Keras `momentum`). slim: 0.997.
      batch_norm_epsilon: slim: 1e-5.
      batch_norm_scale: whether BN learns gamma. slim's resnet_arg_scope: True.
      activation: activation after conv+BN (slim's `activation_fn`; a Keras activation name).
        As in slim it does not reach v1's unit-output ReLU nor v2's preact/postnorm ReLUs.
      use_batch_norm: BN after convs; without it convs get biases. As in slim, v2's explicit
        preact/postnorm batch norms stay.
      training: None follows Keras' call-time `training` argument (the idiomatic mode); False
        pins every BN to inference mode (slim's is_training=False).
    """

    weight_decay: float = 1e-4
    batch_norm_decay: float = 0.997
    batch_norm_epsilon: float = 1e-5
    batch_norm_scale: bool = True
    activation: str = "relu"
    use_batch_norm: bool = True
    training: bool | None = None

    def replace(self, **changes: Any) -> "ResNetConfig":
        return dataclasses.replace(self, **changes)
