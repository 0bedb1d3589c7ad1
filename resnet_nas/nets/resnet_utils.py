"""Keras 3 port of TF-slim's `nets/resnet_utils.py`.

Contents mirror slim: the `Block` namedtuple, `subsample`, `conv2d_same`, `stack_blocks_dense`
(with slim's atrous `output_stride` logic), and an explicit `ResNetConfig` that replaces
`resnet_arg_scope`. Everything is built from `keras.layers`, so models run on the TensorFlow,
JAX and PyTorch backends.

Signatures are slim's: `subsample(inputs, factor, scope=None)`, `conv2d_same(inputs,
num_outputs, kernel_size, stride, rate=1, scope=None)` (`name=` is kept as an alias of `scope=`),
`stack_blocks_dense(net, blocks, output_stride=None, store_non_strided_activations=False)`;
the port's additions (`config`, `end_points`, ...) are keyword-only.

Naming: slim scopes such as `resnet_v1_50/block1/unit_1/bottleneck_v1/conv1` are kept verbatim
as end-point keys; Keras forbids `/` in layer names, so layers are named with `/` -> `__`
(reversible, since no slim scope contains a double underscore).
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import keras

from resnet_nas.nets.config import ResNetConfig
from resnet_nas.nets.plan import (ROOT_STRIDES, BlockPlan, UnitPlan,  # noqa: F401
                                  blocks_output_stride, check_output_stride, plan_strides)

# slim's variance_scaling_initializer() draws truncated_normal(0, sqrt(1.3 * 2 / fan_in)).
# Keras' truncated VarianceScaling divides its stddev by 0.8796..., so scale 2.6 * 0.8796^2
# reproduces slim's distribution exactly.
_KERAS_TRUNCATION = 0.87962566103423978
SLIM_VARIANCE_SCALE = 2.6 * _KERAS_TRUNCATION**2


class Block(collections.namedtuple("Block", ["scope", "unit_fn", "args"])):
    """A named tuple describing a ResNet block.

    Its parts are:
      scope: The scope of the `Block`.
      unit_fn: The ResNet unit function which takes as input a tensor and returns another
        tensor with the output of the ResNet unit.
      args: A list of length equal to the number of units in the `Block`. Each entry is a
        (depth, depth_bottleneck, stride) tuple, or a dict with those keys (slim's current
        form), serving as the arguments of unit_fn.
    """


def unit_kwargs(arg: Any) -> dict[str, Any]:
    """Normalises one Block arg (tuple or dict) into unit_fn keyword arguments."""
    if isinstance(arg, Mapping):
        return dict(arg)
    if isinstance(arg, (tuple, list)) and len(arg) == 3:
        depth, depth_bottleneck, stride = arg
        return {"depth": depth, "depth_bottleneck": depth_bottleneck, "stride": stride}
    raise ValueError(f"A Block arg must be a (depth, depth_bottleneck, stride) tuple or a dict, "
                     f"got {arg!r}")


def validate_blocks(blocks: Sequence[Block]) -> None:
    """Raises ValueError for an empty block list or invalid unit args."""
    if not blocks:
        raise ValueError("blocks must be a non-empty list of Block")
    for block in blocks:
        if not isinstance(block, Block):
            raise ValueError(f"expected a Block, got {block!r}")
        if not block.args:
            raise ValueError(f"Block {block.scope!r} has no units")
        for i, arg in enumerate(block.args):
            kw = unit_kwargs(arg)
            where = f"Block {block.scope!r} unit_{i + 1}"
            for key in ("depth", "depth_bottleneck"):
                v = kw.get(key)
                if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v <= 0):
                    raise ValueError(f"{where}: {key} must be a positive integer, got {v!r}")
            if kw.get("depth") is None:
                raise ValueError(f"{where}: depth is required")
            stride = kw.get("stride", 1)
            if stride not in (1, 2) or isinstance(stride, bool):
                raise ValueError(f"{where}: stride must be 1 or 2, got {stride!r}")


# ---------------------------------------------------------------------------------------------
# Layer helpers (slim.conv2d / slim.batch_norm / subsample / conv2d_same).
def layer_name(scope: str) -> str:
    """Keras layer name for a slim scope path."""
    return scope.replace("/", "__")


def scope_of(layer_name_: str) -> str:
    return layer_name_.replace("__", "/")


def collect_end_point(end_points: dict | None, alias: str, tensor: Any) -> Any:
    """slim's collect-named-outputs: records `tensor` as end point `alias`; returns it."""
    if end_points is not None:
        end_points[alias.rstrip("/")] = tensor
    return tensor


