"""The trainers' input: a split + a preprocessing + a batch size -> batches.

`open_input(data_cfg, seed, input_shape)` decides how a trial reads its data set, by
`data.cache` and the data's size:

- in memory (`ArrayInput`, resnet_nas.input.arrays): uint8 arrays at the input size,
  augmented in numpy (the TensorFlow trainer and `fit`) or on the device (the JAX trainer's
  whole-epoch scan). Keras' data sets, digits and synthetic data always; image files of the
  cifar family when `cache: memory`, or `auto` and their decoded size at the input size is at
  most MEMORY_BOUND_BYTES (CIFAR-10: 184 MB).
- streamed (`StreamInput`, resnet_nas.input.stream): a tf.data pipeline over the files;
  photo families (inception, vgg) always, and the cifar family above the bound. With `cache:
  memory`, or `auto` and the files' encoded size at most MEMORY_BOUND_BYTES, the encoded
  bytes are kept in memory after their first read (no disk reads, the decode and the random
  crops still every epoch).

Either way the trainers see the same interface: `train_feed(cfg)`, `eval_feed(split, cfg)`
(resnet_nas.input.feeds), `normalization` (the model's first layer), `check(cfg)`,
`skipped()`; `arrays` is the Dataset when in memory.
"""

from __future__ import annotations

from typing import Any

from resnet_nas.config import FILE_DATASETS, DataConfig
from resnet_nas.input.arrays import ArrayInput
from resnet_nas.input.feeds import (ArrayEvalFeed, ArrayTrainFeed, EvalFeed, SkipLog, TrainFeed,
                                    ahead)

#: In memory up to this size: the decoded arrays (cifar family) or the encoded files (photo
#: families) of a data set. Two trial processes (look-ahead) hold two copies. In memory is the
#: faster path where the data fits (figures: experiments/RESULTS.md, "Streamed or in memory"),
#: so the bound is what a laptop can give twice over: 1 GiB.
MEMORY_BOUND_BYTES = 1 << 30

__all__ = ["ArrayEvalFeed", "ArrayInput", "ArrayTrainFeed", "EvalFeed", "MEMORY_BOUND_BYTES",
           "SkipLog", "TrainFeed", "TrainingInput", "ahead", "as_input", "open_input"]

#: What a trainer is given: an ArrayInput or a StreamInput.
TrainingInput = Any


def as_input(data: Any) -> TrainingInput:
    """`data` as the trainers' input: an input as it is, a Dataset in memory."""
    if hasattr(data, "train_feed"):
        return data
    return ArrayInput(data)


def open_input(data_cfg: DataConfig, seed: int,
               input_shape: tuple[int, int, int] | None = None,
               threads: int | None = None) -> TrainingInput:
    """The trainers' input of a data set (see the module doc).

    Args:
      data_cfg: the data settings (validated here).
      seed: seeds the validation split (as load_dataset).
      input_shape: the images' (height, width, channels) in the model; None: the data's own.
      threads: cores of a streaming pipeline (default: those this process may use).

    Raises:
      ConfigError, DataError: as resnet_nas.data.load_dataset.
    """
    from resnet_nas import data

    data_cfg.validate()
    if data_cfg.name not in FILE_DATASETS:
        return ArrayInput(data.load_dataset(data_cfg, seed, input_shape))
    source = data.file_source(data_cfg)
    facts = data.file_facts(source, data_cfg, seed)
    shape = facts.training_shape(input_shape)
    family = facts.preprocessing
    cache = data_cfg.cache
    n = len(source.train) + len(source.test)
    if family == "cifar" and (cache == "memory" or (
            cache == "auto" and n * shape[0] * shape[1] * shape[2] <= MEMORY_BOUND_BYTES)):
        return ArrayInput(data.load_dataset(data_cfg, seed, shape))
    from resnet_nas.data.cache import resolve_cache_dir
    from resnet_nas.data.images import usable_cores
    from resnet_nas.input.stream import StreamInput

    train, val, test = data.split_files(source, data_cfg, seed)
    inp = StreamInput({"train": train, "val": val, "test": test}, family, shape,
                      source.num_classes, resolve_cache_dir(data_cfg.cache_dir),
                      threads or usable_cores())
    if cache == "memory" or (cache == "auto" and family != "cifar"):
        size = inp.reader("train").encoded_bytes() + inp.reader("val").encoded_bytes()
        if cache == "memory" or size <= MEMORY_BOUND_BYTES:
            inp.keep_in_memory()
    return inp
