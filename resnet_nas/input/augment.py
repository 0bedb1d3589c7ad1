"""The in-memory feeds' arithmetic and numpy augmentation: steps per epoch, the evaluation
batch size, and the per-example random crop (after padding) and horizontal flip (the JAX
trainer does the same on the device, resnet_nas.train.jax_scan; streamed data in tf.data,
resnet_nas.preprocessing.cifar).
"""

from __future__ import annotations

import math

import numpy as np

from resnet_nas.config import AugmentConfig


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
