"""Keras 3 port of TF-slim's `nets/resnet_v2.py` (pre-activation ResNets).

[2] Kaiming He, Xiangyu Zhang, Shaoqing Ren, Jian Sun. Identity Mappings in Deep Residual
    Networks. arXiv:1603.05027

Differences from v1 kept from slim: every unit starts with a BN+ReLU 'preact' (present even with
use_batch_norm=False), projections and the last conv of a unit are biased convs without BN, unit
outputs carry no activation, the root conv has neither BN nor activation, and a 'postnorm'
BN+ReLU follows the last block.

Typical use: slim's two examples, as written in resnet_v1's docstring with
`resnet_v2.resnet_v2_101` for `resnet_v1.resnet_v1_101` (classification into 1000 classes on
224x224 gives [B, 1000]; the segmentation call on 513x513 with global_pool=False,
output_stride=16 gives [B, 33, 33, 21]).

Signatures follow the tf_slim generation of slim (tensorflow/models research/slim/nets at
3b998e4f; see resnet_v1's docstring for how older generations differ): `resnet_v2(inputs,
blocks, num_classes, is_training, global_pool, output_stride, include_root_block, spatial_squeeze, reuse, scope)` and `resnet_v2_50...200(inputs,
num_classes, is_training, global_pool, output_stride, spatial_squeeze, reuse, scope)`; the
port's own arguments (`root`, `root_depth`, `config`) are keyword-only, and `reuse` only accepts
None/False.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from resnet_nas.nets.config import ResNetConfig
from resnet_nas.nets.resnet_utils import (Block, collect_end_point, batch_norm,
                                          bottleneck_block, check_reuse, check_root_output_stride, conv2d,
                                          conv2d_same, layer_name, resnet_head, root_block,
                                          slim_blocks, stack_blocks_dense, subsample,
                                          zero_pad_channels)


def bottleneck(inputs, depth: int, depth_bottleneck: int, stride: int, rate: int = 1, *,
               config: ResNetConfig | None = None, scope: str = "bottleneck_v2",
               end_points: dict | None = None):
    """Bottleneck residual unit variant with BN before convolutions.

    This is the full preactivation residual unit variant proposed in [2]. See Fig. 1(b) of [2]
    for its definition. When putting together two consecutive ResNet blocks that use this unit,
    one should use stride = 2 in the last unit of the first block.

    Args:
      inputs: A tensor of size [batch, height, width, channels].
      depth: The depth of the ResNet unit output.
      depth_bottleneck: The depth of the bottleneck layers.
      stride: The ResNet unit's stride. Determines the amount of downsampling of the units
        output compared to its input.
      rate: An integer, rate for atrous convolution.
      config: ResNetConfig.
      scope: slim scope of the unit.
      end_points: dict collecting end points.

    Returns:
      The ResNet unit's output.
    """
    config = config or ResNetConfig()
    depth_in = inputs.shape[-1]
    preact = batch_norm(inputs, config, f"{scope}/preact", activation="relu")
    if depth == depth_in:
        shortcut = subsample(inputs, stride, f"{scope}/shortcut")
    else:
        shortcut = conv2d(preact, depth, 1, stride=stride, config=config,
                          scope=f"{scope}/shortcut", activation=None, normalize=False,
                          end_points=end_points)
    residual = conv2d(preact, depth_bottleneck, 1, config=config, scope=f"{scope}/conv1",
                      end_points=end_points)
    residual = conv2d_same(residual, depth_bottleneck, 3, stride, rate=rate,
                           scope=f"{scope}/conv2", config=config, end_points=end_points)
    residual = conv2d(residual, depth, 1, config=config, scope=f"{scope}/conv3", activation=None,
                      normalize=False, end_points=end_points)
    return _unit_output(shortcut, residual, scope, end_points)


bottleneck.default_scope = "bottleneck_v2"


def basic(inputs, depth: int, depth_bottleneck: int | None = None, stride: int = 1,
          rate: int = 1, *, config: ResNetConfig | None = None, scope: str = "basic_v2",
          end_points: dict | None = None, shortcut: str = "B", output_rate: int | None = None):
    """Pre-activation basic unit (BN-ReLU-conv3x3-BN-ReLU-conv3x3) of He et al. (2016).

    Follows slim's v2 conventions: the projection (shortcut 'B') reads the preactivation and is
    a biased conv without BN; the last conv is biased without BN; no output activation.

    Args:
      inputs: A tensor of size [batch, height, width, channels].
      depth: The depth of the unit output.
      depth_bottleneck: Ignored (Block compatibility).
      stride: The unit's stride, on the first 3x3 conv.
      rate: Atrous rate for both 3x3 convs.
      config: ResNetConfig.
      scope: slim scope of the unit.
      end_points: dict collecting end points.
      shortcut: 'A' (subsample + zero-pad channels) or 'B' (projection), where depth changes.
      output_rate: dilation of the second 3x3 conv (default `rate`). stack_blocks_dense passes
        rate * nominal stride in atrous mode, since that conv follows the dropped stride.

    Returns:
      The unit's output.
    """
    del depth_bottleneck
    config = config or ResNetConfig()
    depth_in = inputs.shape[-1]
    preact = batch_norm(inputs, config, f"{scope}/preact", activation="relu")
    if depth == depth_in:
        short = subsample(inputs, stride, f"{scope}/shortcut")
    elif shortcut == "A" and depth > depth_in:
        short = zero_pad_channels(subsample(inputs, stride, f"{scope}/shortcut_subsample"),
                                  depth, f"{scope}/shortcut")
    else:
        short = conv2d(preact, depth, 1, stride=stride, config=config, scope=f"{scope}/shortcut",
                       activation=None, normalize=False, end_points=end_points)
    residual = conv2d_same(preact, depth, 3, stride, rate=rate, scope=f"{scope}/conv1",
                           config=config, end_points=end_points)
    residual = conv2d(residual, depth, 3, rate=output_rate or rate, config=config, scope=f"{scope}/conv2",
                      activation=None, normalize=False, end_points=end_points)
    return _unit_output(short, residual, scope, end_points)


basic.default_scope = "basic_v2"
basic.accepts_output_rate = True


def _unit_output(shortcut, residual, scope, end_points):
    net = keras.layers.Add(name=layer_name(f"{scope}/add"))([shortcut, residual])
    return collect_end_point(end_points, scope, net)


def resnet_v2(inputs, blocks: Sequence[Block], num_classes: int | None = None,
              is_training: bool | None = True, global_pool: bool = True,
              output_stride: int | None = None, include_root_block: bool = True,
              spatial_squeeze: bool = True, reuse: bool | None = None,
              scope: str | None = None, *, root: str = "imagenet", root_depth: int = 64,
              config: ResNetConfig | None = None):
    """Generator for v2 (preactivation) ResNet models.

    This function generates a family of ResNet v2 models. See the resnet_v2_*() methods for
    specific model instantiations. Arguments and return values are as in
    `resnet_nas.nets.resnet_v1.resnet_v1` (v2 has no store_non_strided_activations).

    With include_root_block=False, `inputs` should be the results of an activation-less
    convolution.

    Returns:
      net, end_points: as in resnet_v1. end_points['<scope>/blockN'] of the last block is the
        pre-'postnorm' sum, while global_pool and the logits follow 'postnorm'.

    Raises:
      ValueError: If the target output_stride is not valid.
    """
    check_reuse(reuse)
    scope = scope or "resnet_v2"
    config = (config or ResNetConfig()).replace(training=None if is_training is not False
                                                else False)
    end_points: dict = {}
    net = inputs
    output_stride = check_root_output_stride(output_stride, include_root_block, root)
    if include_root_block:
        net = root_block(net, root, root_depth, config, scope, end_points, preactivation=True)
    net = stack_blocks_dense(net, blocks, output_stride, config=config, scope=scope,
                             end_points=end_points)
    # This is needed because the pre-activation variant does not have batch normalization or
    # activation functions in the residual unit output. See Appendix of [2].
    net = batch_norm(net, config, f"{scope}/postnorm", activation="relu")
    net = resnet_head(net, end_points, num_classes, global_pool, spatial_squeeze, config, scope)
    return net, end_points


resnet_v2.default_image_size = 224


def resnet_v2_block(scope: str, base_depth: int, num_units: int, stride: int) -> Block:
    """Helper function for creating a resnet_v2 bottleneck block.

    Args:
      scope: The scope of the block.
      base_depth: The depth of the bottleneck layer for each unit.
      num_units: The number of units in the block.
      stride: The stride of the block, implemented as a stride in the last unit. All other
        units have stride=1.

    Returns:
      A resnet_v2 bottleneck block.
    """
    return bottleneck_block(scope, bottleneck, base_depth, num_units, stride)




def resnet_v2_blocks(layers: int) -> list[Block]:
    """slim's block configs for resnet_v2_{50,101,152,200}."""
    return slim_blocks(layers, bottleneck)


def _make(layers: int):
    def model(inputs, num_classes=None, is_training=True, global_pool=True, output_stride=None,
              spatial_squeeze=True, reuse=None, scope=f"resnet_v2_{layers}", config=None):
        return resnet_v2(inputs, resnet_v2_blocks(layers), num_classes, is_training,
                         global_pool=global_pool, output_stride=output_stride,
                         include_root_block=True, spatial_squeeze=spatial_squeeze, reuse=reuse,
                         scope=scope, config=config)
    model.__name__ = f"resnet_v2_{layers}"
    model.__doc__ = f"ResNet-{layers} v2 model of [2]. See resnet_v2() for arg and return description."
    model.default_image_size = 224
    return model


resnet_v2_50 = _make(50)
resnet_v2_101 = _make(101)
resnet_v2_152 = _make(152)
resnet_v2_200 = _make(200)