def kernel_regularizer(config: ResNetConfig):
    # slim's l2_regularizer(scale) is scale * sum(w^2) / 2; Keras' L2(l2) is l2 * sum(w^2).
    return keras.regularizers.L2(config.weight_decay / 2.0) if config.weight_decay > 0 else None


def kernel_initializer():
    return keras.initializers.VarianceScaling(scale=SLIM_VARIANCE_SCALE, mode="fan_in",
                                              distribution="truncated_normal")


@keras.saving.register_keras_serializable(package="resnet_nas")
class InferenceBatchNormalization(keras.layers.BatchNormalization):
    """Batch norm that always normalises with its moving statistics (slim's is_training=False).

    A functional model re-applies the call-time `training` flag to every layer, so a flag given
    at build time would not stick; `trainable=False` would freeze gamma/beta as well, which
    slim's is_training=False does not.
    """

    def call(self, inputs, training=None, mask=None):
        return super().call(inputs, training=False, mask=mask)


@keras.saving.register_keras_serializable(package="resnet_nas")
class SlimBatchNormalization(keras.layers.BatchNormalization):
    """Batch norm that updates its moving variance as slim's (fused) batch norm does.

    slim's default batch norm is TF's fused kernel: it normalises a training batch with the
    biased batch variance but feeds the unbiased one, var * n / (n - 1) with n the number of
    values per channel (B * H * W), into the moving average. Keras' BatchNormalization feeds the
    biased one. Weights, names, the normalisation and inference are Keras'.
    """

    def call(self, inputs, training=None, mask=None):
        if not (training and self.trainable):
            return super().call(inputs, training=training, mask=mask)
        if mask is not None or self.renorm or self.synchronized:
            raise ValueError(f"{self.name}: slim's moving-variance rule supports no mask, "
                             f"renorm or synchronized batch norm")
        compute_dtype = keras.backend.result_type(inputs.dtype, "float32")
        x = keras.ops.cast(inputs, compute_dtype)
        axis = self.axis % len(x.shape)
        mean, variance = keras.ops.moments(x, axes=[i for i in range(len(x.shape)) if i != axis])
        n = keras.ops.cast(keras.ops.size(x), compute_dtype) / x.shape[axis]
        unbiased = variance * n / keras.ops.maximum(n - 1.0, 1.0)
        momentum = self.momentum
        self.moving_mean.assign(keras.ops.cast(self.moving_mean, compute_dtype) * momentum
                                + mean * (1.0 - momentum))
        self.moving_variance.assign(keras.ops.cast(self.moving_variance, compute_dtype) * momentum
                                    + unbiased * (1.0 - momentum))
        gamma = keras.ops.cast(self.gamma, compute_dtype) if self.scale else None
        beta = keras.ops.cast(self.beta, compute_dtype) if self.center else None
        outputs = keras.ops.batch_normalization(x, mean, variance, axis=self.axis, offset=beta,
                                                scale=gamma, epsilon=self.epsilon)
        return keras.ops.cast(outputs, self.compute_dtype)


def batch_norm(inputs, config: ResNetConfig, scope: str, activation: str | None = None):
    """slim.batch_norm with the config's parameters; `activation` is applied after it."""
    if config.training is False:
        cls = InferenceBatchNormalization
    elif config.batch_norm_moving_variance == "biased":
        cls = keras.layers.BatchNormalization
    else:
        cls = SlimBatchNormalization
    net = cls(momentum=config.batch_norm_decay, epsilon=config.batch_norm_epsilon, center=True,
              scale=config.batch_norm_scale, name=layer_name(scope))(inputs)
    if activation is not None:
        net = keras.layers.Activation(activation, name=layer_name(scope + "/" + activation))(net)
    return net


_DEFAULT = object()


