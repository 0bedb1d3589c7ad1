"""The cifar family: the image at the input size, padded and randomly cropped back, flipped
(He et al.'s CIFAR augmentation; the in-memory path does the same in numpy,
resnet_nas.input.augment). A photo larger than the input keeps its central box of the input's
aspect ratio, resized; a large JPEG decodes at a scaling (1/2, 1/4, 1/8) that still covers
that box (resnet_nas.preprocessing.ops.decode_scaled)."""

from __future__ import annotations

from typing import Any

from resnet_nas.config import AugmentConfig
from resnet_nas.preprocessing.ops import decode_scaled, fit, image_size, random_flip, split_seed


def eval_image(encoded: Any, shape: tuple[int, int, int]) -> Any:
    import tensorflow as tf

    height, width, channels = shape
    size = image_size(encoded, channels)
    # the central box is resized down to height x width: a JPEG decodes at the smallest
    # scaling that keeps that box at least the output's size
    box_scale = tf.minimum(tf.cast(size[0], tf.float32) / height,
                           tf.cast(size[1], tf.float32) / width)  # the box / the output
    shorter = tf.cast(tf.reduce_min(size), tf.float32)
    smallest = tf.where(box_scale >= 1.0, tf.math.ceil(shorter / box_scale), shorter)
    return fit(decode_scaled(encoded, channels, size, smallest), height, width)


def train_image(encoded: Any, shape: tuple[int, int, int], seed: Any,
                augment: AugmentConfig) -> Any:
    import tensorflow as tf

    height, width, channels = shape
    image = eval_image(encoded, shape)
    crop_seed, flip_seed = split_seed(seed, 2)
    pad = augment.crop_padding
    if pad > 0:
        padded = tf.pad(image, [[pad, pad], [pad, pad], [0, 0]],
                        mode="REFLECT" if augment.pad_mode == "reflect" else "CONSTANT")
        image = tf.image.stateless_random_crop(padded, [height, width, channels], crop_seed)
    return random_flip(image, flip_seed, augment.flip)
