"""TF-slim's TFRecord shards as a FileSource: recognised in a directory, indexed once without
TensorFlow (every record's offset and label), read by the trials with tf.data.

What slim's converters write (`download_and_convert_{cifar10,flowers,mnist}.py`,
`build_imagenet_data.py`): tf.train.Example records with `image/encoded` (JPEG or PNG bytes),
`image/format`, `image/class/label` (int64) and optionally `image/height`, `image/width`,
`image/class/text`, in shards named

    train-00000-of-01024, validation-00000-of-00128       (build_imagenet_data.py)
    flowers_train_00000-of-00005.tfrecord, cifar10_test.tfrecord   (download_and_convert_*)

The evaluation split is `validation` (or `val`, or `test`: the first found). A `labels.txt`
beside the shards (slim's dataset_utils writes `0:airplane` lines) names the classes; else
`image/class/text`; else the labels' numbers. `data.labels_offset` is subtracted from every
label: slim's ImageNet shards keep label 0 for a background class (labels 1..1000), which
`labels_offset: 1` maps to 0..999.

The index (offsets and raw labels) is cached per set of shards (by their sizes and times):
indexing reads every record once (ImageNet: its 140 GB once, at disk speed).
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from pathlib import Path

import numpy as np

from resnet_nas.data.dataset import DataError
from resnet_nas.data.example_proto import RecordError, iter_records, parse_example
from resnet_nas.data.files import (IMAGE_KEY, FileSource, FileSplit, check_labels,
                                   probe_images)
from resnet_nas.data.cache import cache_lock, stem
from resnet_nas.validation import ConfigError

LABEL_KEY = "image/class/label"
TEXT_KEY = "image/class/text"
#: Evaluation split names of shards, in order of preference.
EVAL_SPLITS = ("validation", "val", "test")
_CACHE_FORMAT = 1
#: Indexing at least this many bytes says so on stderr.
NOTE_BYTES = 256 << 20
#: Most classes a TFRecord set may have.
MAX_CLASSES = 100_000

_SPLIT = r"(train|validation|val|test)"
_SHARD_NAMES = (re.compile(rf"^{_SPLIT}[-_.]"), re.compile(rf"[-_]{_SPLIT}([-_.]|$)"))
_SHARD_FORM = re.compile(r"(\.tfrecords?|\.records?|-\d+-of-\d+)$", re.IGNORECASE)


def shard_split(name: str) -> str | None:
    """The split a shard's file name says ('train', 'validation', 'val', 'test'), or None for
    a file that is not a shard."""
    if name.startswith(".") or not _SHARD_FORM.search(name):
        return None
    for pattern in _SHARD_NAMES:
        m = pattern.search(name)
        if m:
            return m.group(1)
    return None


def find_shards(directory: Path) -> dict[str, list[str]]:
    """Shard file names of `directory` by split (sorted)."""
    found: dict[str, list[str]] = {}
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return {}
    for name in names:
        split = shard_split(name)
        if split is not None and (directory / name).is_file():
            found.setdefault(split, []).append(name)
    return found


def is_tfrecord_dir(path: str | Path) -> bool:
    """Whether `path` is a directory holding training shards."""
    p = Path(path).expanduser()
    return p.is_dir() and "train" in find_shards(p)


def tfrecord_source(path: str | None, cache_dir: Path, labels_offset: int = 0) -> FileSource:
    """The TFRecord shards in the directory `path`, without their pixels.

    Raises:
      ConfigError: `path` is not a directory.
      DataError: no training or evaluation shards, a record without an image or a label, a
        label outside the classes (naming the shard and the record).
    """
    directory = Path(path or "").expanduser()
    if not path or not directory.is_dir():
        raise ConfigError(None, "data.path", "a directory of TFRecord shards (train-*, "
                          "validation-*)", path)
    directory = directory.resolve()
    shards = find_shards(directory)
    if "train" not in shards:
        raise DataError(f"{directory}: no training shards (expected files named like "
                        "train-00000-of-01024 or <name>_train_00000-of-00005.tfrecord)")
    ev = next((s for s in EVAL_SPLITS if s in shards), None)
    if ev is None:
        raise DataError(f"{directory}: no evaluation shards (expected validation-* or "
                        "<name>_validation_*.tfrecord, or test)")
    names = shards["train"] + shards[ev]
    stats = [os.stat(directory / n) for n in names]
    digest = hashlib.sha256(f"{_CACHE_FORMAT}\n{directory}\n".encode())
    for n, st in zip(names, stats):
        digest.update(f"{n}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
    key = digest.hexdigest()
    index_file = cache_dir / f"tfrecord-index-{stem(directory)}-{key[:16]}.npz"
    with cache_lock(cache_dir / f".{index_file.name}.lock"):
        index = _read_index(index_file)
        if index is None:
            total = sum(st.st_size for st in stats)
            if total >= NOTE_BYTES:
                print(f"{directory.name}: first use, indexing {len(names)} TFRecord shards "
                      f"({total / 2**30:.1f} GiB) once", file=sys.stderr, flush=True)
            index = _build_index(directory, names)
            _write_index(index_file, index)
    shard_of, offsets, labels, texts = index
    n_train = len(shards["train"])
    counts = np.bincount(shard_of, minlength=len(names)).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    record = np.arange(len(shard_of), dtype=np.int64) - starts[shard_of]
    labels = labels - labels_offset
    class_names = _class_names(directory, labels, texts, labels_offset)
    is_train = shard_of < n_train
    train = FileSplit(root=str(directory), labels=labels[is_train].astype(np.int32),
                      paths=np.array([n.encode() for n in shards["train"]], dtype=bytes),
                      shard=shard_of[is_train].astype(np.int32), offset=offsets[is_train],
                      record=record[is_train], shard_records=counts[:n_train],
                      where=str(directory))
    test = FileSplit(root=str(directory), labels=labels[~is_train].astype(np.int32),
                     paths=np.array([n.encode() for n in shards[ev]], dtype=bytes),
                     shard=(shard_of[~is_train] - n_train).astype(np.int32),
                     offset=offsets[~is_train], record=record[~is_train],
                     shard_records=counts[n_train:], where=str(directory))
    probe = probe_images([train, test], all_up_to=0)
    source = FileSource("tfrecord", str(directory), class_names, train, test, probe, key)
    check_labels(source)
    return source


def _build_index(directory: Path, names: list[str]
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[int, str]]:
    shard_of: list[int] = []
    offsets: list[int] = []
    labels: list[int] = []
    texts: dict[int, str] = {}
    for s, name in enumerate(names):
        path = directory / name
        with open(path, "rb") as f:
            head = f.read(2)
            if head == b"\x1f\x8b":
                raise DataError(f"{path}: a GZIP-compressed TFRecord file; write the shards "
                                "uncompressed, as slim's converters do")
            f.seek(0)
            try:
                for offset, length in iter_records(f, os.fstat(f.fileno()).st_size):
                    data = f.read(length)
                    feats = parse_example(data, (IMAGE_KEY, LABEL_KEY, TEXT_KEY))
                    if not feats.get(IMAGE_KEY):
                        raise DataError(f"{path}: record at byte {offset} has no {IMAGE_KEY} "
                                        "(expected TF-slim's tf.train.Example with the "
                                        "encoded image)")
                    label = feats.get(LABEL_KEY)
                    if not label or not isinstance(label[0], int):
                        raise DataError(f"{path}: record at byte {offset} has no {LABEL_KEY} "
                                        "(an int64 label)")
                    text = feats.get(TEXT_KEY)
                    if text and label[0] not in texts and isinstance(text[0], bytes):
                        texts[int(label[0])] = text[0].decode("utf-8", "replace")[:200]
                    shard_of.append(s)
                    offsets.append(offset)
                    labels.append(int(label[0]))
            except RecordError as exc:
                raise DataError(f"{path}: not a TFRecord file of tf.train.Example records "
                                f"({exc})") from None
    return (np.array(shard_of, np.int32), np.array(offsets, np.int64),
            np.array(labels, np.int64), texts)


def _write_index(path: Path, index) -> None:
    shard_of, offsets, labels, texts = index
    keys = np.array(sorted(texts), np.int64)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            np.savez(f, shard_of=shard_of, offsets=offsets, labels=labels, text_keys=keys,
                     text_values=np.array([texts[int(k)].encode() for k in keys], dtype=bytes))
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)  # indexed again next time


def _read_index(path: Path):
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            texts = {int(k): v.decode("utf-8", "replace")
                     for k, v in zip(z["text_keys"], z["text_values"])}
            return z["shard_of"], z["offsets"], z["labels"], texts
    except Exception:  # noqa: BLE001 - a damaged index is rebuilt
        return None


def _class_names(directory: Path, labels: np.ndarray, texts: dict[int, str],
                 labels_offset: int) -> list[str]:
    """The classes: labels.txt's when there is one (it then decides their number), else the
    labels' range named by image/class/text where records carry it."""
    if labels.size and int(labels.min()) < 0:
        bad = int(labels.min()) + labels_offset
        raise DataError(f"{directory}: label {bad} minus data.labels_offset {labels_offset} "
                        "is negative; expected labels from 0 (slim's ImageNet shards: "
                        "labels_offset 1)")
    labels_txt = directory / "labels.txt"
    if labels_txt.is_file() and labels_txt.stat().st_size < 16 << 20:
        named: dict[int, str] = {}
        for line in labels_txt.read_text(errors="replace").splitlines():
            number, sep, name = line.partition(":")
            if sep and number.strip().lstrip("-").isdigit():
                named[int(number) - labels_offset] = name.strip()
        count = max((k for k in named if k >= 0), default=-1) + 1
        if count and labels.size and int(labels.max()) >= count:
            bad = int(labels.max())
            raise DataError(f"{directory}: label {bad + labels_offset} (minus "
                            f"data.labels_offset {labels_offset}: {bad}) is outside the "
                            f"{count} classes of {labels_txt.name}")
        if count:
            return [named.get(i, str(i)) for i in range(count)]
    top = int(labels.max()) + 1 if labels.size else 0
    if top > MAX_CLASSES:
        raise DataError(f"{directory}: labels up to {top - 1}; at most {MAX_CLASSES} classes")
    return [texts.get(i + labels_offset, str(i)) for i in range(top)]