def conv2d(inputs, num_outputs: int, kernel_size: int, stride: int = 1, rate: int = 1,
           padding: str = "same", *, config: ResNetConfig, scope: str,
           activation: Any = _DEFAULT, normalize: bool | None = None,
           end_points: dict | None = None):
    """slim.conv2d under resnet_arg_scope: conv -> (BN) -> (activation), no bias when BN.

    Args:
      inputs: a 4-D NHWC tensor.
      num_outputs: output channels.
      kernel_size: int kernel size.
      stride, rate: conv stride and dilation rate (never both > 1).
      padding: 'same' or 'valid'.
      config: the ResNetConfig.
      scope: slim scope path; the end point is collected under it (after BN and activation).
      activation: defaults to config.activation; None for a linear output.
      normalize: defaults to config.use_batch_norm; False gives a biased conv without BN.
      end_points: dict to collect the output into.

    Returns:
      The output tensor.
    """
    if stride > 1 and rate > 1:
        raise ValueError("conv2d: stride > 1 cannot be combined with rate > 1")
    if activation is _DEFAULT:
        activation = config.activation
    if normalize is None:
        normalize = config.use_batch_norm
    if kernel_size == 1:
        padding = "valid"  # identical for 1x1 kernels, and backend-independent
    net = keras.layers.Conv2D(
        num_outputs, kernel_size, strides=stride, dilation_rate=rate, padding=padding,
        use_bias=not normalize, kernel_initializer=kernel_initializer(),
        kernel_regularizer=kernel_regularizer(config), name=layer_name(scope))(inputs)
    if normalize:
        net = batch_norm(net, config, scope + "/BatchNorm")
    if activation is not None:
        net = keras.layers.Activation(activation, name=layer_name(scope + "/" + str(activation)))(net)
    return collect_end_point(end_points, scope, net)


def subsample(inputs, factor: int, scope: str | None = None):
    """Subsamples the input along the spatial dimensions.

    Args:
      inputs: A `Tensor` of size [batch, height_in, width_in, channels].
      factor: The subsampling factor.
      scope: Optional slim scope (the layer is named after it).

    Returns:
      output: A `Tensor` of size [batch, height_out, width_out, channels] with the
        input, either intact (if factor == 1) or subsampled (if factor > 1).
    """
    if factor == 1:
        return inputs
    # A 1x1 max-pool keeps positions 0, f, 2f, ... for SAME and VALID alike (= x[:, ::f, ::f]).
    return keras.layers.MaxPooling2D(pool_size=1, strides=factor, padding="valid",
                                     name=layer_name(scope) if scope else None)(inputs)


def same_padding(kernel_size: int, rate: int = 1) -> tuple[int, int]:
    kernel_size_effective = kernel_size + (kernel_size - 1) * (rate - 1)
    pad_total = kernel_size_effective - 1
    pad_beg = pad_total // 2
    return pad_beg, pad_total - pad_beg


def conv2d_same(inputs, num_outputs: int, kernel_size: int, stride: int, rate: int = 1,
                scope: str | None = None, *, name: str | None = None,
                config: ResNetConfig | None = None, activation: Any = _DEFAULT,
                normalize: bool | None = None, end_points: dict | None = None):
    """Strided 2-D convolution with 'SAME' padding.

    When stride > 1, we do explicit zero-padding, followed by conv2d with 'VALID' padding, so
    that `conv2d_same(x, n, 3, stride=2)` equals a stride-1 SAME conv followed by
    `subsample(., 2)` on even and odd input sizes alike (Keras' own 'same' pads asymmetrically).

    Args:
      inputs: A 4-D tensor of size [batch, height_in, width_in, channels].
      num_outputs: An integer, the number of output filters.
      kernel_size: An int with the kernel_size of the filters.
      stride: An integer, the output stride.
      rate: An integer, rate for atrous convolution.
      scope: Scope (slim's name; the Keras layer names derive from it), e.g.
        'resnet/block1/unit_1/bottleneck_v1/conv2'. Default 'Conv', as slim.conv2d's.
      name: Alias of `scope` (the port's earlier keyword).
      config: ResNetConfig (default ResNetConfig()).
      activation, normalize, end_points: as in `conv2d`.

    Returns:
      output: A 4-D tensor of size [batch, height_out, width_out, channels] with the
        convolution output.

    Raises:
      TypeError: if `scope` and `name` are both given and differ.
    """
    if scope is not None and name is not None and scope != name:
        raise TypeError(f"conv2d_same: scope={scope!r} and name={name!r} disagree; give one")
    name = scope if scope is not None else name
    config = config or ResNetConfig()
    scope = name or "Conv"
    if stride == 1:
        return conv2d(inputs, num_outputs, kernel_size, 1, rate, "same", config=config,
                      scope=scope, activation=activation, normalize=normalize,
                      end_points=end_points)
    pad_beg, pad_end = same_padding(kernel_size, rate)
    padded = keras.layers.ZeroPadding2D(((pad_beg, pad_end), (pad_beg, pad_end)),
                                        name=layer_name(scope + "/pad"))(inputs)
    return conv2d(padded, num_outputs, kernel_size, stride, rate, "valid", config=config,
                  scope=scope, activation=activation, normalize=normalize, end_points=end_points)


