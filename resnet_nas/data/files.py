"""Data sets on disk, described without their pixels: where each image is, and its label.

A `FileSource` is what an image folder (resnet_nas.data.folders) or a set of TFRecord shards
(resnet_nas.data.tfrecords) holds: its classes and its two published splits, each a
`FileSplit`. Splits are numpy columns, not Python objects per image (ImageNet's 1.28 million
paths take about 80 MB so), and `subset` takes the search's validation split out of the
training files by index: no image is decoded to split a data set.

The pixels are read later, by the trial: decoded into memory for small data
(resnet_nas.data.folders.decode_source), or streamed by a tf.data pipeline (resnet_nas.input).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from resnet_nas.data.dataset import DataError
from resnet_nas.data.example_proto import RecordError, parse_example, read_record
from resnet_nas.data.images import ImageError, read_header

#: The Example feature holding the encoded image (TF-slim's name).
IMAGE_KEY = "image/encoded"
#: How many images the header probe reads (evenly spaced over the training split).
PROBE_IMAGES = 32


@dataclass(frozen=True, eq=False)
class FileSplit:
    """One split of a data set on disk.

    Attributes:
      root: the folder `paths` are relative to.
      labels: int32 label of each image.
      paths: image folder: each image's path (utf-8 bytes); TFRecords: each shard's file name.
      names: each image's name for messages (an archive member's own name), or None: its path.
      shard / offset / record: TFRecords only: each image's shard (an index into `paths`),
        the byte offset of its record there, and the record's position in the shard.
      shard_records: TFRecords only: how many records each shard holds.
      where: the data set's place, for messages.
    """

    root: str
    labels: np.ndarray
    paths: np.ndarray
    names: np.ndarray | None = None
    shard: np.ndarray | None = None
    offset: np.ndarray | None = None
    record: np.ndarray | None = None
    shard_records: np.ndarray | None = None
    where: str = ""

    @property
    def records(self) -> bool:
        """Whether the images are TFRecord records (else files)."""
        return self.shard is not None

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray) -> FileSplit:
        """The images at `index` (int array), in that order."""
        index = np.asarray(index, np.int64)
        if self.records:
            return replace(self, labels=self.labels[index], shard=self.shard[index],
                           offset=self.offset[index], record=self.record[index])
        return replace(self, labels=self.labels[index], paths=self.paths[index],
                       names=None if self.names is None else self.names[index])

    def shard_paths(self) -> list[str]:
        """TFRecords: the shard files' full paths."""
        return [str(Path(self.root) / p.decode()) for p in self.paths]

    def file_paths(self) -> np.ndarray:
        """Image folder: every image's full path (utf-8 bytes)."""
        prefix = (self.root.rstrip("/") + "/").encode()
        return np.char.add(prefix, self.paths)

    def name(self, i: int) -> str:
        """Image i, as messages name it."""
        if self.records:
            shard = self.paths[self.shard[i]].decode()
            return f"{Path(self.root) / shard}: record at byte {int(self.offset[i])}"
        if self.names is not None:
            return f"{self.where}:{self.names[i].decode()}"
        return str(Path(self.root) / self.paths[i].decode())

    def locator(self, i: int) -> Any:
        """What `read_item` needs to read image i, in any process (picklable)."""
        if self.records:
            return (str(Path(self.root) / self.paths[self.shard[i]].decode()),
                    int(self.offset[i]))
        return str(Path(self.root) / self.paths[i].decode())

    def locators(self) -> list[Any]:
        return [self.locator(i) for i in range(len(self))]


def read_item(locator: Any) -> bytes | str:
    """An image's encoded bytes (a TFRecord record's `image/encoded`) or its file's path.

    Raises:
      ImageError: the record is not an Example with an image.
    """
    if isinstance(locator, str):
        return locator
    path, offset = locator
    try:
        feats = parse_example(read_record(path, offset), {IMAGE_KEY})
    except (RecordError, OSError) as exc:
        raise ImageError(str(exc)) from None
    encoded = feats.get(IMAGE_KEY)
    if not encoded or not isinstance(encoded[0], bytes):
        raise ImageError(f"record has no {IMAGE_KEY}")
    return encoded[0]


