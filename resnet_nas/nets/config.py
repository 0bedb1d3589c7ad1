"""`ResNetConfig`: the explicit replacement for slim's `resnet_arg_scope` (plain data)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

#: 'unbiased': slim's fused batch norm (n / (n - 1) correction); 'biased': Keras' rule.
MOVING_VARIANCE_RULES = ("unbiased", "biased")


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
      batch_norm_moving_variance: how a training step updates BN's moving variance.
        'unbiased' is slim's rule (its default fused batch norm): the batch variance times
        n / (n - 1), n = B * H * W. 'biased' is Keras' BatchNormalization. Both normalise a
        training batch with its biased variance, as slim does. None means 'unbiased' for every
        slim builder (units, `resnet_v1`, `resnet_v2`, the named `resnet_v*_50...200`), and
        'biased' for the search's `build_model(Architecture)`, so recorded trials retrain the
        same as before this option existed.
    """

    weight_decay: float = 1e-4
    batch_norm_decay: float = 0.997
    batch_norm_epsilon: float = 1e-5
    batch_norm_scale: bool = True
    activation: str = "relu"
    use_batch_norm: bool = True
    training: bool | None = None
    batch_norm_moving_variance: str | None = None

    def __post_init__(self) -> None:
        if self.batch_norm_moving_variance not in MOVING_VARIANCE_RULES + (None,):
            raise ValueError(f"batch_norm_moving_variance must be one of "
                             f"{', '.join(MOVING_VARIANCE_RULES)} or None, "
                             f"got {self.batch_norm_moving_variance!r}")


    def replace(self, **changes: Any) -> "ResNetConfig":
        return dataclasses.replace(self, **changes)
