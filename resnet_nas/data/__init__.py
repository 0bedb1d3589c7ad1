"""Data sets: loading, train/validation/test splits, and normalisation statistics.

Every loader returns uint8 images in NHWC layout and int32 labels. The search only ever sees
`x_train`/`x_val` (the validation split is carved out of the training set); `x_test` is the
official test split, reserved for the final evaluation of exported configurations. The
search process itself needs no pixels: `dataset_facts` gives the image shape, the classes and
every split's labels, as the Dataset of the same config and seed has them.

Sources (`DataConfig.name`), one module each:
  digits         scikit-learn's bundled 8x8 digits; works offline (the default).   digits.py
  cifar10/100,   Keras' standard download, read from its cache.                    keras_datasets.py
  fashion_mnist
  folder         train/<class>/* and test/<class>/* in a directory or a .tar.gz.    folders.py
  synthetic      small, learnable random data for tests.                           synthetic.py

Keras / TensorFlow are imported only inside the download function (importing them costs seconds).
"""

from __future__ import annotations

from resnet_nas.config import DataConfig
from resnet_nas.data.dataset import (DataError, DataFacts, Dataset, RawData, RawLabels,
                                     normalization_stats)
from resnet_nas.data.digits import load_digits
from resnet_nas.data.folders import (IMAGE_EXTENSIONS, default_cache_dir, folder_labels,
                                     load_folder, resolve_cache_dir)
from resnet_nas.data.keras_datasets import (CIFAR10_CLASSES, CIFAR100_CLASSES,
                                            FASHION_MNIST_CLASSES, KERAS_DATASETS,
                                            load_keras_dataset)
from resnet_nas.data.splits import split_dataset, split_facts, stratified_split
from resnet_nas.data.synthetic import (SYNTHETIC_CLASSES, SYNTHETIC_DATA_SEED, SYNTHETIC_SHAPE,
                                       SYNTHETIC_TEST, SYNTHETIC_TRAIN, make_synthetic,
                                       synthetic_raw)
from resnet_nas.validation import ConfigError

__all__ = ["CIFAR10_CLASSES", "CIFAR100_CLASSES", "DataError", "DataFacts", "Dataset",
           "FASHION_MNIST_CLASSES", "IMAGE_EXTENSIONS", "RawData", "RawLabels", "dataset_facts",
           "default_cache_dir", "load_dataset", "make_synthetic", "normalization_stats",
           "stratified_split"]


def load_dataset(cfg: DataConfig, seed: int = 0) -> Dataset:
    """Loads the data set described by `cfg` and splits off the validation set.

    Args:
      cfg: data settings; validated here.
      seed: seeds the (stratified) validation split and the limit_train subsample. The test
        split and its limit_test subsample do not depend on it.

    Returns:
      The Dataset. With `limit_train`, the validation split is shrunk in proportion
      (limit_train * validation_split / (1 - validation_split) examples) so that smoke runs stay
      small end to end.

    Raises:
      ConfigError: invalid settings or a missing `path`.
      DataError: unusable data (no images, corrupt image, class mismatch, failed download).
    """
    cfg.validate()
    return split_dataset(cfg.name, _load_raw(cfg), cfg, seed)


def dataset_facts(cfg: DataConfig, seed: int = 0) -> DataFacts:
    """What load_dataset(cfg, seed) gives, less the pixels: the image shape, the classes and
    every split's labels (the search process's needs; the trial processes load the pixels).

    A cached image folder is read without its pixels (CIFAR-10: its labels and the arrays'
    headers instead of 180 MB); the other sources are small or read whole.

    Raises:
      ConfigError, DataError: as load_dataset.
    """
    cfg.validate()
    labels = (folder_labels(cfg.path, resolve_cache_dir(cfg.cache_dir)) if cfg.name == "folder"
              else RawLabels.of(_load_raw(cfg)))
    return split_facts(cfg.name, labels, cfg, seed)


def _load_raw(cfg: DataConfig) -> RawData:
    if cfg.name == "digits":
        raw = load_digits()
    elif cfg.name in KERAS_DATASETS:
        raw = load_keras_dataset(cfg.name)
    elif cfg.name == "folder":
        raw = load_folder(cfg.path, resolve_cache_dir(cfg.cache_dir))
    elif cfg.name == "synthetic":
        raw = synthetic_raw(SYNTHETIC_TRAIN, SYNTHETIC_TEST, SYNTHETIC_SHAPE,
                             SYNTHETIC_CLASSES, SYNTHETIC_DATA_SEED)
    else:  # pragma: no cover - cfg.validate() rejects other names
        raise ConfigError(None, "data.name", "a known data set", cfg.name)
    return raw