def _unwrap(unit_fn: Callable) -> Callable:
    while hasattr(unit_fn, "func"):  # functools.partial
        unit_fn = unit_fn.func
    return unit_fn


def unit_default_scope(unit_fn: Callable) -> str:
    """The default scope name of a unit function (e.g. 'bottleneck_v1'), through partials."""
    fn = _unwrap(unit_fn)
    return getattr(fn, "default_scope", getattr(fn, "__name__", "unit"))


def stack_blocks_dense(net, blocks: Sequence[Block], output_stride: int | None = None,
                       store_non_strided_activations: bool = False, *,
                       config: ResNetConfig | None = None, scope: str = "",
                       end_points: dict | None = None):
    """Stacks ResNet `Blocks` and controls output feature density.

    First, this function creates scopes for the ResNet in the form of
    'block_name/unit_1', 'block_name/unit_2', etc.

    Second, this function allows the user to explicitly control the ResNet output_stride,
    which is the ratio of the input to output spatial resolution. This is useful for dense
    prediction tasks such as semantic segmentation or object detection. Once the running
    stride reaches `output_stride`, every later unit runs with stride 1 and its 3x3 convs get a
    dilation rate equal to the product of the strides skipped so far (atrous convolution).

    Args:
      net: A `Tensor` of size [batch, height, width, channels].
      blocks: A list of length equal to the number of ResNet `Blocks`.
      output_stride: If `None`, then the output will be computed at the nominal network stride.
        If output_stride is not `None`, it specifies the requested ratio of input to output
        spatial resolution, which needs to be equal to the product of unit strides from the
        start up to some level of the ResNet. For example, if the ResNet employs units with
        strides 1, 2, 1, 3, 4, 1, then valid values for the output_stride are 1, 2, 6, 24 or None
        (which is equivalent to output_stride=24).
      store_non_strided_activations: If True, we compute non-strided (undecimated) activations
        at the last unit of each block and store them in the end points; the block's stride is
        applied afterwards by `subsample`.
      config: ResNetConfig.
      scope: outer slim scope (e.g. 'resnet_v1_50'); block end points are '<scope>/<block>'.
      end_points: dict collecting slim's end points.

    Returns:
      net: Output tensor with stride equal to the specified output_stride.

    Raises:
      ValueError: If the target output_stride is not valid, or the blocks are invalid.
    """
    validate_blocks(blocks)
    config = config or ResNetConfig()
    strides = [[unit_kwargs(a).get("stride", 1) for a in b.args] for b in blocks]
    plans = plan_strides(strides, output_stride, store_non_strided_activations)
    prefix = f"{scope}/" if scope else ""
    for block, plan in zip(blocks, plans):
        block_scope = prefix + block.scope
        for i, (arg, unit_plan) in enumerate(zip(block.args, plan.units)):
            kwargs = dict(unit_kwargs(arg), stride=unit_plan.stride)
            unit_scope = f"{block_scope}/unit_{i + 1}/{unit_default_scope(block.unit_fn)}"
            if _unwrap(block.unit_fn).__dict__.get("accepts_output_rate"):
                kwargs["output_rate"] = unit_plan.output_rate
            net = block.unit_fn(net, rate=unit_plan.rate, config=config, scope=unit_scope,
                                end_points=end_points, **kwargs)
        net = collect_end_point(end_points, block_scope, net)  # block end point, before subsampling
        net = subsample(net, plan.subsample, scope=f"{block_scope}/subsample")
    return net


def zero_pad_channels(inputs, depth: int, scope: str):
    """He et al. (2015) option-A shortcut tail: zero-pads channels up to `depth`."""
    depth_in = inputs.shape[-1]
    extra = depth - depth_in
    if extra < 0:
        raise ValueError(f"option-A shortcut cannot reduce depth ({depth_in} -> {depth})")
    beg = extra // 2
    return ChannelPad(beg, extra - beg, name=layer_name(scope))(inputs)


@keras.saving.register_keras_serializable(package="resnet_nas")
class ChannelPad(keras.layers.Layer):
    """Pads the channel axis with zeros (parameter-free projection shortcut)."""

    def __init__(self, pad_beg: int, pad_end: int, **kwargs):
        super().__init__(**kwargs)
        self.pad_beg, self.pad_end = int(pad_beg), int(pad_end)

    def call(self, inputs):
        return keras.ops.pad(inputs, [[0, 0], [0, 0], [0, 0], [self.pad_beg, self.pad_end]])

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + self.pad_beg + self.pad_end)

    def get_config(self):
        return {**super().get_config(), "pad_beg": self.pad_beg, "pad_end": self.pad_end}


