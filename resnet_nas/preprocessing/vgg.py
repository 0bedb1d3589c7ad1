"""The vgg family (slim's vgg_preprocessing): training resizes the shorter side to a random
size in [256, 512] (for a 224 input; scaled with the input size), keeping the aspect ratio,
then takes a random crop of the input size and flips it; evaluation resizes the shorter side to
256 (scaled) and takes the central crop.

The crop is taken before the resize, not after: the input-size square of the resized image is
a square of `size / scale` pixels of the original, which is decoded alone (a JPEG decodes only
that window: resnet_nas.preprocessing.ops.decode_window) and resized to the input size. The
same pixels up to the resampling's alignment, for the work of a crop instead of a whole
photo's decode and resize (figures: experiments/RESULTS.md)."""

from __future__ import annotations

from typing import Any

from resnet_nas.config import AugmentConfig
from resnet_nas.preprocessing.ops import (decode_window, image_size, random_flip, resize,
                                          split_seed, to_uint8)

RESIZE_SIDE_MIN = 256
RESIZE_SIDE_MAX = 512
#: The input size slim's sides are for.
REFERENCE_SIZE = 224


def _sides(height: int, width: int) -> tuple[int, int]:
    scale = min(height, width) / REFERENCE_SIZE
    return round(RESIZE_SIDE_MIN * scale), round(RESIZE_SIDE_MAX * scale)


def _window(size: Any, side: Any, height: int, width: int, where: Any) -> Any:
    """[top, left, h, w] in the original of the height x width crop at `where` (fractions of
    the free room, [0, 1]) of the image resized so that its shorter side is `side` (and at
    least the crop)."""
    import tensorflow as tf

    size_f = tf.cast(size, tf.float32)
    scale = tf.maximum(tf.cast(side, tf.float32) / tf.reduce_min(size_f),
                       tf.reduce_max(tf.constant([height, width], tf.float32) / size_f))
    crop = tf.minimum(tf.cast(tf.math.ceil(tf.constant([height, width], tf.float32) / scale),
                              tf.int32), size)
    crop = tf.maximum(crop, 1)
    offset = tf.cast(tf.math.floor(where * tf.cast(size - crop, tf.float32)), tf.int32)
    return tf.concat([offset, crop], 0)


def train_image(encoded: Any, shape: tuple[int, int, int], seed: Any,
                augment: AugmentConfig) -> Any:
    import tensorflow as tf

    height, width, channels = shape
    side_seed, crop_seed, flip_seed = split_seed(seed, 3)
    low, high = _sides(height, width)
    side = tf.random.stateless_uniform([], side_seed, low, high + 1, dtype=tf.int32)
    where = tf.random.stateless_uniform([2], crop_seed)
    window = _window(image_size(encoded, channels), side, height, width, where)
    image = to_uint8(resize(decode_window(encoded, window, channels), height, width))
    image = random_flip(image, flip_seed, augment.flip)
    image.set_shape([height, width, channels])
    return image


def eval_image(encoded: Any, shape: tuple[int, int, int]) -> Any:
    import tensorflow as tf

    height, width, channels = shape
    low, _ = _sides(height, width)
    window = _window(image_size(encoded, channels), low, height, width,
                     tf.constant([0.5, 0.5]))
    image = to_uint8(resize(decode_window(encoded, window, channels), height, width))
    image.set_shape([height, width, channels])
    return image
