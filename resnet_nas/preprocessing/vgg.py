"""The vgg family (slim's vgg_preprocessing): training resizes the shorter side to a random
size in [256, 512] (for a 224 input; scaled with the input size), keeping the aspect ratio,
then takes a random crop of the input size and flips it; evaluation resizes the shorter side to
256 (scaled) and takes the central crop."""

from __future__ import annotations

from typing import Any

from resnet_nas.config import AugmentConfig
from resnet_nas.preprocessing.ops import decode, random_flip, resize, split_seed, to_uint8

RESIZE_SIDE_MIN = 256
RESIZE_SIDE_MAX = 512
#: The input size slim's sides are for.
REFERENCE_SIZE = 224


def _sides(height: int, width: int) -> tuple[int, int]:
    scale = min(height, width) / REFERENCE_SIZE
    return round(RESIZE_SIDE_MIN * scale), round(RESIZE_SIDE_MAX * scale)


def _aspect_preserving(image: Any, side: Any, height: int, width: int) -> Any:
    """The image resized so that its shorter side is `side` (and at least the crop size)."""
    import tensorflow as tf

    size = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = tf.cast(side, tf.float32) / tf.reduce_min(size)
    new = tf.maximum(tf.cast(tf.round(size * scale), tf.int32), [height, width])
    return resize(image, new[0], new[1])


def train_image(encoded: Any, shape: tuple[int, int, int], seed: Any,
                augment: AugmentConfig) -> Any:
    import tensorflow as tf

    height, width, channels = shape
    side_seed, crop_seed, flip_seed = split_seed(seed, 3)
    low, high = _sides(height, width)
    side = tf.random.stateless_uniform([], side_seed, low, high + 1, dtype=tf.int32)
    image = _aspect_preserving(decode(encoded, channels), side, height, width)
    image = tf.image.stateless_random_crop(image, [height, width, channels], crop_seed)
    image = random_flip(to_uint8(image), flip_seed, augment.flip)
    image.set_shape([height, width, channels])
    return image


def eval_image(encoded: Any, shape: tuple[int, int, int]) -> Any:
    import tensorflow as tf

    height, width, channels = shape
    low, _ = _sides(height, width)
    image = _aspect_preserving(decode(encoded, channels), low, height, width)
    size = tf.shape(image)[:2]
    image = tf.image.crop_to_bounding_box(image, (size[0] - height) // 2,
                                          (size[1] - width) // 2, height, width)
    image = to_uint8(image)
    image.set_shape([height, width, channels])
    return image
