"""Data sets: sources, train/validation/test splits, and normalisation statistics.

A source is described without its pixels first (`dataset_facts`: image shape, classes, every
split's labels: what the search process needs), then read by the trials: small data decoded
into uint8 NHWC arrays (`load_dataset`, a Dataset), large data streamed from its files
(`file_source` + `split_files`, fed by resnet_nas.input). The search only ever sees the
training split and the validation split held out of it; the test split is for the final
evaluation of exported configurations.

Sources (`DataConfig.name`), one module each:
  digits         scikit-learn's bundled 8x8 digits; works offline (the default).   digits.py
  cifar10/100,   Keras' standard download, read from its cache.                    keras_datasets.py
  fashion_mnist
  folder         train/<class>/* and test/<class>/* (or val/) of photos of any     folders.py,
                 size, in a directory or a tar archive (unpacked once).            archives.py
  tfrecord       TF-slim's TFRecord shards (train-*, validation-*).                tfrecords.py
  synthetic      small, learnable random data for tests.                           synthetic.py

Keras / TensorFlow are imported only inside the download function (importing them costs seconds).
"""

from __future__ import annotations


from resnet_nas.config import FILE_DATASETS, DataConfig
from resnet_nas.data.cache import default_cache_dir, resolve_cache_dir
from resnet_nas.data.dataset import (DataError, DataFacts, Dataset, RawData, RawLabels,
                                     normalization_stats)
from resnet_nas.data.digits import load_digits
from resnet_nas.data.files import FileSource, FileSplit
from resnet_nas.data.folders import decode_source, folder_source
from resnet_nas.data.layout import IMAGE_EXTENSIONS
from resnet_nas.data.keras_datasets import (CIFAR10_CLASSES, CIFAR100_CLASSES,
                                            FASHION_MNIST_CLASSES, KERAS_DATASETS, KERAS_SHAPES,
                                            load_keras_dataset)
from resnet_nas.data.splits import (file_facts, split_dataset, split_facts, split_files,
                                    stratified_split)
from resnet_nas.data.synthetic import (SYNTHETIC_CLASSES, SYNTHETIC_DATA_SEED, SYNTHETIC_SHAPE,
                                       SYNTHETIC_TEST, SYNTHETIC_TRAIN, make_synthetic,
                                       synthetic_raw)
from resnet_nas.data.tfrecords import is_tfrecord_dir, tfrecord_source
from resnet_nas.validation import ConfigError

__all__ = ["CIFAR10_CLASSES", "CIFAR100_CLASSES", "DataError", "DataFacts", "Dataset",
           "FASHION_MNIST_CLASSES", "FileSource", "FileSplit", "IMAGE_EXTENSIONS", "RawData",
           "RawLabels", "data_shape", "dataset_facts", "default_cache_dir", "file_facts",
           "file_source",
           "load_dataset",
           "make_synthetic", "normalization_stats", "source_name", "split_files",
           "stratified_split"]


def source_name(path: str) -> str:
    """The DataConfig.name of data at `path` (what --data gives): 'tfrecord' for a directory
    of TFRecord shards, else 'folder' (a directory or archive of image folders)."""
    return "tfrecord" if is_tfrecord_dir(path) else "folder"


def file_source(cfg: DataConfig) -> FileSource:
    """The data set on disk that `cfg` names (folder or tfrecord), without its pixels.

    Raises:
      ConfigError: no such path, or a path of the wrong kind.
      DataError: a wrong layout, an unreadable archive or shard, bad labels.
    """
    cache = resolve_cache_dir(cfg.cache_dir)
    if cfg.name == "tfrecord":
        return tfrecord_source(cfg.path, cache, cfg.labels_offset)
    return folder_source(cfg.path, cache)


