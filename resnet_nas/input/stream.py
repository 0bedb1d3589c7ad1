"""A data set on disk as the trainers' input, streamed: each epoch a tf.data pipeline reads
the split's files (or their bytes kept in memory), decodes and preprocesses them on the
trial's cores, and batches them ahead of the step. Memory holds a few batches and the
split's listing, however many images there are.

Training pipeline of an epoch: the split's indices in a permutation seeded by (seed, epoch)
(TFRecord shards: shards in a seeded order, interleaved, through a shuffle buffer), the
family's training preprocessing with a stateless seed per image,
`tf.data.Dataset.ignore_errors` (an unreadable image is dropped, and named by SkipLog once the
pass ends), batches of batch_size, prefetch. Evaluation: the split in order, the evaluation
preprocessing, fixed-size batches (the last padded).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from resnet_nas.config import TrainConfig
from resnet_nas.data.files import FileSplit, read_item
from resnet_nas.data.images import ImageError, decode_image
from resnet_nas.input.arrays import check_padding
from resnet_nas.input.augment import eval_batch_size, steps_per_epoch
from resnet_nas.input.feeds import Batch, EvalBatch, SkipLog, pad_batch
from resnet_nas.input.pipeline import SplitReader, options, tensorflow
from resnet_nas.nets.normalization import InputNormalization
from resnet_nas.preprocessing import Preprocessing, get_preprocessing

#: Images whose statistics normalise streamed data of the cifar family (evenly spaced over
#: the training split; the mean and std of CIFAR-10 from 1,024 images are within 1% of all).
STATS_IMAGES = 1_024
#: Prefetched batches.
PREFETCH = 2


class StreamInput:
    """The trainers' input from files.

    Args:
      splits: the 'train', 'val' and 'test' FileSplits.
      preprocessing: the family's name.
      image_shape: (height, width, channels) the images are brought to.
      num_classes: classes of the labels.
      normalization: the model's input normalisation (None: the family's fixed scaling, or
        for cifar the statistics of STATS_IMAGES training images).
      cache_dir: where TFRecord subsets are copied.
      threads: cores of the pipeline.
      in_memory: keep the splits' encoded bytes in memory after their first read.
    """

    streamed = True
    arrays = None

    def __init__(self, splits: dict[str, FileSplit], preprocessing: str,
                 image_shape: tuple[int, int, int], num_classes: int,
                 cache_dir: Path, threads: int, in_memory: bool = False,
                 normalization: InputNormalization | None = None):
        self.splits = splits
        self.preprocessing: Preprocessing = get_preprocessing(preprocessing)
        self.image_shape = tuple(int(v) for v in image_shape)
        self.num_classes = int(num_classes)
        self.cache_dir, self.threads, self.in_memory = cache_dir, threads, in_memory
        self._normalization = normalization
        self._readers: dict[str, SplitReader] = {}
        self.skips = SkipLog({name: len(split) for name, split in splits.items()})

    @property
    def normalization(self) -> InputNormalization:
        if self._normalization is None:
            self._normalization = (InputNormalization.for_preprocessing(
                self.preprocessing.name, self.image_shape[2])
                or sample_statistics(self.splits["train"], self.image_shape))
        return self._normalization

    def reader(self, split: str) -> SplitReader:
        if split not in self._readers:
            reader = SplitReader(self.splits[split], self.cache_dir, self.threads)
            if self.in_memory:
                reader.keep_in_memory()
            self._readers[split] = reader
        return self._readers[split]

    def keep_in_memory(self) -> None:
        """Keeps the splits' encoded bytes in memory once read (no more disk reads)."""
        self.in_memory = True
        for reader in self._readers.values():
            reader.keep_in_memory()

    def check(self, cfg: TrainConfig) -> None:
        """Raises ValueError when the splits cannot feed `cfg`'s batches."""
        if len(self.splits["val"]) == 0:
            raise ValueError("data: expected a non-empty validation split, found 0 images")
        steps_per_epoch(len(self.splits["train"]), cfg.batch_size)
        if self.preprocessing.name == "cifar":
            check_padding(cfg, self.image_shape)

    def train_feed(self, cfg: TrainConfig) -> StreamTrainFeed:
        return StreamTrainFeed(self, cfg)

    def eval_feed(self, split: str, cfg: TrainConfig) -> StreamEvalFeed:
        return StreamEvalFeed(self, split, cfg)

    def skipped(self, splits: tuple[str, ...] = ("train", "val")) -> int:
        """How many unreadable images the splits' passes so far left out."""
        return sum(len(self.skips.by_split.get(s, {})) for s in splits)

    def skipped_names(self, splits: tuple[str, ...] = ("train", "val"),
                      limit: int | None = 20) -> list[str]:
        """Their names, the first `limit`."""
        names = [n for s in splits for n in self.skips.by_split.get(s, {}).values()]
        return names if limit is None else names[:limit]


