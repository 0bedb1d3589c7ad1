"""Shared helpers of the data tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from resnet_nas.data import Dataset


def assert_same(a: Dataset, b: Dataset) -> None:
    for key in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key), err_msg=key)
    assert a.class_names == b.class_names


def example_rows(x: np.ndarray, y: np.ndarray) -> list[bytes]:
    """Each example as bytes (image + label), sorted: compares splits as multisets."""
    return sorted(xi.tobytes() + int(yi).to_bytes(2, "little") for xi, yi in zip(x, y))


def image_pixel(cls: int, i: int) -> tuple[int, int, int]:
    return (40 * cls + 10, 17 * i % 256, 200)


def make_image_folder(root: Path, classes=("cat", "dog", "ant"), n_train=5, n_test=2,
                 test_classes=None, size=(6, 5), mode="RGB") -> Path:
    """train/<class>/i.png (lossless, class-coded colour) and test/<class>/i.png under root."""
    for split, names, n in (("train", classes, n_train), ("test", test_classes or classes,
                                                          n_test)):
        for name in names:
            d = root / split / name
            d.mkdir(parents=True, exist_ok=True)
            cls = sorted(classes).index(name) if name in classes else 9
            for i in range(n):
                colour = image_pixel(cls, i)
                img = Image.new("RGB", size, colour)
                if mode == "L":
                    img = Image.new("L", size, colour[0])
                img.save(d / f"{i:03d}.png")
    return root


def encoded_image(colour, size, fmt="JPEG", mode="RGB") -> bytes:
    """An image of one colour (plus a gradient, so crops differ) as JPEG or PNG bytes."""
    import io

    w, h = size
    img = np.zeros((h, w, 3), np.uint8)
    img[:] = colour
    img[..., 1] = np.clip(np.arange(w)[None, :] * 200 // max(w - 1, 1), 0, 255)
    im = Image.fromarray(img)
    if mode != "RGB":
        im = im.convert(mode)
    out = io.BytesIO()
    im.save(out, fmt)
    return out.getvalue()


def make_photo_folder(root: Path, classes=("cat", "dog", "emu"), n_train=6, n_test=2,
                      eval_dir="test", seed=0, low=20, high=60) -> Path:
    """train/<class>/NNN.jpg and <eval_dir>/<class>/NNN.jpg of mixed sizes (low..high px per
    side, any aspect ratio); the red channel encodes the class (40 * class + 10)."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), (eval_dir, n_test)):
        for c, name in enumerate(sorted(classes)):
            d = root / split / name
            d.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                size = tuple(int(v) for v in rng.integers(low, high + 1, 2))
                (d / f"{i:03d}.jpg").write_bytes(
                    encoded_image((40 * c + 10, 0, 200), size))
    return root


def write_tfrecords(directory: Path, splits: dict, shards: int = 2, style: str = "imagenet",
                    labels_offset: int = 0, drop_image: bool = False) -> Path:
    """TF-slim TFRecord shards: splits maps 'train'/'validation' to [(encoded, label), ...].

    style 'imagenet' names shards train-00000-of-00002 (build_imagenet_data.py); 'slim'
    names them <name>_train_00000-of-00002.tfrecord (download_and_convert_*.py).
    """
    import tensorflow as tf

    directory.mkdir(parents=True, exist_ok=True)
    for split, items in splits.items():
        for s in range(shards):
            name = (f"{split}-{s:05d}-of-{shards:05d}" if style == "imagenet"
                    else f"photos_{split}_{s:05d}-of-{shards:05d}.tfrecord")
            with tf.io.TFRecordWriter(str(directory / name)) as w:
                for encoded, label in items[s::shards]:
                    feature = {
                        "image/format": tf.train.Feature(bytes_list=tf.train.BytesList(
                            value=[b"jpeg" if encoded[:2] == b"\xff\xd8" else b"png"])),
                        "image/class/label": tf.train.Feature(int64_list=tf.train.Int64List(
                            value=[label + labels_offset])),
                        "image/height": tf.train.Feature(int64_list=tf.train.Int64List(
                            value=[1])),
                    }
                    if not drop_image:
                        feature["image/encoded"] = tf.train.Feature(
                            bytes_list=tf.train.BytesList(value=[encoded]))
                    w.write(tf.train.Example(features=tf.train.Features(
                        feature=feature)).SerializeToString())
    return directory