def root_block(net, root: str, root_depth: int, config: ResNetConfig, scope: str,
               end_points: dict | None, preactivation: bool):
    """The network's root ('imagenet': 7x7/2 conv + 3x3/2 SAME max-pool; 'cifar': 3x3/1 conv).

    In v2 (preactivation=True) the root conv is a plain biased conv with no BN and no
    activation, as slim's resnet_v2 does under its `arg_scope([conv2d], activation_fn=None,
    normalizer_fn=None)`.
    """
    overrides = {"activation": None, "normalize": False} if preactivation else {}
    if root == "imagenet":
        net = conv2d_same(net, root_depth, 7, stride=2, scope=f"{scope}/conv1", config=config,
                          end_points=end_points, **overrides)
        # slim: max_pool2d([3,3], stride=2) with padding SAME from resnet_arg_scope; not an
        # end point.
        return keras.layers.MaxPooling2D(3, strides=2, padding="same",
                                         name=layer_name(f"{scope}/pool1"))(net)
    if root == "cifar":
        return conv2d_same(net, root_depth, 3, stride=1, scope=f"{scope}/conv1", config=config,
                           end_points=end_points, **overrides)
    raise ValueError(f"unknown root {root!r}; expected one of imagenet, cifar")


def resnet_head(net, end_points: dict, num_classes: int | None, global_pool: bool,
                spatial_squeeze: bool, config: ResNetConfig, scope: str):
    """slim's shared head: global pool, 1x1-conv logits, spatial squeeze, predictions.

    Every layer is named under `scope`, so two networks of different scopes fit in one model.
    The squeeze happens only on a map known to be 1x1 (after `global_pool`, or a static 1x1
    size): a dense-prediction map keeps its logits and predictions as [B, H, W, C], as slim's
    segmentation example needs (slim's tf.squeeze would fail there).
    """
    if global_pool:
        # Global average pooling as a mean over H, W keeping dims (slim's 'pool5').
        net = keras.layers.GlobalAveragePooling2D(keepdims=True,
                                                  name=layer_name(f"{scope}/pool5"))(net)
        end_points["global_pool"] = net
    if num_classes:
        net = conv2d(net, num_classes, 1, config=config, scope=f"{scope}/logits",
                     activation=None, normalize=False)
        end_points[f"{scope}/logits"] = net
        if spatial_squeeze and tuple(net.shape[1:3]) == (1, 1):
            net = keras.layers.Reshape((num_classes,),
                                       name=layer_name(f"{scope}/SpatialSqueeze"))(net)
            end_points[f"{scope}/spatial_squeeze"] = net
        end_points["predictions"] = keras.layers.Softmax(
            name=layer_name(f"{scope}/predictions"))(net)
    return net


def check_reuse(reuse: bool | None) -> None:
    """slim's `reuse=True` re-enters a variable scope; Keras shares weights by calling again."""
    if reuse:
        raise ValueError("reuse=True has no Keras equivalent: build the network once as a "
                         "keras.Model and call that model again to share its weights")


def check_root_output_stride(output_stride: int | None, include_root_block: bool,
                             root: str) -> int | None:
    """slim: with the ImageNet root, output_stride must be a multiple of 4 and is divided by 4."""
    if not include_root_block:
        return output_stride
    return blocks_output_stride(output_stride, root)


#: Units per block of slim's resnet_v1/v2_{50,101,152,200} (identical for v1 and v2).
SLIM_BLOCK_UNITS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3),
                    200: (3, 24, 36, 3)}


def bottleneck_block(scope: str, unit_fn: Callable, base_depth: int, num_units: int,
                     stride: int) -> Block:
    """slim's resnet_v{1,2}_block: depth 4*base, stride on the LAST unit only."""
    return Block(scope, unit_fn, [(base_depth * 4, base_depth, 1)] * (num_units - 1) +
                 [(base_depth * 4, base_depth, stride)])


def slim_blocks(layers: int, unit_fn: Callable,
                depth_func: Callable[[int], int] = lambda d: d) -> list[Block]:
    """The four blocks of slim's resnet_v{1,2}_<layers> (strides 2, 2, 2, 1)."""
    units = SLIM_BLOCK_UNITS[layers]
    return [bottleneck_block(f"block{i + 1}", unit_fn, depth_func(base), n, stride)
            for i, (base, n, stride) in enumerate(zip((64, 128, 256, 512), units, (2, 2, 2, 1)))]
