"""What the trainers consume: batches of raw uint8 pixels and int32 labels.

- A `TrainFeed` gives each epoch's training batches: exactly `steps` full batches of
  `batch_size`, shuffled and augmented (the ragged last batch is dropped, as every trainer
  always did).
- An `EvalFeed` gives a split's evaluation batches: all of its images once, in order, in
  batches of one fixed size (the last one zero-padded), each with its count of real images.

Both exist in memory (`ArrayTrainFeed`, `ArrayEvalFeed`: a Dataset's arrays, augmented in
numpy exactly as before) and streamed (resnet_nas.input.stream: a tf.data pipeline over the
files). Normalisation is not the feeds' business: the model's first layer does it.

A streamed epoch that met unreadable images has fewer full batches; its feed repeats its last
batch to keep `steps` (so every trainer's epoch, learning-rate schedule and Keras `fit` keep
their length), and `SkipLog` names the images once and refuses a split past
MAX_SKIPPED_FRACTION.
"""

from __future__ import annotations

import queue
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import numpy as np

from resnet_nas.config import TrainConfig
from resnet_nas.data.splits import check_skipped
from resnet_nas.input.augment import eval_batch_size, random_augment_numpy, steps_per_epoch

Batch = tuple[np.ndarray, np.ndarray]
EvalBatch = tuple[np.ndarray, np.ndarray, int]


class TrainFeed(Protocol):
    """An epoch's training batches (see the module doc)."""

    batch_size: int
    steps: int
    image_shape: tuple[int, int, int]

    def epoch(self, epoch: int) -> Iterator[Batch]:
        """Epoch `epoch` (1-based)'s `steps` batches (uint8 NHWC, int32)."""
        ...


class EvalFeed(Protocol):
    """A split's evaluation batches (see the module doc)."""

    batch_size: int
    image_shape: tuple[int, int, int]
    size: int

    def batches(self) -> Iterator[EvalBatch]:
        """(uint8 images, int32 labels, count of real images) per batch, in order."""
        ...


class ArrayTrainFeed:
    """Training batches of uint8 arrays: shuffled every epoch (seeded by (seed, epoch)),
    cropped and flipped per example in numpy (seeded by (seed, epoch, step)), so that every
    trainer that reads them sees the very same batches in the same order."""

    def __init__(self, x: np.ndarray, y: np.ndarray, cfg: TrainConfig):
        self.x, self.y, self.cfg = x, np.asarray(y, np.int32), cfg
        self.batch_size = cfg.batch_size
        self.steps = steps_per_epoch(len(x), cfg.batch_size)
        self.image_shape = tuple(int(v) for v in x.shape[1:])

    def order(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.cfg.seed, epoch, 0]).permutation(len(self.x))

    def batch(self, epoch: int, step: int, order: np.ndarray | None = None) -> Batch:
        """Batch `step` (0-based) of `epoch`."""
        order = self.order(epoch) if order is None else order
        bs = self.batch_size
        idx = order[step * bs:(step + 1) * bs]
        rng = np.random.default_rng([self.cfg.seed, epoch, step + 1])
        return random_augment_numpy(self.x[idx], rng, self.cfg.augment), self.y[idx]

    def epoch(self, epoch: int) -> Iterator[Batch]:
        order = self.order(epoch)
        for step in range(self.steps):
            yield self.batch(epoch, step, order)


class ArrayEvalFeed:
    """Evaluation batches of uint8 arrays, the last one zero-padded (made once, kept)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, cfg: TrainConfig):
        n = len(x)
        if n == 0:
            raise ValueError("evaluate: expected at least one example, found 0")
        self.size = n
        self.batch_size = eval_batch_size(cfg, n)
        self.image_shape = tuple(int(v) for v in x.shape[1:])
        self._x, self._y = x, np.asarray(y, np.int32)
        self._batches: list[EvalBatch] | None = None

    def batches(self) -> Iterator[EvalBatch]:
        if self._batches is None:
            eb, x, y = self.batch_size, self._x, self._y
            out = []
            for start in range(0, self.size, eb):
                out.append(pad_batch(np.asarray(x[start:start + eb]), y[start:start + eb], eb))
            self._batches = out
        return iter(self._batches)


def pad_batch(x: np.ndarray, y: np.ndarray, size: int) -> EvalBatch:
    """(x, y) zero-padded to `size` rows, with the count of real rows."""
    k = len(x)
    if k < size:
        x = np.concatenate([x, np.zeros((size - k, *x.shape[1:]), x.dtype)])
        y = np.concatenate([y, np.zeros(size - k, y.dtype)])
    return x, np.asarray(y, np.int32), k


class SkipLog:
    """Unreadable images met while streaming, per split: each named once in a warning, and a
    published split past MAX_SKIPPED_FRACTION refused (resnet_nas.data.splits.check_skipped:
    the training and validation splits count together, as the training files they are).

    Args:
      sizes: each split's number of images ('train', 'val', 'test').
    """

    def __init__(self, sizes: dict[str, int] | None = None) -> None:
        self._lock = threading.Lock()
        self.sizes = dict(sizes or {})
        self.by_split: dict[str, dict[int, str]] = {}

    def note(self, split: str, missing: np.ndarray, name: Callable[[int], str]) -> None:
        """Records the images of `split` a full pass did not deliver.

        Raises:
          DataError: more than MAX_SKIPPED_FRACTION of the published split.
        """
        with self._lock:
            seen = self.by_split.setdefault(split, {})
            new = [int(i) for i in missing if int(i) not in seen]
            for i in new:
                seen[i] = name(i)
            group = ("train", "val") if split in ("train", "val") else (split,)
            names = [f"{n}: unreadable" for s in group
                     for n in self.by_split.get(s, {}).values()]
            total = sum(self.sizes.get(s, 0) for s in group)
        if new:
            head = "; ".join(seen[i] for i in new[:5])
            more = f" (and {len(new) - 5} more)" if len(new) > 5 else ""
            warnings.warn(f"skipped {len(new)} unreadable image(s) of the {split} split: "
                          f"{head}{more}", stacklevel=2)
        check_skipped("train" if split == "val" else split, names, total)

    def count(self) -> int:
        with self._lock:
            return sum(len(v) for v in self.by_split.values())


def ahead(items: Iterator[Any], depth: int = 2) -> Iterator[Any]:
    """`items` produced on a helper thread, up to `depth` ahead of the consumer (the next
    batch is made while a step runs). An exception of the producer is raised to the
    consumer; a consumer that stops early stops the producer."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(("end", done))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            q.put(("error", exc))

    thread = threading.Thread(target=produce, daemon=True, name="resnet_nas-batches")
    thread.start()
    try:
        while True:
            kind, value = q.get()
            if kind == "item":
                yield value
            elif kind == "error":
                raise value
            else:
                return
    finally:
        stop.set()
