"""The cifar family: the image at the input size, padded and randomly cropped back, flipped
(He et al.'s CIFAR augmentation; today's in-memory path does the same in numpy,
resnet_nas.train.augment)."""

from __future__ import annotations

from typing import Any

from resnet_nas.config import AugmentConfig
from resnet_nas.preprocessing.ops import decode, fit, random_flip, split_seed


def eval_image(encoded: Any, shape: tuple[int, int, int]) -> Any:
    height, width, channels = shape
    return fit(decode(encoded, channels), height, width)


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
