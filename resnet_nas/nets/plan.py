"""slim's atrous stride plan and the root's stride, as pure data (no Keras).

Kept apart from `resnet_utils` so that the search process can validate architectures and count
their parameters and FLOPs without importing a Keras backend; the builders, the complexity
counter and the search-space checks all use these rules (written once, here).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


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


#: Nominal stride of each root: 'imagenet' is slim's 7x7/2 conv + 3x3/2 max-pool.
ROOT_STRIDES = {"imagenet": 4, "cifar": 1, "none": 1}


def root_stride(root: str) -> int:
    """The nominal stride of a root ('imagenet' 4, 'cifar' and 'none' 1)."""
    return ROOT_STRIDES[root]


def blocks_output_stride(output_stride: int | None, root: str) -> int | None:
    """The output stride left for the blocks after the root (resnet_v1/v2): with the ImageNet
    root it must be a multiple of 4, and is divided by 4.

    Raises:
      ValueError: slim's message, when it is not a multiple of the root's stride.
    """
    stride = root_stride(root)
    if output_stride is None or stride == 1:
        return output_stride
    if output_stride % stride != 0:
        raise ValueError(f"The output_stride needs to be a multiple of {stride}.")
    return output_stride // stride


def check_output_stride(strides: Sequence[Sequence[int]], output_stride: int | None,
                        root: str = "none") -> int | None:
    """Validates an output_stride for a network; returns the stride left for the blocks.

    Raises:
      ValueError: not a positive integer, not a multiple of the root's stride, or not
        reachable by the blocks' strides.
    """
    if output_stride is None:
        return None
    if isinstance(output_stride, bool) or not isinstance(output_stride, int) or output_stride < 1:
        raise ValueError(f"output_stride must be a positive integer or None, got {output_stride!r}")
    output_stride = blocks_output_stride(output_stride, root)
    plan_strides(strides, output_stride)
    return output_stride
