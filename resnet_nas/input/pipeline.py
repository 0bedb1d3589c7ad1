"""tf.data pipelines over a data set's files: (encoded image, label, index) elements of one
split, in a given order, read from disk, from the split's bytes kept in memory, or from
TFRecord shards; then preprocessed, batched and prefetched (resnet_nas.input.stream).

Every element carries its index in the split, so a pass that drops an unreadable image
(`tf.data.Dataset.ignore_errors`) still says which one it was.

TensorFlow runs here on the CPU only: in a process of another Keras backend its GPUs are
hidden from it before it starts (the JAX trainer needs their memory).
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from resnet_nas.data.cache import cache_lock
from resnet_nas.data.example_proto import read_record
from resnet_nas.data.files import IMAGE_KEY, FileSplit

#: A split that uses less than this fraction of its shards' records is copied once into the
#: cache as its own file (a validation split held out of ImageNet's training shards would
#: otherwise read all 140 GB for 2% of them, every evaluation).
COPY_BELOW_FRACTION = 0.5
#: Shuffle buffer (records) of TFRecord shards, after interleaving CYCLE shards.
SHUFFLE_BUFFER = 10_000
CYCLE = 8


def tensorflow() -> Any:
    """TensorFlow for input pipelines; on another Keras backend, without GPUs."""
    first = "tensorflow" not in sys.modules
    from resnet_nas.quiet import import_tensorflow_quietly

    if first and os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        with _quiet():
            import tensorflow as tf

            try:
                tf.config.set_visible_devices([], "GPU")
            except (RuntimeError, ValueError):  # devices initialised already
                pass
    import_tensorflow_quietly()
    import tensorflow as tf

    return tf


def _quiet():
    from resnet_nas.quiet import native_stderr_silenced

    return native_stderr_silenced()


def options(threads: int) -> Any:
    """tf.data options: a private pool of `threads` threads (the cores the trial may use),
    and no autotuning: every parallel stage runs `threads` calls at once.

    tf.data's autotuner, on the 2-core machine, ran a decode pass on one core in about half of
    the passes (6,000 photos: 2,355 img/s instead of 4,400-4,600, with the same CPU time per
    image); with the parallelism fixed every pass ran at the full rate
    (experiments/RESULTS.md, "How fast does the pipeline make batches")."""
    tf = tensorflow()
    opts = tf.data.Options()
    opts.threading.private_threadpool_size = max(1, threads)
    opts.autotune.enabled = False
    return opts


class SplitReader:
    """Elements (encoded image, label, index) of one FileSplit.

    Args:
      split: the split.
      cache_dir: where a TFRecord split that uses a small part of its shards is copied.
      threads: parallel reads.
    """

    def __init__(self, split: FileSplit, cache_dir: Path, threads: int):
        tf = tensorflow()
        self.split, self.threads = split, threads
        self.size = len(split)
        self.labels = tf.constant(split.labels.astype(np.int32))
        self.encoded: Any = None
        if split.records:
            self._records = _RecordFiles(split, cache_dir)
        else:  # relative paths, joined to the root per image: the listing is kept once
            self.paths = tf.constant(split.paths)
            self.root = split.root.rstrip("/") + "/"

    def keep_in_memory(self) -> None:
        """Reads every image's bytes once into memory: later passes read no file."""
        if self.encoded is not None:
            return
        tf = tensorflow()
        parts = [enc for enc, _, _ in self.elements(np.arange(self.size), shuffle_seed=None)
                 .batch(4096).as_numpy_iterator()]
        # An unreadable file has no bytes to keep: it stays empty and fails its decode, as
        # it would from disk.
        self.encoded = tf.constant(np.concatenate(parts) if parts else np.zeros(0, bytes))

    def encoded_bytes(self) -> int:
        """An estimate of the split's encoded size (files' sizes, or its share of the
        shards')."""
        split = self.split
        if split.records:
            return self._records.estimated_bytes()
        picks = np.unique(np.linspace(0, len(split) - 1, min(64, len(split))).astype(int))
        sizes = [os.stat(split.locator(int(i))).st_size for i in picks]
        return int(np.mean(sizes) * len(split)) if sizes else 0

    def elements(self, order: np.ndarray, shuffle_seed: int | None) -> Any:
        """A dataset of (encoded, label, index) for the images `order` (an index array) in
        that order; TFRecords not kept in memory come in their files' order instead,
        shuffled by `shuffle_seed` (None: in order)."""
        tf = tensorflow()
        labels = self.labels
        if self.encoded is not None:
            enc = self.encoded

            def from_memory(i):
                return tf.gather(enc, i), tf.gather(labels, i), i

            return tf.data.Dataset.from_tensor_slices(order.astype(np.int32)).map(
                from_memory, num_parallel_calls=self.threads)
        if self.split.records:
            return self._records.elements(labels, shuffle_seed, self.threads)
        paths, root = self.paths, self.root

        def from_disk(i):
            path = tf.strings.join([root, tf.gather(paths, i)])
            return tf.io.read_file(path), tf.gather(labels, i), i

        return tf.data.Dataset.from_tensor_slices(order.astype(np.int32)).map(
            from_disk, num_parallel_calls=self.threads, deterministic=True)


