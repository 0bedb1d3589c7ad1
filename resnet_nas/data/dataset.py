"""The Dataset type: uint8 NHWC images and int32 labels, split three ways, plus normalisation
statistics. Every loader returns one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


class DataError(ValueError):
    """Data on disk (or returned by a download) cannot be used; the message names the file."""


@dataclass
class Dataset:
    """A data set split three ways.

    Attributes:
      name: data set name (DataConfig.name).
      x_train, y_train: training images (uint8, NHWC) and int32 labels.
      x_val, y_val: validation split held out from the training set; used by the search.
      x_test, y_test: the official test split; only for the final evaluation of exported configs.
      num_classes: number of classes (labels are 0..num_classes-1).
      class_names: human-readable name of each label.
      skipped: unreadable images left out of the splits ('name: why'), per split:
        {'train': [...], 'val': [...], 'test': [...]}.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    class_names: list[str]
    skipped: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Catch wiring mistakes here rather than as shape errors deep inside a Keras model.
        for split in ("train", "val", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if x.ndim != 4 or x.dtype != np.uint8:
                raise ValueError(f"{self.name}: x_{split} must be a uint8 NHWC array, "
                                 f"found {x.dtype} with shape {x.shape}")
            if y.shape != (len(x),):
                raise ValueError(f"{self.name}: y_{split} must have shape ({len(x)},), "
                                 f"found {y.shape}")
            if x.shape[1:] != self.x_train.shape[1:]:
                raise ValueError(f"{self.name}: x_{split} has image shape {x.shape[1:]}, "
                                 f"x_train has {self.x_train.shape[1:]}")
        if len(self.class_names) != self.num_classes:
            raise ValueError(f"{self.name}: {self.num_classes} classes but "
                             f"{len(self.class_names)} class names")

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(height, width, channels) of one image."""
        h, w, c = self.x_train.shape[1:]
        return int(h), int(w), int(c)

    def summary(self) -> str:
        """One line, e.g. 'digits: 1150 train / 288 val / 359 test, 8x8x1, 10 classes'."""
        h, w, c = self.input_shape
        return (f"{self.name}: {len(self.x_train)} train / {len(self.x_val)} val / "
                f"{len(self.x_test)} test, {h}x{w}x{c}, {self.num_classes} classes")


@dataclass
class RawData:
    """A data set as published: the official train and test splits.

    Attributes:
      ok_train / ok_test: which images decoded (None: all); an unreadable image's row of x is
        zeros and is left out of every split.
      skipped: each unreadable image as (published split 'train' or 'test', its index there,
        'its name: why').
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    ok_train: np.ndarray | None = None
    ok_test: np.ndarray | None = None
    skipped: tuple[tuple[str, int, str], ...] = ()


@dataclass(frozen=True, eq=False)
class RawLabels:
    """A data set as published, without its pixels: the labels and the image arrays' shapes.

    What the search process needs of a data set (resnet_nas.data.dataset_facts): the trial
    processes train on the pixels, the search only samples architectures for the image shape
    and fingerprints the labels.
    """

    train_shape: tuple[int, ...]
    y_train: np.ndarray
    test_shape: tuple[int, ...]
    y_test: np.ndarray
    class_names: list[str]

    @classmethod
    def of(cls, raw: RawData) -> RawLabels:
        return cls(tuple(raw.x_train.shape), raw.y_train, tuple(raw.x_test.shape), raw.y_test,
                   list(raw.class_names))


@dataclass(frozen=True, eq=False)
class DataFacts:
    """A split data set without its pixels: the image shape, the classes and each split's
    labels (int32), exactly as the Dataset of the same config and seed has them.

    Attributes:
      input_shape: (height, width, channels) of its images when they share one size; None
        for photos of mixed sizes.
      resizable: its images are files that the input pipeline brings to any size (image
        folders, TFRecords); the arrays of the other sources are used at their own size.
      channels: 1 for grayscale data, else 3.
      preprocessing: the preprocessing family its trials use (DataConfig.preprocessing with
        'auto' resolved: cifar for data of one image size, inception for photos of mixed
        sizes).
    """

    name: str
    input_shape: tuple[int, int, int] | None
    class_names: list[str]
    y_train: np.ndarray
    y_val: np.ndarray
    y_test: np.ndarray
    resizable: bool = False
    channels: int = 3
    preprocessing: str = "cifar"

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def training_shape(self, requested: tuple[int, int, int] | None,
                       source: str | None = None) -> tuple[int, int, int]:
        """The input shape trials train at: the space's `requested` shape (None: the data's
        own).

        Raises:
          DataError: the data cannot give `requested` (arrays of another size, or a channel
            count other than 1 or 3 for files), or photos of mixed sizes and no shape asked.
        """
        where = f"{source}: " if source else ""
        if requested is None:
            if self.input_shape is None:
                raise DataError(f"{where}space.input_shape is null, but {self.name} has images "
                                "of mixed sizes: set the training resolution, e.g. "
                                f"input_shape: [224, 224, {self.channels}] (or --set "
                                f"space.input_shape=[128,128,{self.channels}])")
            return self.input_shape
        shape = tuple(int(v) for v in requested)
        if self.resizable:
            if shape[2] not in (1, 3):
                raise DataError(f"{where}space.input_shape {list(shape)}: image files decode to "
                                "1 (grayscale) or 3 (RGB) channels")
            return shape  # type: ignore[return-value]
        if self.input_shape is not None and shape != self.input_shape:
            raise DataError(f"{where}space.input_shape is {list(shape)} but the data set "
                            f"{self.name} has images of {list(self.input_shape)}; these "
                            "arrays are used at their own size (image folders and TFRecords "
                            "are resized to any input_shape)")
        return shape  # type: ignore[return-value]


def normalization_stats(x_uint8: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation, in [0, 255] units.

    Computed in float64 over chunks (CIFAR-10 in float64 at once would need 1.2 GB).

    Args:
      x_uint8: images, NHWC (normally the training split).

    Returns:
      (mean, std), each float32 of shape (channels,). std is floored at 1.0 (one grey level) so
      that normalising a constant channel does not divide by zero.
    """
    x = np.asarray(x_uint8)
    if x.ndim != 4 or len(x) == 0:
        raise ValueError(f"normalization_stats: expected a non-empty NHWC array, "
                         f"found shape {x.shape}")
    flat = x.reshape(-1, x.shape[-1])
    chunk = 1 << 20
    total = np.zeros(flat.shape[1], np.float64)
    for start in range(0, len(flat), chunk):
        total += flat[start:start + chunk].sum(axis=0, dtype=np.float64)
    mean = total / len(flat)
    # Two passes rather than E[x^2] - E[x]^2, which loses precision when std << mean.
    sq = np.zeros(flat.shape[1], np.float64)
    for start in range(0, len(flat), chunk):
        diff = flat[start:start + chunk].astype(np.float64) - mean
        sq += np.einsum("ij,ij->j", diff, diff)
    std = np.maximum(np.sqrt(sq / len(flat)), 1.0)
    return mean.astype(np.float32), std.astype(np.float32)
