"""Architecture (plain data) -> slim Blocks -> Keras model."""

from __future__ import annotations

import functools

import keras

from resnet_nas.nets import resnet_v1, resnet_v2
from resnet_nas.nets.arch import Architecture
from resnet_nas.nets.config import ResNetConfig
from resnet_nas.nets.normalization import InputNormalization
from resnet_nas.nets.resnet_utils import Block

_UNIT_FNS = {
    "v1_bottleneck": resnet_v1.bottleneck,
    "v2_bottleneck": resnet_v2.bottleneck,
    "v1_basic": resnet_v1.basic,
    "v2_basic": resnet_v2.basic,
}


def arch_blocks(arch: Architecture) -> list[Block]:
    """The slim `Block` list of an architecture."""
    unit_fn = _UNIT_FNS[arch.unit]
    if arch.kind.basic:
        unit_fn = functools.partial(unit_fn, shortcut=arch.shortcut)
    return [Block(b.scope, unit_fn, [tuple(u) for u in b.units]) for b in arch.blocks]


def build_network(inputs, arch: Architecture, config: ResNetConfig | None = None,
                  is_training: bool = True, global_pool: bool = True,
                  spatial_squeeze: bool = True, scope: str | None = None):
    """Builds `arch` on a Keras tensor with resnet_v1/resnet_v2.

    Returns:
      (net, end_points) as slim's builders do.
    """
    version = f"v{arch.kind.version}"
    config = config or ResNetConfig()
    if config.batch_norm_moving_variance is None:
        # The search's nets were always trained with Keras' rule; keep their records retrainable.
        config = config.replace(batch_norm_moving_variance="biased")
    builder = resnet_v1.resnet_v1 if version == "v1" else resnet_v2.resnet_v2
    return builder(inputs, arch_blocks(arch), num_classes=arch.num_classes,
                   is_training=is_training, global_pool=global_pool,
                   output_stride=arch.output_stride,
                   include_root_block=arch.root != "none", spatial_squeeze=spatial_squeeze,
                   scope=scope or f"resnet_{version}", root=arch.root if arch.root != "none"
                   else "imagenet", root_depth=arch.root_depth, config=config)


#: The name of a model's input normalisation layer.
NORMALIZATION_LAYER = "normalize"


def build_model(arch: Architecture, config: ResNetConfig | None = None,
                name: str | None = None,
                normalization: InputNormalization | None = None) -> keras.Model:
    """A functional Keras model mapping images (B, H, W, C) to logits (B, classes).

    Args:
      arch: the (validated) architecture.
      config: ResNetConfig (weight decay, BN settings).
      name: model name (default 'resnet_<arch key>').
      normalization: with it, the model takes raw pixels (0-255) and normalises them in its
        first layer (a Keras Normalization layer named 'normalize', float32 under any
        precision policy, saved with the model); without it, the model takes normalised
        values.

    Returns:
      An unbuilt-optimizer keras.Model whose count_params() equals complexity(arch).params
      (the normalisation holds constants, no weights).
    """
    arch.validate()
    inputs = keras.Input(shape=tuple(arch.input_shape), name="images")
    net = inputs
    if normalization is not None:
        if len(normalization.mean) != arch.input_shape[-1]:
            raise ValueError(f"normalization has {len(normalization.mean)} channel(s), the "
                             f"input {arch.input_shape[-1]}")
        net = keras.layers.Normalization(
            axis=-1, mean=list(normalization.mean),
            variance=[s * s for s in normalization.std], name=NORMALIZATION_LAYER,
            dtype="float32")(net)
    logits, _ = build_network(net, arch, config)
    return keras.Model(inputs, logits, name=name or f"resnet_{arch.key()}")
