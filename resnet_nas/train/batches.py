"""The training batches of the Keras-side trainers (`fit` and the TensorFlow loop): shuffled
every epoch, the ragged last batch dropped (as the JAX trainer does), augmented per example
(crop and flip) and normalised, all in numpy and seeded by (seed, epoch, step), so that both
trainers see the very same batches in the same order."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from resnet_nas.config import TrainConfig
from resnet_nas.train.augment import normalize_numpy, random_augment_numpy, steps_per_epoch


@functools.cache
def _batches_class() -> type:
    """Defines (once per process) the PyDataset; Keras is imported only when it is used."""
    import keras

    class AugmentedBatches(keras.utils.PyDataset):
        """Shuffled, augmented, normalised float32 batches of a uint8 training set."""

        def __init__(self, x: np.ndarray, y: np.ndarray, cfg: TrainConfig, mean: np.ndarray,
                     std: np.ndarray):
            super().__init__(workers=1, use_multiprocessing=False)
            self.x, self.y = x, np.asarray(y, np.int32)
            self.cfg, self.mean, self.std = cfg, mean, std
            self.steps = steps_per_epoch(len(x), cfg.batch_size)
            self.epoch = 0
            self._shuffle()

        def _shuffle(self) -> None:
            rng = np.random.default_rng([self.cfg.seed, self.epoch, 0])
            self.order = rng.permutation(len(self.x))

        def __len__(self) -> int:
            return self.steps

        def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
            bs = self.cfg.batch_size
            idx = self.order[i * bs:(i + 1) * bs]
            # Seeded by (seed, epoch, step): the same batches whatever the worker order.
            rng = np.random.default_rng([self.cfg.seed, self.epoch, i + 1])
            xb = random_augment_numpy(self.x[idx], rng, self.cfg.augment)
            return normalize_numpy(xb, self.mean, self.std), self.y[idx]

        def on_epoch_end(self) -> None:
            self.epoch += 1
            self._shuffle()

    return AugmentedBatches


def augmented_batches(x: np.ndarray, y: np.ndarray, cfg: TrainConfig,
                      stats: tuple[np.ndarray, np.ndarray]) -> Any:
    """A keras.utils.PyDataset of the epoch's batches (`on_epoch_end` moves to the next epoch).

    Args:
      x, y: the uint8 training images (N, H, W, C) and their integer labels.
      cfg: gives batch_size, seed and augment.
      stats: (mean, std) per channel of the training images.
    """
    return _batches_class()(np.asarray(x), y, cfg, *stats)