def _epoch_seed(seed: int, epoch: int) -> int:
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1, np.uint32)[0])


class StreamTrainFeed:
    """An epoch's training batches from the files (see the module doc)."""

    def __init__(self, inp: StreamInput, cfg: TrainConfig):
        self.inp, self.cfg = inp, cfg
        self.batch_size = cfg.batch_size
        self.size = len(inp.splits["train"])
        self.steps = steps_per_epoch(self.size, cfg.batch_size)
        self.image_shape = inp.image_shape

    def dataset(self, epoch: int):
        """The tf.data pipeline of epoch `epoch` (elements: images, labels, indices)."""
        tf = tensorflow()
        inp, cfg = self.inp, self.cfg
        reader = inp.reader("train")
        order = np.random.default_rng([cfg.seed, epoch, 0]).permutation(self.size)
        seed = _epoch_seed(cfg.seed, epoch)
        shape, augment, train_image = inp.image_shape, cfg.augment, inp.preprocessing.train_image

        def preprocess(encoded, label, i):
            image_seed = tf.stack([tf.constant(seed, tf.int64), tf.cast(i, tf.int64)])
            return train_image(encoded, shape, image_seed, augment), label, i

        ds = reader.elements(order, shuffle_seed=seed)
        ds = ds.map(preprocess, num_parallel_calls=inp.threads, deterministic=True)
        ds = ds.ignore_errors().batch(cfg.batch_size).prefetch(PREFETCH)
        return ds.with_options(options(inp.threads))

    def epoch(self, epoch: int) -> Iterator[Batch]:
        bs, steps = self.batch_size, self.steps
        seen = np.zeros(self.size, bool)
        full = 0
        last: Batch | None = None
        for xb, yb, ib in self.dataset(epoch).as_numpy_iterator():
            seen[ib] = True
            if len(xb) == bs and full < steps:
                last = (xb, yb)
                full += 1
                yield last
        split = self.inp.splits["train"]
        self.inp.skips.note("train", np.flatnonzero(~seen), split.name)
        if last is None:
            raise ValueError(f"{split.where}: no full batch of {bs} readable training images")
        for _ in range(steps - full):  # unreadable images left fewer full batches
            yield last


class StreamEvalFeed:
    """A split's evaluation batches from the files, in order (see the module doc)."""

    def __init__(self, inp: StreamInput, split: str, cfg: TrainConfig):
        self.inp, self.split = inp, split
        self.size = len(inp.splits[split])
        if self.size == 0:
            raise ValueError("evaluate: expected at least one example, found 0")
        self.batch_size = eval_batch_size(cfg, self.size)
        self.image_shape = inp.image_shape

    def dataset(self):
        tf = tensorflow()
        inp = self.inp
        shape, eval_image = inp.image_shape, inp.preprocessing.eval_image

        def preprocess(encoded, label, i):
            return eval_image(encoded, shape), label, i

        ds = inp.reader(self.split).elements(np.arange(self.size), shuffle_seed=None)
        ds = ds.map(preprocess, num_parallel_calls=inp.threads, deterministic=True)
        ds = ds.ignore_errors().batch(self.batch_size).prefetch(PREFETCH)
        return ds.with_options(options(inp.threads))

    def batches(self) -> Iterator[EvalBatch]:
        seen = np.zeros(self.size, bool)
        for xb, yb, ib in self.dataset().as_numpy_iterator():
            seen[ib] = True
            yield pad_batch(xb, yb, self.batch_size)
        split = self.inp.splits[self.split]
        self.inp.skips.note(self.split, np.flatnonzero(~seen), split.name)


def sample_statistics(split: FileSplit, shape: tuple[int, int, int],
                      count: int = STATS_IMAGES) -> InputNormalization:
    """Per-channel mean and std of up to `count` evenly spaced images of `split` brought to
    `shape` (the cifar family's normalisation of streamed data)."""
    from resnet_nas.data.dataset import normalization_stats

    n = len(split)
    picks = np.unique(np.linspace(0, n - 1, min(count, n)).astype(int))
    images = []
    for i in picks:
        try:
            images.append(decode_image(read_item(split.locator(int(i))), shape[2], shape[:2]))
        except ImageError:
            continue
    if not images:
        raise ValueError(f"{split.where}: no readable image to take statistics from")
    mean, std = normalization_stats(np.stack(images))
    return InputNormalization.of(mean, std)
