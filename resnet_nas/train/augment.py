"""The trainers' input: checks of the data set, steps per epoch, normalisation and numpy
augmentation (random crop after padding, horizontal flip; the JAX trainer does the same on the
device, resnet_nas.train.jax_scan).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from resnet_nas.config import AugmentConfig, TrainConfig

def normalization_stats(data: Any) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) per channel of the training images (resnet_nas.data.normalization_stats)."""
    from resnet_nas.data import normalization_stats as data_stats

    mean, std = data_stats(data.x_train)
    return np.asarray(mean, np.float32), np.asarray(std, np.float32)


def check_dataset(data: Any, cfg: TrainConfig) -> None:
    """Raises ValueError naming the first field of `data` the trainers cannot use."""
    for split in ("train", "val"):
        x = getattr(data, f"x_{split}", None)
        y = getattr(data, f"y_{split}", None)
        if x is None or y is None:
            raise ValueError(f"data.x_{split}/y_{split}: expected arrays, found None")
        if x.dtype != np.uint8 or x.ndim != 4:
            raise ValueError(f"data.x_{split}: expected uint8 NHWC images, found dtype "
                             f"{x.dtype} with shape {x.shape}")
        if len(y) != len(x):
            raise ValueError(f"data.y_{split}: expected {len(x)} labels, found {len(y)}")
        if len(y) and (int(np.min(y)) < 0 or int(np.max(y)) >= data.num_classes):
            raise ValueError(f"data.y_{split}: expected labels in [0, {data.num_classes}), "
                             f"found range [{int(np.min(y))}, {int(np.max(y))}]")
    if len(data.x_val) == 0:
        raise ValueError("data.x_val: expected a non-empty validation split, found 0 examples")
    steps_per_epoch(len(data.x_train), cfg.batch_size)
    pad = cfg.augment.crop_padding
    h, w = data.x_train.shape[1:3]
    if cfg.augment.pad_mode == "reflect" and pad >= min(h, w):
        raise ValueError(f"train.augment.crop_padding: reflect padding needs a value < the "
                         f"image size {min(h, w)}, found {pad}")


def steps_per_epoch(num_examples: int, batch_size: int) -> int:
    """Full batches per epoch (the ragged last batch is dropped; data is reshuffled each epoch)."""
    if num_examples < batch_size:
        raise ValueError(f"train.batch_size: expected at most the {num_examples} training "
                         f"examples, found {batch_size}")
    return num_examples // batch_size


def eval_batch_size(cfg: TrainConfig, n: int) -> int:
    """Every trainer's validation batch: cfg.eval_batch_size, or `n` examples rounded up to
    64 when that is less (a small set is not padded to the full 1024)."""
    return max(1, min(cfg.eval_batch_size, 64 * math.ceil(n / 64)))


def pad_images(x: np.ndarray, pad: int, mode: str) -> np.ndarray:
    """Pads NHWC images by `pad` pixels on each side ('reflect' or 'zero' = black pixels)."""
    widths = ((0, 0), (pad, pad), (pad, pad), (0, 0))
    if mode == "reflect":
        return np.pad(x, widths, mode="reflect")
    if mode == "zero":
        return np.pad(x, widths, mode="constant")
    raise ValueError(f"train.augment.pad_mode: expected 'reflect' or 'zero', found {mode!r}")


def crop_flip_numpy(x: np.ndarray, offsets: np.ndarray, flips: np.ndarray, pad: int,
                    mode: str) -> np.ndarray:
    """Per-example crop of padded images at `offsets` and horizontal flip where `flips`.

    Args:
      x: (B, H, W, C) images.
      offsets: (B, 2) int (row, col) offsets in [0, 2 * pad].
      flips: (B,) bool.
      pad: padding on each side before cropping back to (H, W).
      mode: 'reflect' or 'zero'.

    Returns:
      (B, H, W, C) array of x's dtype.
    """
    b, h, w, _ = x.shape
    if pad > 0:
        xp = pad_images(x, pad, mode)
        rows = offsets[:, 0, None] + np.arange(h)[None, :]
        cols = offsets[:, 1, None] + np.arange(w)[None, :]
        x = xp[np.arange(b)[:, None, None], rows[:, :, None], cols[:, None, :]]
    return np.where(flips[:, None, None, None], x[:, :, ::-1, :], x)


def random_augment_numpy(x: np.ndarray, rng: np.random.Generator,
                         augment: AugmentConfig) -> np.ndarray:
    """Random crop (after padding) and horizontal flip, as cfg.augment asks: per example, or
    one draw broadcast over the batch when augment.per_example is False."""
    b = len(x)
    draws = b if augment.per_example else 1
    pad = augment.crop_padding
    offsets = (rng.integers(0, 2 * pad + 1, size=(draws, 2)) if pad > 0
               else np.zeros((draws, 2), int))
    flips = rng.random(draws) < 0.5 if augment.flip else np.zeros(draws, bool)
    if pad == 0 and not augment.flip:
        return x
    offsets = np.broadcast_to(offsets, (b, 2))
    flips = np.broadcast_to(flips, (b,))
    return crop_flip_numpy(x, offsets, flips, pad, augment.pad_mode)


def normalize_numpy(x_uint8: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """(x - mean) / std as float32."""
    return (x_uint8.astype(np.float32) - mean) / std
