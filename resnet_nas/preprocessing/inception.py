"""The inception family (slim's inception_preprocessing, without its colour distortion):
training crops a random distorted bounding box (8-100% of the image's area, aspect ratio
3/4-4/3; the whole image when ten draws fail), resizes it to the input size and flips it;
evaluation keeps the central 87.5% and resizes it. A JPEG decodes only the crop's window."""

from __future__ import annotations

from typing import Any

from resnet_nas.config import AugmentConfig
from resnet_nas.preprocessing.ops import (decode_window, image_size, random_flip, resize,
                                          split_seed, to_uint8)

AREA_RANGE = (0.08, 1.0)
ASPECT_RATIO_RANGE = (3 / 4, 4 / 3)
#: slim's central crop for evaluation.
CENTRAL_FRACTION = 0.875
MAX_ATTEMPTS = 10


def train_image(encoded: Any, shape: tuple[int, int, int], seed: Any,
                augment: AugmentConfig) -> Any:
    import tensorflow as tf

    height, width, channels = shape
    box_seed, flip_seed = split_seed(seed, 2)
    size = image_size(encoded, channels)
    begin, crop_size, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.concat([size, [channels]], 0), bounding_boxes=tf.constant([[[0.0, 0.0, 1.0, 1.0]]]),
        seed=box_seed, min_object_covered=AREA_RANGE[0], aspect_ratio_range=ASPECT_RATIO_RANGE,
        area_range=AREA_RANGE, max_attempts=MAX_ATTEMPTS, use_image_if_no_bounding_boxes=True)
    window = tf.stack([begin[0], begin[1], crop_size[0], crop_size[1]])
    image = resize(decode_window(encoded, window, channels), height, width)
    image = random_flip(to_uint8(image), flip_seed, augment.flip)
    image.set_shape([height, width, channels])
    return image


def eval_image(encoded: Any, shape: tuple[int, int, int]) -> Any:
    import tensorflow as tf

    height, width, channels = shape
    size = tf.cast(image_size(encoded, channels), tf.float32)
    crop = tf.maximum(1, tf.cast(tf.round(size * CENTRAL_FRACTION), tf.int32))
    top_left = (tf.cast(size, tf.int32) - crop) // 2
    window = tf.concat([top_left, crop], 0)
    image = to_uint8(resize(decode_window(encoded, window, channels), height, width))
    image.set_shape([height, width, channels])
    return image
