"""The streamed input: tf.data over files, every epoch exactly `steps` batches, evaluation of
every image once, unreadable images skipped, named and counted; and `open_input`'s choice of
memory or streaming."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from resnet_nas.config import AugmentConfig, DataConfig, TrainConfig
from resnet_nas.data import DataError
from resnet_nas.input import ArrayInput, open_input
from resnet_nas.input.stream import StreamInput
from tests.data.helpers import make_photo_folder, write_tfrecords

SHAPE = (16, 16, 3)


def _cfg(**kw) -> TrainConfig:
    return TrainConfig(batch_size=4, eval_batch_size=5, seed=3,
                       augment=AugmentConfig(crop_padding=2, flip=True), **kw)


def _data(root, tmp_path, **kw) -> DataConfig:
    return DataConfig(name=kw.pop("name", "folder"), path=str(root),
                      cache_dir=str(tmp_path / "cache"), validation_split=0.25, **kw)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return make_photo_folder(tmp_path_factory.mktemp("photos") / "p", n_train=8, n_test=2)


@pytest.mark.parametrize("family", ["cifar", "inception", "vgg"])
def test_an_epoch_is_steps_batches_of_the_input_size_and_repeatable(photos, tmp_path, family):
    inp = open_input(_data(photos, tmp_path, preprocessing=family, cache="none"), 0, SHAPE)
    assert isinstance(inp, StreamInput)
    feed = inp.train_feed(_cfg())
    assert feed.steps == 18 // 4  # 24 training files, 6 held out for validation
    one = list(feed.epoch(1))
    assert len(one) == feed.steps
    for x, y in one:
        assert x.shape == (4, *SHAPE) and x.dtype == np.uint8 and y.dtype == np.int32
    again = list(feed.epoch(1))
    for (x1, y1), (x2, y2) in zip(one, again):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)
    other = list(feed.epoch(2))
    assert any(not np.array_equal(a[1], b[1]) for a, b in zip(one, other))
    # the red channel encodes the class (40 * class + 10), whatever the crop
    xs = np.concatenate([x for x, _ in one])
    ys = np.concatenate([y for _, y in one])
    red = xs[..., 0].reshape(len(xs), -1).max(axis=1).astype(int)
    assert np.all(np.abs(red - (40 * ys + 10)) <= 40)


def test_evaluation_gives_every_image_once_in_order(photos, tmp_path):
    inp = open_input(_data(photos, tmp_path, cache="none"), 0, SHAPE)
    feed = inp.eval_feed("test", _cfg())
    batches = list(feed.batches())
    assert feed.size == 6 and [k for _, _, k in batches] == [5, 1]
    assert all(x.shape == (5, *SHAPE) for x, _, _ in batches)
    labels = np.concatenate([y[:k] for _, y, k in batches])
    np.testing.assert_array_equal(labels, inp.splits["test"].labels)
    np.testing.assert_array_equal(batches[1][0][1:], 0)  # the padding


def test_bytes_kept_in_memory_give_the_same_batches(photos, tmp_path):
    disk = open_input(_data(photos, tmp_path, cache="none"), 0, SHAPE)
    memory = open_input(_data(photos, tmp_path, cache="memory"), 0, SHAPE)
    assert memory.in_memory and not disk.in_memory
    for (a, ya), (b, yb) in zip(disk.train_feed(_cfg()).epoch(1),
                                memory.train_feed(_cfg()).epoch(1)):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(ya, yb)


def test_an_unreadable_image_is_skipped_named_counted_and_the_epoch_keeps_its_steps(tmp_path):
    root = make_photo_folder(tmp_path / "p", classes=("a", "b"), n_train=60, n_test=2)
    (root / "train" / "b" / "005.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    inp = open_input(_data(root, tmp_path, cache="none"), 0, SHAPE)
    feed = inp.train_feed(_cfg())
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        batches = list(feed.epoch(1)) + list(inp.eval_feed("val", _cfg()).batches())
    assert len(batches) >= feed.steps
    assert inp.skipped() == 1
    assert any("b/005.jpg" in str(w.message) for w in seen)
    # more than 1% of the training files: the trial is refused, naming them
    for name in ("006.jpg", "007.jpg"):
        (root / "train" / "b" / name).write_bytes(b"truncated")
    inp = open_input(_data(root, tmp_path, cache="none"), 0, SHAPE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DataError, match=r"of the 120 images of the train split are "
                                            r"unreadable"):
            for split in ("train", "val"):
                feed = (inp.train_feed(_cfg()).epoch(1) if split == "train"
                        else inp.eval_feed("val", _cfg()).batches())
                list(feed)


def test_tfrecord_shards_stream_and_a_small_held_out_split_is_copied_once(tmp_path):
    from tests.data.helpers import encoded_image

    items = [(encoded_image((40 * c + 10, 0, 200), (30, 20 + c), "JPEG"), c)
             for c in range(3) for _ in range(20)]
    d = write_tfrecords(tmp_path / "shards", {"train": items, "validation": items[::10]},
                        shards=3)
    cfg = _data(d, tmp_path, name="tfrecord", cache="none")
    inp = open_input(cfg, 0, SHAPE)
    val = inp.eval_feed("val", _cfg())
    labels = np.concatenate([y[:k] for _, y, k in val.batches()])
    np.testing.assert_array_equal(labels, inp.splits["val"].labels)
    # 15 of 60 records: copied into the cache, read from there
    assert len(list((tmp_path / "cache").glob("tfrecord-subset-*.tfrecord"))) == 1
    feed = inp.train_feed(_cfg())
    seen = np.concatenate([y for _, y in feed.epoch(1)])
    assert len(seen) == feed.steps * 4 and set(seen) == {0, 1, 2}
    assert inp.skipped() == 0


def test_open_input_keeps_small_cifar_data_in_memory_and_streams_the_rest(photos, tmp_path,
                                                                          monkeypatch):
    import resnet_nas.input as input_module

    small = open_input(_data(photos, tmp_path, preprocessing="cifar"), 0, SHAPE)
    assert isinstance(small, ArrayInput) and small.arrays.x_train.shape[1:] == SHAPE
    assert isinstance(open_input(_data(photos, tmp_path, preprocessing="cifar", cache="none"),
                                 0, SHAPE), StreamInput)
    photo = open_input(_data(photos, tmp_path), 0, SHAPE)  # mixed sizes: inception
    assert isinstance(photo, StreamInput) and photo.preprocessing.name == "inception"
    assert photo.in_memory  # its files are small: their bytes are kept
    assert photo.normalization.mean == (127.5,) * 3
    monkeypatch.setattr(input_module, "MEMORY_BOUND_BYTES", 1000)
    assert isinstance(open_input(_data(photos, tmp_path, preprocessing="cifar"), 0, SHAPE),
                      StreamInput)
    assert not open_input(_data(photos, tmp_path), 0, SHAPE).in_memory
    digits = open_input(DataConfig(name="digits"), 0)
    assert isinstance(digits, ArrayInput)
    with pytest.raises(DataError, match="these arrays are used at their own size"):
        open_input(DataConfig(name="digits"), 0, (16, 16, 1))