@dataclass(frozen=True)
class ImageProbe:
    """What the headers of a few images say of a data set's image size.

    Attributes:
      shape: (height, width, channels) when every probed image has that size, else None
        (photos of mixed sizes: the space's input_shape decides the resolution).
      channels: 1 when every probed image is grayscale, else 3.
      sizes: how many distinct sizes the probe saw.
    """

    shape: tuple[int, int, int] | None
    channels: int
    sizes: int


def probe_images(splits: Sequence[FileSplit], all_up_to: int = 2_000,
                 count: int = PROBE_IMAGES) -> ImageProbe:
    """Reads image headers of `splits`: every image of a split of at most `all_up_to`
    images (so one colour image makes a small grayscale set RGB), else `count` evenly spaced.

    An unreadable image is passed over (the trials skip it and count it).

    Raises:
      DataError: not one probed file is an image (naming the first).
    """
    sizes: set[tuple[int, int]] = set()
    gray = True
    seen = 0
    first_error = ""
    for split in splits:
        n = len(split)
        picks = range(n) if n <= all_up_to else sorted(
            {int(i) for i in np.linspace(0, n - 1, count)})
        for i in picks:
            try:
                head = read_header(read_item(split.locator(i)))
            except ImageError as exc:
                first_error = first_error or f"{split.name(i)}: {exc}"
                continue
            sizes.add((head.height, head.width))
            gray = gray and head.gray
            seen += 1
    if not seen and first_error:
        raise DataError(f"no readable image among those probed; the first: {first_error}")
    channels = 1 if gray and seen else 3
    shape = (*next(iter(sizes)), channels) if len(sizes) == 1 else None
    return ImageProbe(shape, channels, len(sizes))


@dataclass(frozen=True, eq=False)
class FileSource:
    """A data set on disk: its classes and its two published splits.

    Attributes:
      kind: 'folder' or 'tfrecord' (DataConfig.name).
      where: its place, for messages.
      class_names: the name of each label.
      train: the published training split (the search's validation split is held out of it).
      test: the evaluation split (test/, validation/ or val/; validation-* shards).
      probe: the image size its headers suggest.
      key: a digest of its listing (decoded caches are keyed by it).
    """

    kind: str
    where: str
    class_names: list[str]
    train: FileSplit
    test: FileSplit
    probe: ImageProbe
    key: str

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def check_labels(source: FileSource) -> None:
    """Every label is a class of the source; every class has training images and the
    evaluation split has every class (one-line errors naming the place)."""
    k = source.num_classes
    for split_name, split in (("train", source.train), ("evaluation", source.test)):
        if len(split) == 0:
            raise DataError(f"{source.where}: no images in the {split_name} split")
        lo, hi = int(split.labels.min()), int(split.labels.max())
        if lo < 0 or hi >= k:
            bad = int(np.flatnonzero((split.labels < 0) | (split.labels >= k))[0])
            raise DataError(f"{split.name(bad)}: label {int(split.labels[bad])} is outside the "
                            f"{k} classes [0, {k}) (TFRecords: check data.labels_offset)")
    for split_name, split in (("train", source.train), ("evaluation", source.test)):
        missing = sorted(set(range(k)) - set(np.unique(split.labels).tolist()))
        if missing:
            shown = ", ".join(source.class_names[c] for c in missing[:5])
            hint = ("; label 0 unused: slim's background class? (data.labels_offset: 1)"
                    if source.kind == "tfrecord" and missing[0] == 0 else "")
            raise DataError(f"{source.where}: the {split_name} split has no images of class(es) "
                            f"{shown}" + (f" and {len(missing) - 5} more" if len(missing) > 5
                                          else "") + "; every class needs images in both"
                            + hint)
