"""A data set in memory (a resnet_nas.data.Dataset of uint8 arrays) as the trainers' input:
the fast path of small data, and of every test."""

from __future__ import annotations

from typing import Any

import numpy as np

from resnet_nas.config import TrainConfig
from resnet_nas.data.dataset import normalization_stats
from resnet_nas.input.augment import steps_per_epoch
from resnet_nas.input.feeds import ArrayEvalFeed, ArrayTrainFeed
from resnet_nas.nets.normalization import InputNormalization


class ArrayInput:
    """The trainers' input from arrays.

    Args:
      data: a Dataset (or anything with its x_/y_ arrays, num_classes and, optionally,
        skipped).
      normalization: the model's input normalisation; default: the training split's mean
        and std per channel.
    """

    streamed = False

    def __init__(self, data: Any, normalization: InputNormalization | None = None):
        self.data = data
        self.num_classes = int(data.num_classes)
        self.image_shape = tuple(int(v) for v in data.x_train.shape[1:])
        self._normalization = normalization

    @property
    def normalization(self) -> InputNormalization:
        if self._normalization is None:
            mean, std = normalization_stats(self.data.x_train)
            self._normalization = InputNormalization.of(mean, std)
        return self._normalization

    @property
    def arrays(self) -> Any:
        """The data set's arrays (the JAX trainer keeps them on the device)."""
        return self.data

    def check(self, cfg: TrainConfig) -> None:
        """Raises ValueError naming the first field of the data the trainers cannot use."""
        data = self.data
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
            raise ValueError("data.x_val: expected a non-empty validation split, found 0 "
                             "examples")
        steps_per_epoch(len(data.x_train), cfg.batch_size)
        check_padding(cfg, self.image_shape)

    def train_feed(self, cfg: TrainConfig) -> ArrayTrainFeed:
        return ArrayTrainFeed(self.data.x_train, self.data.y_train, cfg)

    def eval_feed(self, split: str, cfg: TrainConfig) -> ArrayEvalFeed:
        """The evaluation batches of split 'val' or 'test'."""
        return ArrayEvalFeed(getattr(self.data, f"x_{split}"), getattr(self.data, f"y_{split}"),
                             cfg)

    def skipped(self, splits: tuple[str, ...] = ("train", "val")) -> int:
        """How many unreadable images the splits left out."""
        return len(self.skipped_names(splits, None))

    def skipped_names(self, splits: tuple[str, ...] = ("train", "val"),
                      limit: int | None = 20) -> list[str]:
        """The unreadable images the splits left out ('name: why'), the first `limit`."""
        skipped = getattr(self.data, "skipped", None) or {}
        names = [n for s in splits for n in skipped.get(s, ())]
        return names if limit is None else names[:limit]


def check_padding(cfg: TrainConfig, image_shape: tuple[int, ...]) -> None:
    """Reflect padding needs a pad smaller than the image."""
    pad = cfg.augment.crop_padding
    h, w = image_shape[:2]
    if cfg.augment.pad_mode == "reflect" and pad >= min(h, w):
        raise ValueError(f"train.augment.crop_padding: reflect padding needs a value < the "
                         f"image size {min(h, w)}, found {pad}")
