"""Analytic parameter and FLOP counts of an Architecture, before any model is built.

The search uses this to reject samples that break a params/FLOPs budget without paying for a
Keras build. The counts mirror the builders in resnet_v1/resnet_v2 layer by layer, and the tests
check them against the built model (`count_params()` and a walk over its conv layers).

FLOPs here are multiply-accumulates (MACs) of the convolutions (logits included) for one example,
as in pycls and fvcore; batch norm, additions, activations and pooling are not counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from resnet_nas.nets.arch import Architecture
from resnet_nas.nets.config import ResNetConfig
from resnet_nas.nets.plan import blocks_output_stride, plan_strides


@dataclass(frozen=True)
class Complexity:
    """params: all weights incl. BN moving statistics (Keras count_params());
    trainable_params: trainable weights; flops: conv multiply-accumulates per example;
    activations: values of every conv output for one example (batch norm and ReLU keep the
    sizes of the conv outputs they follow: the base of an activation-memory estimate)."""

    params: int
    trainable_params: int
    flops: int
    activations: int = 0


class _Counter:
    def __init__(self, config: ResNetConfig):
        self.config = config
        self.params = 0
        self.trainable = 0
        self.flops = 0
        self.activations = 0

    def bn(self, channels: int) -> None:
        learned = channels * (2 if self.config.batch_norm_scale else 1)
        self.trainable += learned
        self.params += learned + 2 * channels  # moving mean and variance

    def conv(self, hw: tuple[int, int], c_in: int, c_out: int, k: int, stride: int = 1,
             normalize: bool | None = None) -> tuple[int, int]:
        """A conv (+BN or bias); returns the output spatial size."""
        normalize = self.config.use_batch_norm if normalize is None else normalize
        h, w = (math.ceil(hw[0] / stride), math.ceil(hw[1] / stride))
        weights = k * k * c_in * c_out
        self.params += weights
        self.trainable += weights
        self.flops += h * w * weights
        self.activations += h * w * c_out
        if normalize:
            self.bn(c_out)
        else:
            self.params += c_out
            self.trainable += c_out
        return h, w


def _unit(cnt: _Counter, arch: Architecture, hw, c_in, depth, depth_bottleneck, stride):
    v2 = arch.kind.version == 2
    if v2:
        cnt.bn(c_in)  # preact, present whatever use_batch_norm says (as in slim)
    projection = depth != c_in
    if arch.kind.basic and arch.shortcut == "A" and depth > c_in:
        projection = False  # subsample + zero-pad
    if projection:
        cnt.conv(hw, c_in, depth, 1, stride, normalize=False if v2 else None)
    if not arch.kind.basic:
        cnt.conv(hw, c_in, depth_bottleneck, 1)
        out = cnt.conv(hw, depth_bottleneck, depth_bottleneck, 3, stride)
        cnt.conv(out, depth_bottleneck, depth, 1, normalize=False if v2 else None)
    else:
        out = cnt.conv(hw, c_in, depth, 3, stride)
        cnt.conv(out, depth, depth, 3, normalize=False if v2 else None)
    return out


def complexity(arch: Architecture, config: ResNetConfig | None = None) -> Complexity:
    """Counts params and FLOPs of `arch` as `build_model(arch, config)` would build it.

    Args:
      arch: the architecture.
      config: the ResNetConfig the model is built with (BN on/off and BN scale change counts).

    Returns:
      Complexity(params, trainable_params, flops).
    """
    cnt = _Counter(config or ResNetConfig())
    h, w, c = arch.input_shape
    hw = (h, w)
    v2 = arch.kind.version == 2
    if arch.root == "imagenet":
        hw = cnt.conv(hw, c, arch.root_depth, 7, 2, normalize=False if v2 else None)
        hw = (math.ceil(hw[0] / 2), math.ceil(hw[1] / 2))  # pool1, SAME
        c = arch.root_depth
    elif arch.root == "cifar":
        hw = cnt.conv(hw, c, arch.root_depth, 3, 1, normalize=False if v2 else None)
        c = arch.root_depth
    plans = plan_strides(arch.unit_strides(), blocks_output_stride(arch.output_stride, arch.root))
    for block, plan in zip(arch.blocks, plans):
        for (depth, depth_bottleneck, _), unit_plan in zip(block.units, plan.units):
            hw = _unit(cnt, arch, hw, c, depth, depth_bottleneck, unit_plan.stride)
            c = depth
    if v2:
        cnt.bn(c)  # postnorm
    cnt.conv((1, 1), c, arch.num_classes, 1, normalize=False)  # logits after global pool
    return Complexity(cnt.params, cnt.trainable, cnt.flops, cnt.activations)
