"""Keras 3 port of TF-slim's `nets/resnet_v1.py` (post-activation ResNets).

Residual networks (ResNets) were proposed in:
[1] Kaiming He, Xiangyu Zhang, Shaoqing Ren, Jian Sun. Deep Residual Learning for Image
    Recognition. arXiv:1512.03385

As in slim, the stride of a strided bottleneck unit sits on its 3x3 conv, and the stride of a
block sits on its LAST unit. Besides slim's `bottleneck`, a `basic` unit (two 3x3 convs, He et
al.'s CIFAR unit) is provided.

Typical use (slim's examples; `slim.arg_scope(resnet_arg_scope())` becomes `config=`, and
`is_training=False` pins batch norm to inference as in slim):

ResNet-101 for image classification into 1000 classes:

   inputs = keras.Input((224, 224, 3))
   net, end_points = resnet_v1.resnet_v1_101(inputs, 1000, is_training=False,
                                             config=ResNetConfig())   # net: [B, 1000]

ResNet-101 for semantic segmentation into 21 classes:

   inputs = keras.Input((513, 513, 3))
   net, end_points = resnet_v1.resnet_v1_101(inputs, 21, is_training=False,
                                             global_pool=False, output_stride=16,
                                             config=ResNetConfig())   # net: [B, 33, 33, 21]

Signatures follow the tf_slim generation of slim (tensorflow/models research/slim/nets at
3b998e4f): `resnet_v1(inputs, blocks, num_classes, is_training, global_pool, output_stride,
include_root_block, spatial_squeeze, store_non_strided_activations, reuse, scope)` and
`resnet_v1_50/101(inputs, num_classes, is_training, global_pool, output_stride,
spatial_squeeze, store_non_strided_activations, min_base_depth, depth_multiplier, reuse,
scope)`, with 152/200 taking store_non_strided_activations before spatial_squeeze, as slim's
do. The older tf.contrib generation, whose module docstring the examples above come from, had
no store_non_strided_activations (nor min_base_depth, depth_multiplier): a positional call
written for it passes its `reuse` where this signature expects store_non_strided_activations,
so pass those arguments by keyword. The port's own arguments (`root`, `root_depth`, `config`,
units' `end_points`) are keyword-only, and `reuse` only accepts None/False.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from resnet_nas.nets.config import ResNetConfig
from resnet_nas.nets.resnet_utils import (Block, collect_end_point, bottleneck_block,
                                          check_reuse, check_root_output_stride, conv2d, conv2d_same,
                                          layer_name, resnet_head, root_block, slim_blocks,
                                          stack_blocks_dense, subsample, zero_pad_channels)


def bottleneck(inputs, depth: int, depth_bottleneck: int, stride: int, rate: int = 1, *,
               config: ResNetConfig | None = None, scope: str = "bottleneck_v1",
               end_points: dict | None = None, use_bounded_activations: bool = False):
    """Bottleneck residual unit variant with BN after convolutions.

    This is the original residual unit proposed in [1]. See Fig. 1(a) of [2] for its
    definition. When putting together two consecutive ResNet blocks that use this unit, one
    should use stride = 2 in the last unit of the first block.

    Args:
      inputs: A tensor of size [batch, height, width, channels].
      depth: The depth of the ResNet unit output.
      depth_bottleneck: The depth of the bottleneck layers.
      stride: The ResNet unit's stride. Determines the amount of downsampling of the units
        output compared to its input.
      rate: An integer, rate for atrous convolution.
      config: ResNetConfig (slim's resnet_arg_scope).
      scope: slim scope of the unit; the unit output is collected under it.
      end_points: dict collecting slim's end points.
      use_bounded_activations: Whether or not to use bounded activations. Bounded activations
        better lend themselves to quantized inference.

    Returns:
      The ResNet unit's output.
    """
    config = config or ResNetConfig()
    depth_in = inputs.shape[-1]
    if depth == depth_in:
        shortcut = subsample(inputs, stride, f"{scope}/shortcut")
    else:
        shortcut = conv2d(inputs, depth, 1, stride=stride, config=config,
                          scope=f"{scope}/shortcut",
                          activation="relu6" if use_bounded_activations else None,
                          end_points=end_points)
    residual = conv2d(inputs, depth_bottleneck, 1, config=config, scope=f"{scope}/conv1",
                      end_points=end_points)
    residual = conv2d_same(residual, depth_bottleneck, 3, stride, rate=rate,
                           scope=f"{scope}/conv2", config=config, end_points=end_points)
    residual = conv2d(residual, depth, 1, config=config, scope=f"{scope}/conv3",
                      activation=None, end_points=end_points)
    return _unit_output(shortcut, residual, scope, end_points, use_bounded_activations)


bottleneck.default_scope = "bottleneck_v1"


def basic(inputs, depth: int, depth_bottleneck: int | None = None, stride: int = 1,
          rate: int = 1, *, config: ResNetConfig | None = None, scope: str = "basic_v1",
          end_points: dict | None = None, shortcut: str = "B", output_rate: int | None = None):
    """Basic residual unit (two 3x3 convs, BN after each) of He et al. (2015), CIFAR nets.

    The stride sits on the first 3x3 conv (through `conv2d_same`, so strided units align with
    slim's subsampling). `depth_bottleneck` is accepted for Block compatibility and ignored.

    Args:
      inputs: A tensor of size [batch, height, width, channels].
      depth: The depth of the unit output.
      depth_bottleneck: Ignored.
      stride: The unit's stride.
      rate: Atrous rate for both 3x3 convs.
      config: ResNetConfig.
      scope: slim scope of the unit.
      end_points: dict collecting end points.
      shortcut: where the depth changes: 'A' = subsample + zero-pad channels (parameter-free,
        He et al.'s CIFAR choice; falls back to 'B' if the depth decreases), 'B' = 1x1
        projection conv + BN (slim's rule).
      output_rate: dilation of the second 3x3 conv (default `rate`). stack_blocks_dense passes
        rate * nominal stride in atrous mode, since that conv follows the dropped stride.

    Returns:
      The unit's output.
    """
    del depth_bottleneck
    config = config or ResNetConfig()
    depth_in = inputs.shape[-1]
    if depth == depth_in:
        short = subsample(inputs, stride, f"{scope}/shortcut")
    elif shortcut == "A" and depth > depth_in:
        short = zero_pad_channels(subsample(inputs, stride, f"{scope}/shortcut_subsample"),
                                  depth, f"{scope}/shortcut")
    else:
        short = conv2d(inputs, depth, 1, stride=stride, config=config, scope=f"{scope}/shortcut",
                       activation=None, end_points=end_points)
    residual = conv2d_same(inputs, depth, 3, stride, rate=rate, scope=f"{scope}/conv1",
                           config=config, end_points=end_points)
    residual = conv2d(residual, depth, 3, rate=output_rate or rate, config=config, scope=f"{scope}/conv2",
                      activation=None, end_points=end_points)
    return _unit_output(short, residual, scope, end_points, False)


basic.default_scope = "basic_v1"
basic.accepts_output_rate = True


def _unit_output(shortcut, residual, scope, end_points, bounded: bool):
    if bounded:
        residual = keras.layers.Activation(lambda t: keras.ops.clip(t, -6.0, 6.0),
                                           name=layer_name(f"{scope}/clip"))(residual)
    net = keras.layers.Add(name=layer_name(f"{scope}/add"))([shortcut, residual])
    act = "relu6" if bounded else "relu"  # hard-coded in slim, not the arg_scope activation
    net = keras.layers.Activation(act, name=layer_name(f"{scope}/{act}"))(net)
    return collect_end_point(end_points, scope, net)


def resnet_v1(inputs, blocks: Sequence[Block], num_classes: int | None = None,
              is_training: bool | None = True, global_pool: bool = True,
              output_stride: int | None = None, include_root_block: bool = True,
              spatial_squeeze: bool = True, store_non_strided_activations: bool = False,
              reuse: bool | None = None, scope: str | None = None, *, root: str = "imagenet",
              root_depth: int = 64, config: ResNetConfig | None = None):
    """Generator for v1 ResNet models.

    This function generates a family of ResNet v1 models. See the resnet_v1_*() methods for
    specific model instantiations, obtained by selecting different block instantiations that
    produce ResNets of various depths.

    Training for image classification on Imagenet is usually done with [224, 224] inputs,
    resulting in [7, 7] feature maps at the output of the last ResNet block for the ResNets
    defined in [1] that have nominal stride equal to 32. However, for dense prediction tasks we
    advise that one uses inputs with spatial dimensions that are multiples of 32 plus 1, e.g.,
    [321, 321]. In this case the feature maps at the ResNet output will have spatial shape
    [(height - 1) / output_stride + 1, (width - 1) / output_stride + 1].

    Args:
      inputs: A Keras tensor of size [batch, height_in, width_in, channels].
      blocks: A list of length equal to the number of ResNet blocks.
      num_classes: Number of predicted classes for classification tasks. If 0 or None, we
        return the features before the logit layer.
      is_training: True or None: BN follows Keras' call-time `training`; False pins BN to
        inference mode (slim's is_training=False).
      global_pool: If True, we perform global average pooling before computing the logits.
      output_stride: If None, then the output will be computed at the nominal network stride.
        If output_stride is not None, it specifies the requested ratio of input to output
        spatial resolution.
      include_root_block: If True, include the initial convolution followed by max-pooling
        (or the CIFAR 3x3 conv, see `root`); if False, excludes it.
      spatial_squeeze: if True, logits is of shape [B, C], if false logits is of shape
        [B, 1, 1, C], where B is batch_size and C is number of classes. Only a map known to
        be 1x1 is squeezed: a dense map (global_pool=False on a large input, as in slim's
        segmentation example) keeps logits and predictions of shape [B, H, W, C].
      store_non_strided_activations: If True, we compute non-strided (undecimated) activations
        at the last unit of each block and store them in the end points.
      reuse: slim's variable-scope reuse. Only None/False: Keras shares weights by calling the
        same model again (ValueError for True).
      scope: Optional scope (end-point prefix and layer-name prefix); default 'resnet_v1'.
      root: 'imagenet' (7x7/2 conv + 3x3/2 max-pool, slim) or 'cifar' (3x3/1 conv).
      root_depth: channels of the root conv (slim: 64).
      config: ResNetConfig replacing resnet_arg_scope.

    Returns:
      net: A rank-4 tensor of size [batch, height_out, width_out, channels_out]. If global_pool
        is False, then height_out and width_out are reduced by a factor of output_stride
        compared to the respective height_in and width_in, else both height_out and width_out
        equal one. If num_classes is 0 or None, then net is the output of the last ResNet
        block, potentially after global average pooling. If num_classes a non-zero integer,
        net contains the pre-softmax activations.
      end_points: A dictionary from components of the network to the corresponding activation.

    Raises:
      ValueError: If the target output_stride is not valid.
    """
    check_reuse(reuse)
    scope = scope or "resnet_v1"
    config = (config or ResNetConfig()).replace(training=None if is_training is not False
                                                else False)
    end_points: dict = {}
    net = inputs
    output_stride = check_root_output_stride(output_stride, include_root_block, root)
    if include_root_block:
        net = root_block(net, root, root_depth, config, scope, end_points, preactivation=False)
    net = stack_blocks_dense(net, blocks, output_stride, store_non_strided_activations,
                             config=config, scope=scope, end_points=end_points)
    net = resnet_head(net, end_points, num_classes, global_pool, spatial_squeeze, config, scope)
    return net, end_points


resnet_v1.default_image_size = 224


def resnet_v1_block(scope: str, base_depth: int, num_units: int, stride: int) -> Block:
    """Helper function for creating a resnet_v1 bottleneck block.

    Args:
      scope: The scope of the block.
      base_depth: The depth of the bottleneck layer for each unit.
      num_units: The number of units in the block.
      stride: The stride of the block, implemented as a stride in the last unit. All other
        units have stride=1.

    Returns:
      A resnet_v1 bottleneck block.
    """
    return bottleneck_block(scope, bottleneck, base_depth, num_units, stride)




def resnet_v1_blocks(layers: int, min_base_depth: int = 8,
                     depth_multiplier: float = 1) -> list[Block]:
    """slim's block configs for resnet_v1_{50,101,152,200}."""
    return slim_blocks(layers, bottleneck,
                       lambda d: max(int(d * depth_multiplier), min_base_depth))


def _make(layers: int):
    def model_50_101(inputs, num_classes=None, is_training=True, global_pool=True, output_stride=None,
              spatial_squeeze=True, store_non_strided_activations=False, min_base_depth=8,
              depth_multiplier=1, reuse=None, scope=f"resnet_v1_{layers}", config=None):
        return _build(inputs, num_classes, is_training, global_pool, output_stride,
                      spatial_squeeze, store_non_strided_activations, min_base_depth,
                      depth_multiplier, reuse, scope, config)

    # slim's resnet_v1_152/200 take store_non_strided_activations BEFORE spatial_squeeze;
    # keep that order for positional callers.
    def model_152_200(inputs, num_classes=None, is_training=True, global_pool=True,
                      output_stride=None, store_non_strided_activations=False,
                      spatial_squeeze=True, min_base_depth=8, depth_multiplier=1,
                      reuse=None, scope=f"resnet_v1_{layers}", config=None):
        return _build(inputs, num_classes, is_training, global_pool, output_stride,
                      spatial_squeeze, store_non_strided_activations, min_base_depth,
                      depth_multiplier, reuse, scope, config)

    def _build(inputs, num_classes, is_training, global_pool, output_stride, spatial_squeeze,
               store_non_strided_activations, min_base_depth, depth_multiplier, reuse, scope,
               config):
        blocks = resnet_v1_blocks(layers, min_base_depth, depth_multiplier)
        return resnet_v1(inputs, blocks, num_classes, is_training, global_pool=global_pool,
                         output_stride=output_stride, include_root_block=True,
                         spatial_squeeze=spatial_squeeze,
                         store_non_strided_activations=store_non_strided_activations,
                         reuse=reuse, scope=scope, config=config)
    model = model_152_200 if layers in (152, 200) else model_50_101
    model.__name__ = f"resnet_v1_{layers}"
    model.__doc__ = f"ResNet-{layers} model of [1]. See resnet_v1() for arg and return description."
    model.default_image_size = 224
    return model


resnet_v1_50 = _make(50)
resnet_v1_101 = _make(101)
resnet_v1_152 = _make(152)
resnet_v1_200 = _make(200)
