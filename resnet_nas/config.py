"""Typed training and data settings (pycls-style: dataclasses with defaults and validation).

These are the sections `data:` and `train:` of a search-space YAML file and of an exported
architecture config. They are plain data: no Keras import here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import PurePath
from typing import Any

from resnet_nas.validation import (ConfigError, ErrorCollector, check_keys, expect_bool,
                                   expect_choice, expect_float, expect_int, join)
# The limits and names the command line shares with these settings are the vocabulary's.
from resnet_nas.vocabulary import BACKENDS, MAX_EPOCHS, MAX_EXAMPLES, MAX_SEED

DATASETS = ("digits", "cifar10", "cifar100", "fashion_mnist", "folder", "tfrecord", "synthetic")
#: Sources read from files on disk (`path`): image folders (or archives of them) and TF-slim
#: TFRecord shards.
FILE_DATASETS = ("folder", "tfrecord")
#: Input preprocessing families, named after TF-slim's preprocessing_factory (resnet_nas.
#: preprocessing); 'auto' picks cifar for data of one image size, inception otherwise.
PREPROCESSINGS = ("auto", "cifar", "inception", "vgg")
#: Where a trial keeps its data: 'memory' (decoded arrays, or the encoded files for photo
#: preprocessing), 'none' (streamed from disk every epoch), 'auto' (memory below a size bound:
#: resnet_nas.input.MEMORY_BOUND_BYTES).
CACHES = ("auto", "memory", "none")
OPTIMIZERS = ("sgd", "nesterov", "adam", "adamw")
SCHEDULES = ("cosine", "constant", "onecycle", "step")
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
TRAINERS = ("auto", "fit", "jax", "tf")

# Upper bounds: every numeric field has a finite range (absurd values are refused up front
# instead of crashing a trial or a report later).
MAX_BATCH = 2**20
MAX_LEARNING_RATE = 1e6
MAX_CLASSES_OFFSET = 1_000


@dataclass(frozen=True)
class DataConfig:
    """Which data set to use and how to split it.

    Attributes:
      name: one of DATASETS. 'folder' reads an image-folder layout (train/<class>/*, and
        test/<class>/* or val/ or validation/) or a tar archive of one, from `path`;
        'tfrecord' reads TF-slim's TFRecord shards (train-*, validation-*) from the directory
        `path`. 'synthetic' is random data for tests.
      path: directory or archive for 'folder', directory of shards for 'tfrecord'.
      validation_split: fraction of the training set held out for validation during search.
      limit_train: if set, use only this many training examples (after the split; for tests).
      limit_test: if set, use only this many test examples.
      cache_dir: where unpacked archives, indexes and decoded data are cached (default:
        $RESNET_NAS_CACHE, else ~/.cache/resnet_nas).
      preprocessing: one of PREPROCESSINGS: how training and evaluation images are made from
        the files at the space's input size (resnet_nas.preprocessing).
      cache: one of CACHES: keep the data in the trial's memory, stream it from disk, or
        decide by its size.
      labels_offset: subtracted from every TFRecord label (1 for slim's ImageNet shards, whose
        label 0 is the background class).
    """

    name: str = "digits"
    path: str | None = None
    validation_split: float = 0.2
    limit_train: int | None = None
    limit_test: int | None = None
    cache_dir: str | None = None
    preprocessing: str = "auto"
    cache: str = "auto"
    labels_offset: int = 0

    def label(self) -> str:
        """A readable name of the data a row was trained on: 'digits', 'cifar10', or the image
        folder's (or archive's) file name, with the training-set limit when there is one."""
        name = self.name
        if self.name in FILE_DATASETS and self.path:
            name = PurePath(self.path.rstrip("/")).name or self.path
        return name + (f" (limit_train={self.limit_train})" if self.limit_train else "")

    def validate(self, source: str | None = None, path: str = "data") -> None:
        errors = ErrorCollector()  # every field is checked, as in TrainConfig.validate
        errors.run(expect_choice, self.name, DATASETS, source, join(path, "name"))
        if self.name == "folder" and not self.path:
            errors.errors.append(ConfigError(
                source, join(path, "path"),
                "a directory or .tar.gz with train/<class>/ and test/<class>/", self.path))
        if self.name == "tfrecord" and not self.path:
            errors.errors.append(ConfigError(
                source, join(path, "path"), "a directory of TFRecord shards (train-*, "
                "validation-*)", self.path))
        for key in ("path", "cache_dir"):
            value = getattr(self, key)
            if value is not None and (not isinstance(value, str) or "\0" in value):
                errors.errors.append(ConfigError(source, join(path, key), "a path (a string)",
                                                 value))
        errors.run(expect_float, self.validation_split, source, join(path, "validation_split"),
                   minimum=0.0, maximum=0.9, exclusive_minimum=True)
        for key in ("limit_train", "limit_test"):
            if getattr(self, key) is not None:
                errors.run(expect_int, getattr(self, key), source, join(path, key), minimum=1,
                           maximum=MAX_EXAMPLES)
        errors.run(expect_choice, self.preprocessing, PREPROCESSINGS, source,
                   join(path, "preprocessing"))
        errors.run(expect_choice, self.cache, CACHES, source, join(path, "cache"))
        errors.run(expect_int, self.labels_offset, source, join(path, "labels_offset"),
                   minimum=-MAX_CLASSES_OFFSET, maximum=MAX_CLASSES_OFFSET)
        errors.raise_if_any()


@dataclass(frozen=True)
class AugmentConfig:
    """On-the-fly augmentation: random crop after padding, horizontal flip.

    Attributes:
      crop_padding: pixels padded on each side before a random crop back to the input size
        (0: no crop).
      flip: random horizontal flip with probability 1/2.
      pad_mode: 'reflect' or 'zero' padding for the crop.
      per_example: draw a crop offset and a flip for every example (the standard). False draws
        ONE offset and ONE flip per batch: cheaper but a much weaker augmentation; it exists to
        measure what it costs (experiments/ablate_recipe.py), not as a recommendation.
    """

    crop_padding: int = 0
    flip: bool = False
    pad_mode: str = "reflect"
    per_example: bool = True

    def validate(self, source: str | None = None, path: str = "train.augment") -> None:
        expect_int(self.crop_padding, source, join(path, "crop_padding"), minimum=0, maximum=64)
        expect_bool(self.flip, source, join(path, "flip"))
        expect_choice(self.pad_mode, ("reflect", "zero"), source, join(path, "pad_mode"))
        expect_bool(self.per_example, source, join(path, "per_example"))


@dataclass(frozen=True)
class TrainConfig:
    """How one trial is trained.

    Attributes:
      epochs: full passes over the training split.
      batch_size: examples per step.
      optimizer: one of OPTIMIZERS ('nesterov' is SGD with Nesterov momentum).
      learning_rate: peak learning rate.
      momentum: for SGD.
      weight_decay: L2 as slim applies it (weight_decay * sum(w^2) / 2 on conv kernels).
      schedule: one of SCHEDULES.
      warmup_epochs: linear warm-up from 0 to the peak learning rate.
      label_smoothing: applied to the cross-entropy.
      precision: 'float32' or a mixed policy (fp32 master weights and BN statistics).
      seed: seeds Python, NumPy and the backend for the trial.
      trainer: 'fit' (Keras model.fit, any backend), 'jax' (jitted whole-epoch scan; JAX
        backend), 'tf' (a traced step of its own; TensorFlow backend), or 'auto' (jax on the
        JAX backend, tf on TensorFlow, else fit).
      backend: Keras backend the trial worker uses.
      eval_batch_size: batch size for evaluation.
      batch_norm_decay: BN moving-average decay the model is built with. slim's 0.997 suits
        long ImageNet schedules; in a trial of a few hundred steps the moving statistics would
        hardly move from their initial values and validation (inference mode) would suffer,
        so short NAS trials default to 0.9.
    """

    epochs: int = 3
    batch_size: int = 128
    optimizer: str = "nesterov"
    learning_rate: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    warmup_epochs: float = 0.0
    label_smoothing: float = 0.0
    precision: str = "float32"
    seed: int = 0
    trainer: str = "auto"
    backend: str = "tensorflow"
    eval_batch_size: int = 1024
    batch_norm_decay: float = 0.9
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def validate(self, source: str | None = None, path: str = "train") -> None:
        # every field is checked: a file with several mistakes reports them all
        errors = ErrorCollector()
        at = lambda key: join(path, key)  # noqa: E731
        errors.run(expect_int, self.epochs, source, at("epochs"), minimum=1, maximum=MAX_EPOCHS)
        errors.run(expect_int, self.batch_size, source, at("batch_size"), minimum=1,
                   maximum=MAX_BATCH)
        errors.run(expect_int, self.eval_batch_size, source, at("eval_batch_size"), minimum=1,
                   maximum=MAX_BATCH)
        errors.run(expect_choice, self.optimizer, OPTIMIZERS, source, at("optimizer"))
        errors.run(expect_float, self.learning_rate, source, at("learning_rate"), minimum=0.0,
                   maximum=MAX_LEARNING_RATE, exclusive_minimum=True)
        errors.run(expect_float, self.momentum, source, at("momentum"), minimum=0.0, maximum=1.0)
        errors.run(expect_float, self.weight_decay, source, at("weight_decay"), minimum=0.0,
                   maximum=100.0)
        errors.run(expect_choice, self.schedule, SCHEDULES, source, at("schedule"))
        errors.run(expect_float, self.warmup_epochs, source, at("warmup_epochs"), minimum=0.0,
                   maximum=MAX_EPOCHS)
        errors.run(expect_float, self.label_smoothing, source, at("label_smoothing"),
                   minimum=0.0, maximum=0.99)
        errors.run(expect_choice, self.precision, PRECISIONS, source, at("precision"))
        errors.run(expect_int, self.seed, source, at("seed"), minimum=0, maximum=MAX_SEED)
        errors.run(expect_choice, self.trainer, TRAINERS, source, at("trainer"))
        errors.run(expect_choice, self.backend, BACKENDS, source, at("backend"))
        errors.run(expect_float, self.batch_norm_decay, source, at("batch_norm_decay"),
                   minimum=0.0, maximum=1.0, exclusive_minimum=True)
        errors.run(self.augment.validate, source, join(path, "augment"))
        errors.raise_if_any()

    @classmethod
    def from_dict(cls, data: Any, source: str | None = None, path: str = "train") -> "TrainConfig":
        names = [f for f in cls.__dataclass_fields__]
        data = dict(check_keys(data, names, source, path))
        aug = check_keys(data.pop("augment", None), AugmentConfig.__dataclass_fields__, source,
                         join(path, "augment"))
        cfg = cls(**data, augment=AugmentConfig(**dict(aug)))
        cfg.validate(source, path)
        return cfg

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def resnet_config(self):
        """The nets' ResNetConfig (slim's arg scope) this training setup builds models with."""
        from resnet_nas.nets.config import ResNetConfig
        return ResNetConfig(weight_decay=self.weight_decay,
                            batch_norm_decay=self.batch_norm_decay)


def data_config_from_dict(data: Any, source: str | None = None, path: str = "data") -> DataConfig:
    names = list(DataConfig.__dataclass_fields__)
    cfg = DataConfig(**dict(check_keys(data, names, source, path)))
    cfg.validate(source, path)
    return cfg
