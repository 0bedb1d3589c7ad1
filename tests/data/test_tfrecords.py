"""TF-slim TFRecord shards: recognised, indexed without TensorFlow (tf.train.Example read in
pure Python), split, and refused with one line when they are not what slim writes."""

from __future__ import annotations

import io

import numpy as np
import pytest

from resnet_nas.config import DataConfig
from resnet_nas.data import DataError, dataset_facts, file_source, load_dataset, source_name
from resnet_nas.data.example_proto import RecordError, iter_records, parse_example
from resnet_nas.data.tfrecords import shard_split
from tests.data.helpers import encoded_image, write_tfrecords

CLASSES = 3


def _items(n_per_class: int, size=(6, 5), fmt="PNG", seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for c in range(CLASSES):
        for _ in range(n_per_class):
            size_ = size if size else tuple(int(v) for v in rng.integers(20, 50, 2))
            out.append((encoded_image((40 * c + 10, 0, 200), size_, fmt), c))
    return out


def _cfg(path, tmp_path, **kw) -> DataConfig:
    return DataConfig(name="tfrecord", path=str(path), cache_dir=str(tmp_path / "cache"), **kw)


def test_the_pure_python_reader_reads_what_tensorflow_writes():
    import tensorflow as tf

    ex = tf.train.Example(features=tf.train.Features(feature={
        "image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"\x00abc"])),
        "image/class/label": tf.train.Feature(int64_list=tf.train.Int64List(value=[7, -2])),
        "image/class/text": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"dog"])),
        "image/floats": tf.train.Feature(float_list=tf.train.FloatList(value=[1.5])),
    })).SerializeToString()
    got = parse_example(ex, {"image/encoded", "image/class/label", "image/class/text"})
    assert got == {"image/encoded": [b"\x00abc"], "image/class/label": [7, -2],
                   "image/class/text": [b"dog"]}
    assert parse_example(ex, {"absent"}) == {}
    with pytest.raises(RecordError):
        parse_example(b"\x0a\xff\xff\xff", {"image/encoded"})


def test_record_framing_is_checked(tmp_path):
    import tensorflow as tf

    path = tmp_path / "x.tfrecord"
    with tf.io.TFRecordWriter(str(path)) as w:
        for payload in (b"one", b"three"):
            w.write(payload)
    data = path.read_bytes()
    with open(path, "rb") as f:
        assert [length for _, length in iter_records(f, len(data))] == [3, 5]
    path.write_bytes(data[:-3])  # truncated
    with open(path, "rb") as f, pytest.raises(RecordError, match="past the end"):
        list(iter_records(f, len(data) - 3))


@pytest.mark.parametrize("name, split", [
    ("train-00000-of-01024", "train"), ("validation-00127-of-00128", "validation"),
    ("flowers_train_00000-of-00005.tfrecord", "train"), ("cifar10_test.tfrecord", "test"),
    ("mnist_validation.tfrecord", "validation"), ("labels.txt", None), ("train.py", None),
    ("notes-train.json", None)])
def test_shard_names_of_slims_converters_are_recognised(name, split):
    assert shard_split(name) == split


@pytest.mark.parametrize("style", ["imagenet", "slim"])
def test_shards_give_facts_and_pixels_as_an_image_folder_would(tmp_path, style):
    d = write_tfrecords(tmp_path / "shards", {"train": _items(8), "validation": _items(2)},
                        style=style)
    (d / "labels.txt").write_text("0:ant\n1:bee\n2:cat\n")
    assert source_name(str(d)) == "tfrecord" and source_name(str(tmp_path)) == "folder"
    cfg = _cfg(d, tmp_path, validation_split=0.25)
    facts = dataset_facts(cfg, seed=1)
    assert facts.class_names == ["ant", "bee", "cat"] and facts.input_shape == (5, 6, 3)
    assert (len(facts.y_train), len(facts.y_val), len(facts.y_test)) == (18, 6, 6)
    ds = load_dataset(cfg, seed=1)
    np.testing.assert_array_equal(ds.y_train, facts.y_train)
    np.testing.assert_array_equal(ds.y_test, facts.y_test)
    # the red channel encodes the class: every record decoded its own image
    assert np.all(np.abs(ds.x_train[:, 0, 0, 0].astype(int) - (40 * ds.y_train + 10)) <= 3)


def test_labels_offset_maps_slims_background_class_away(tmp_path):
    d = write_tfrecords(tmp_path / "shards", {"train": _items(4), "validation": _items(1)},
                        labels_offset=1)
    facts = dataset_facts(_cfg(d, tmp_path, labels_offset=1))
    assert facts.num_classes == CLASSES and facts.y_train.min() == 0
    with pytest.raises(DataError, match=r"no images of class\(es\) 0.*labels_offset: 1"):
        dataset_facts(_cfg(d, tmp_path))  # label 0: slim's background, never used
    with pytest.raises(DataError, match="label 1 minus data.labels_offset 2 is negative"):
        dataset_facts(_cfg(d, tmp_path, labels_offset=2))


def test_bad_shards_are_one_line_errors_naming_the_file(tmp_path):
    d = write_tfrecords(tmp_path / "noimg", {"train": _items(2), "validation": _items(1)},
                        drop_image=True)
    with pytest.raises(DataError, match=r"noimg/train-00000-of-00002: record at byte 0 has no "
                                        r"image/encoded"):
        dataset_facts(_cfg(d, tmp_path))
    d = write_tfrecords(tmp_path / "few", {"train": _items(2), "validation": _items(1)})
    (d / "labels.txt").write_text("0:ant\n1:bee\n")
    with pytest.raises(DataError, match="label 2 .* is outside the 2 classes of labels.txt"):
        dataset_facts(_cfg(d, tmp_path))
    d = write_tfrecords(tmp_path / "noval", {"train": _items(2)})
    with pytest.raises(DataError, match="no evaluation shards"):
        dataset_facts(_cfg(d, tmp_path))
    d = write_tfrecords(tmp_path / "missing", {"train": _items(2), "validation": _items(1)[:2]})
    with pytest.raises(DataError, match="the evaluation split has no images of class"):
        dataset_facts(_cfg(d, tmp_path))
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / "train-00000-of-00001").write_bytes(b"\x05" * 40)
    (garbage / "validation-00000-of-00001").write_bytes(b"")
    with pytest.raises(DataError, match="garbage/train-00000-of-00001: not a TFRecord file"):
        dataset_facts(_cfg(garbage, tmp_path))
    import gzip

    (garbage / "train-00000-of-00001").write_bytes(gzip.compress(b"x"))
    with pytest.raises(DataError, match="GZIP-compressed"):
        dataset_facts(_cfg(garbage, tmp_path))


def test_the_index_is_built_once(tmp_path, monkeypatch):
    from resnet_nas.data import tfrecords

    d = write_tfrecords(tmp_path / "shards", {"train": _items(4), "validation": _items(1)})
    first = dataset_facts(_cfg(d, tmp_path))
    monkeypatch.setattr(tfrecords, "_build_index", lambda *a: pytest.fail("indexed again"))
    again = dataset_facts(_cfg(d, tmp_path))
    np.testing.assert_array_equal(first.y_train, again.y_train)
    assert len(list((tmp_path / "cache").glob("tfrecord-index-*.npz"))) == 1
