"""slim's preprocessing families in TensorFlow ops: shapes, what each keeps of an image,
stateless seeds, and decoding of every mode to RGB."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from resnet_nas.config import AugmentConfig
from resnet_nas.preprocessing import get_preprocessing
from resnet_nas.preprocessing.inception import AREA_RANGE

FLIP = AugmentConfig(crop_padding=4, flip=True)


def _encode(arr: np.ndarray, fmt: str = "PNG", mode: str | None = None) -> bytes:
    im = Image.fromarray(arr)
    if mode:
        im = im.convert(mode)
    out = io.BytesIO()
    im.save(out, fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return out.getvalue()


def _framed(h: int, w: int, border: int) -> np.ndarray:
    """Blue centre, red border of `border` pixels."""
    x = np.zeros((h, w, 3), np.uint8)
    x[...] = (255, 0, 0)
    x[border:h - border, border:w - border] = (0, 0, 255)
    return x


@pytest.mark.parametrize("family", ["cifar", "inception", "vgg"])
@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_every_family_gives_uint8_at_the_input_size(family, fmt):
    import tensorflow as tf

    prep = get_preprocessing(family)
    enc = tf.constant(_encode(_framed(90, 140, 10), fmt))
    for shape in ((32, 32, 3), (24, 40, 3)):
        ev = prep.eval_image(enc, shape).numpy()
        tr = prep.train_image(enc, shape, tf.constant([1, 2], tf.int64), FLIP).numpy()
        assert ev.shape == tr.shape == shape and ev.dtype == tr.dtype == np.uint8
    # stateless: the same seed gives the same image, another seed another one
    noise = np.random.default_rng(0).integers(0, 256, (90, 140, 3), dtype=np.uint8)
    enc = tf.constant(_encode(noise, fmt))
    a, b, c = (prep.train_image(enc, (32, 32, 3), tf.constant(s, tf.int64), FLIP).numpy()
               for s in ([1, 2], [1, 2], [3, 4]))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c) or family == "cifar"


def test_inception_evaluation_keeps_the_central_87_5_percent():
    import tensorflow as tf

    # a border of 1/16 of each side is exactly what the central 87.5% leaves out
    enc = tf.constant(_encode(_framed(160, 320, 10)))
    out = get_preprocessing("inception").eval_image(enc, (16, 16, 3)).numpy()
    assert out[..., 2].min() > 200 and out[..., 0].max() < 60  # all centre, no border


def test_inception_training_crops_between_8_and_100_percent_of_the_area():
    import tensorflow as tf

    from resnet_nas.preprocessing.ops import image_size

    enc = tf.constant(_encode(np.zeros((200, 300, 3), np.uint8), "JPEG"))
    size = image_size(enc, 3)
    areas = []
    for s in range(60):
        _, crop, _ = tf.image.stateless_sample_distorted_bounding_box(
            tf.concat([size, [3]], 0), tf.constant([[[0.0, 0.0, 1.0, 1.0]]]),
            seed=tf.constant([s, 7]), min_object_covered=AREA_RANGE[0],
            aspect_ratio_range=(3 / 4, 4 / 3), area_range=AREA_RANGE, max_attempts=10,
            use_image_if_no_bounding_boxes=True)
        areas.append(float(crop[0] * crop[1]) / (200 * 300))
    assert min(areas) >= AREA_RANGE[0] - 0.01 and max(areas) <= 1.0
    assert max(areas) - min(areas) > 0.3  # it varies


def test_vgg_evaluation_resizes_the_shorter_side_then_crops_the_centre():
    import tensorflow as tf

    # 256 x 512 for a 224 input: the shorter side is already 256; the centre crop keeps the
    # middle 224 columns of 512: a left and right band of another colour is cut off
    x = np.zeros((256, 512, 3), np.uint8)
    x[:, :144] = (255, 0, 0)
    x[:, 368:] = (255, 0, 0)
    x[:, 144:368] = (0, 0, 255)
    out = get_preprocessing("vgg").eval_image(tf.constant(_encode(x)), (224, 224, 3)).numpy()
    assert out[..., 0].max() < 30 and out[..., 2].min() > 220


def test_cifar_keeps_an_image_of_the_input_size_and_fits_another():
    import tensorflow as tf

    prep = get_preprocessing("cifar")
    x = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    np.testing.assert_array_equal(prep.eval_image(tf.constant(_encode(x)), (8, 8, 3)).numpy(),
                                  x)
    wide = _framed(8, 64, 0)
    wide[:, :28] = (255, 0, 0)  # the sides; the central 8x8 box is blue
    wide[:, 28:36] = (0, 0, 255)
    wide[:, 36:] = (255, 0, 0)
    out = prep.eval_image(tf.constant(_encode(wide)), (8, 8, 3)).numpy()
    assert out[..., 2].min() > 200


@pytest.mark.parametrize("mode, fmt", [("L", "PNG"), ("P", "PNG"), ("RGBA", "PNG"),
                                       ("CMYK", "JPEG"), ("L", "JPEG")])
def test_any_mode_decodes_to_rgb(mode, fmt):
    import tensorflow as tf

    from resnet_nas.preprocessing.ops import decode

    x = np.full((6, 5, 3), (200, 200, 200), np.uint8)
    out = decode(tf.constant(_encode(x, fmt, mode)), 3).numpy()
    assert out.shape == (6, 5, 3) and abs(int(out.mean()) - 200) < 8


def test_an_unknown_family_is_refused():
    with pytest.raises(ValueError, match="data.preprocessing: expected one of"):
        get_preprocessing("alexnet")
