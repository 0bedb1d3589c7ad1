"""Keras-free pieces of the nets: the arg-scope config and slim's atrous stride plan.

Kept apart from `resnet_utils` so that the search process can validate architectures and count
their parameters and FLOPs without importing a Keras backend.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
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


# ---------------------------------------------------------------------------------------------
# The atrous schedule, as pure data, shared by stack_blocks_dense and the complexity counter.
@dataclass(frozen=True)
class UnitPlan:
    stride: int  # stride the unit actually runs with
    rate: int  # dilation rate of the unit's (first) 3x3 conv
    # Dilation rate for convs after the unit's stride point: rate * nominal stride in atrous
    # mode. slim's bottleneck has no such conv; the basic unit's second 3x3 conv needs it.
    output_rate: int = 1


@dataclass(frozen=True)
class BlockPlan:
    units: tuple[UnitPlan, ...]
    subsample: int  # factor applied after the block end point (store_non_strided_activations)


_UNREACHABLE = "The target output_stride cannot be reached."


def plan_strides(strides: Sequence[Sequence[int]], output_stride: int | None = None,
                 store_non_strided_activations: bool = False) -> list[BlockPlan]:
    """slim's stack_blocks_dense stride/rate logic, without building anything.

    Args:
      strides: per block, the nominal stride of each unit.
      output_stride: target ratio of input to output resolution, or None.
      store_non_strided_activations: move each block's last stride after its end point.

    Returns:
      One BlockPlan per block.

    Raises:
      ValueError: if the target output_stride cannot be reached (slim's message).
    """
    current_stride, rate = 1, 1
    plans = []
    for block_strides in strides:
        block_stride = 1
        units = []
        for i, stride in enumerate(block_strides):
            if store_non_strided_activations and i == len(block_strides) - 1:
                block_stride, stride = stride, 1
            if output_stride is not None and current_stride == output_stride:
                units.append(UnitPlan(1, rate, rate * stride))
                rate *= stride
            else:
                units.append(UnitPlan(stride, 1, 1))
                current_stride *= stride
                if output_stride is not None and current_stride > output_stride:
                    raise ValueError(_UNREACHABLE)
        if output_stride is not None and current_stride == output_stride:
            rate *= block_stride
            subsample_factor = 1
        else:
            subsample_factor = block_stride
            current_stride *= block_stride
            if output_stride is not None and current_stride > output_stride:
                raise ValueError(_UNREACHABLE)
        plans.append(BlockPlan(tuple(units), subsample_factor))
    if output_stride is not None and current_stride != output_stride:
        raise ValueError(_UNREACHABLE)
    return plans


def check_output_stride(strides: Sequence[Sequence[int]], output_stride: int | None,
                        root_stride: int = 1) -> int | None:
    """Validates an output_stride for a network; returns the stride left for the blocks.

    Mirrors resnet_v1/v2: with the 7x7 root (stride 4) the output_stride must be a multiple of 4
    and is divided by 4 before stack_blocks_dense sees it.
    """
    if output_stride is None:
        return None
    if isinstance(output_stride, bool) or not isinstance(output_stride, int) or output_stride < 1:
        raise ValueError(f"output_stride must be a positive integer or None, got {output_stride!r}")
    if root_stride != 1:
        if output_stride % root_stride != 0:
            raise ValueError(f"The output_stride needs to be a multiple of {root_stride}.")
        output_stride //= root_stride
    plan_strides(strides, output_stride)
    return output_stride