class _RecordFiles:
    """A TFRecord split as files to read: its shards (each record mapped to its index in the
    split, the others skipped), or a copy of its records in the cache."""

    def __init__(self, split: FileSplit, cache_dir: Path):
        self.split = split
        used = np.unique(split.shard)
        total = int(split.shard_records[used].sum())
        if len(split) < COPY_BELOW_FRACTION * total:
            self.files = [str(_copy_records(split, cache_dir))]
            self.starts = np.zeros(1, np.int64)
            self.lookup = np.arange(len(split), dtype=np.int32)
            self.file_bytes = [os.stat(self.files[0]).st_size]
            return
        paths = split.shard_paths()
        self.files = [paths[s] for s in used]
        counts = split.shard_records[used].astype(np.int64)
        self.starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        position = {int(s): k for k, s in enumerate(used)}
        lookup = np.full(int(counts.sum()), -1, np.int32)
        file_pos = np.array([position[int(s)] for s in split.shard], np.int64)
        lookup[self.starts[file_pos] + split.record] = np.arange(len(split), dtype=np.int32)
        self.lookup = lookup
        self.file_bytes = [os.stat(p).st_size * len(split) / max(total, 1) for p in self.files]

    def estimated_bytes(self) -> int:
        return int(sum(self.file_bytes))

    def elements(self, labels: Any, shuffle_seed: int | None, threads: int) -> Any:
        tf = tensorflow()
        files = np.array(self.files, dtype=bytes)
        ids = np.arange(len(files), dtype=np.int64)
        if shuffle_seed is not None and len(files) > 1:
            perm = np.random.default_rng(shuffle_seed).permutation(len(files))
            files, ids = files[perm], ids[perm]
        starts, lookup = tf.constant(self.starts), tf.constant(self.lookup)

        def records_of(path, file_id):
            return tf.data.TFRecordDataset(path).enumerate().map(
                lambda r, rec: (rec, tf.gather(lookup, tf.gather(starts, file_id) + r)))

        ds = tf.data.Dataset.from_tensor_slices((files, ids))
        if shuffle_seed is None:
            ds = ds.flat_map(records_of)
        else:
            ds = ds.interleave(records_of, cycle_length=min(len(files), CYCLE),
                               num_parallel_calls=min(len(files), CYCLE, threads),
                               deterministic=True)
        ds = ds.filter(lambda rec, i: i >= 0)
        if shuffle_seed is not None:
            ds = ds.shuffle(min(SHUFFLE_BUFFER, len(self.lookup)), seed=shuffle_seed)

        def parse(rec, i):
            feats = tf.io.parse_single_example(
                rec, {IMAGE_KEY: tf.io.FixedLenFeature([], tf.string, default_value="")})
            return feats[IMAGE_KEY], tf.gather(labels, i), i

        return ds.map(parse, num_parallel_calls=threads)


def _copy_records(split: FileSplit, cache_dir: Path) -> Path:
    """The split's records copied (in split order) into one TFRecord file of the cache."""
    tf = tensorflow()
    h = hashlib.sha256(split.root.encode())
    for column in (split.paths, split.shard, split.offset):
        h.update(np.ascontiguousarray(column).tobytes())
    out = cache_dir / f"tfrecord-subset-{h.hexdigest()[:20]}.tfrecord"
    with cache_lock(cache_dir / f".{out.name}.lock"):
        if out.is_file():
            return out
        paths = split.shard_paths()
        tmp = out.with_name(f"{out.name}.{os.getpid()}.tmp")
        with tf.io.TFRecordWriter(str(tmp)) as writer:
            for s, offset in zip(split.shard, split.offset):
                writer.write(read_record(paths[int(s)], int(offset)))
        os.replace(tmp, out)
    return out