def _check_preprocessing(cfg: DataConfig) -> None:
    if cfg.name not in FILE_DATASETS and cfg.preprocessing not in ("auto", "cifar"):
        raise ConfigError(None, "data.preprocessing", "auto or cifar for the arrays of "
                          f"{cfg.name} (inception and vgg read image files: folder, tfrecord)",
                          cfg.preprocessing)


def load_dataset(cfg: DataConfig, seed: int = 0,
                 input_shape: tuple[int, int, int] | None = None) -> Dataset:
    """Loads the data set described by `cfg` into memory and splits off the validation set.

    Args:
      cfg: data settings; validated here.
      seed: seeds the (stratified) validation split and the limit_train subsample. The test
        split and its limit_test subsample do not depend on it.
      input_shape: (height, width, channels) the images are wanted at; None: the data's own.
        Image files are brought to it (resnet_nas.data.folders.decode_source); arrays must
        have it.

    Returns:
      The Dataset. With `limit_train`, the validation split is shrunk in proportion
      (limit_train * validation_split / (1 - validation_split) examples) so that smoke runs stay
      small end to end. Images that do not decode are left out (Dataset.skipped).

    Raises:
      ConfigError: invalid settings or a missing `path`.
      DataError: unusable data (no images, too many corrupt images, class mismatch, failed
        download, a shape the data cannot give).
    """
    cfg.validate()
    _check_preprocessing(cfg)
    if cfg.name in FILE_DATASETS:
        source = file_source(cfg)
        shape = file_facts(source, cfg, seed).training_shape(input_shape)
        raw = decode_source(source, shape, resolve_cache_dir(cfg.cache_dir))
        return split_dataset(cfg.name, raw, cfg, seed)
    raw = _load_raw(cfg)
    if input_shape is not None:
        split_facts(cfg.name, RawLabels.of(raw), cfg, seed).training_shape(input_shape)
    return split_dataset(cfg.name, raw, cfg, seed)


def dataset_facts(cfg: DataConfig, seed: int = 0) -> DataFacts:
    """What load_dataset(cfg, seed) gives, less the pixels: the image shape, the classes and
    every split's labels (the search process's needs; the trial processes read the pixels).

    Image folders and TFRecords are listed, never decoded (a few image headers give the
    image size); the other sources are small or read whole.

    Raises:
      ConfigError, DataError: as load_dataset.
    """
    cfg.validate()
    _check_preprocessing(cfg)
    if cfg.name in FILE_DATASETS:
        return file_facts(file_source(cfg), cfg, seed)
    return split_facts(cfg.name, RawLabels.of(_load_raw(cfg)), cfg, seed)


def data_shape(cfg: DataConfig) -> tuple[tuple[int, int, int] | None, int]:
    """(image shape, class count) of the data set `cfg` names, as cheaply as it can be known:
    from constants for Keras' data sets (no download), digits and synthetic data, from the
    listing and a few headers for files (shape None: photos of mixed sizes).

    Raises:
      ConfigError, DataError: as dataset_facts.
    """
    cfg.validate()
    if cfg.name in KERAS_SHAPES:
        return KERAS_SHAPES[cfg.name]
    if cfg.name == "synthetic":
        return SYNTHETIC_SHAPE, SYNTHETIC_CLASSES
    if cfg.name == "digits":
        return (8, 8, 1), 10
    source = file_source(cfg)
    return source.probe.shape, source.num_classes


def _load_raw(cfg: DataConfig) -> RawData:
    if cfg.name == "digits":
        raw = load_digits()
    elif cfg.name in KERAS_DATASETS:
        raw = load_keras_dataset(cfg.name)
    elif cfg.name == "synthetic":
        raw = synthetic_raw(SYNTHETIC_TRAIN, SYNTHETIC_TEST, SYNTHETIC_SHAPE,
                             SYNTHETIC_CLASSES, SYNTHETIC_DATA_SEED)
    else:  # pragma: no cover - cfg.validate() rejects other names
        raise ConfigError(None, "data.name", "a known data set", cfg.name)
    return raw
