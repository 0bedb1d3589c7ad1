"""TensorFlow ops the preprocessing families share: decoding (whole, or only a window of a
JPEG), sizes, resizing and the random flip."""

from __future__ import annotations

from typing import Any


def _tf():
    import tensorflow as tf

    return tf


def decode(encoded: Any, channels: int) -> Any:
    """uint8 (H, W, channels): JPEG or PNG (any mode: grayscale, palette, CMYK, 16-bit)."""
    tf = _tf()
    image = tf.io.decode_image(encoded, channels=channels, expand_animations=False)
    image.set_shape([None, None, channels])
    return image


def image_size(encoded: Any, channels: int) -> Any:
    """int32 [height, width] of an encoded image; a JPEG's from its header (no decode)."""
    tf = _tf()
    return tf.cond(tf.io.is_jpeg(encoded),
                   lambda: tf.io.extract_jpeg_shape(encoded)[:2],
                   lambda: tf.shape(decode(encoded, channels))[:2])


def decode_window(encoded: Any, window: Any, channels: int) -> Any:
    """The window [top, left, height, width] of an encoded image, uint8. A JPEG decodes only
    the window's blocks (tf.io.decode_and_crop_jpeg): a crop of a large photo costs a fraction
    of its whole decode."""
    tf = _tf()
    window = tf.cast(window, tf.int32)

    def jpeg():
        return tf.io.decode_and_crop_jpeg(encoded, window, channels=channels)

    def other():
        return tf.image.crop_to_bounding_box(decode(encoded, channels), window[0], window[1],
                                             window[2], window[3])

    image = tf.cond(tf.io.is_jpeg(encoded), jpeg, other)
    image.set_shape([None, None, channels])
    return image


def to_uint8(image: Any) -> Any:
    """A float image (0-255 values) rounded and clipped to uint8."""
    tf = _tf()
    return tf.cast(tf.clip_by_value(tf.round(image), 0.0, 255.0), tf.uint8)


def resize(image: Any, height: int, width: int, antialias: bool = False) -> Any:
    """Bilinear resize to (height, width), float32."""
    tf = _tf()
    return tf.image.resize(tf.cast(image, tf.float32), [height, width], method="bilinear",
                           antialias=antialias)


def fit(image: Any, height: int, width: int) -> Any:
    """The image at (height, width), uint8: its central box of that aspect ratio, resized
    (antialiased); an image of that size already is returned as it is."""
    tf = _tf()
    size = tf.shape(image)[:2]
    h, w = size[0], size[1]

    def fitted():
        too_wide = w * height > h * width
        box_w = tf.where(too_wide, tf.maximum(1, tf.cast(tf.round(
            tf.cast(h * width, tf.float32) / height), tf.int32)), w)
        box_h = tf.where(too_wide, h, tf.maximum(1, tf.cast(tf.round(
            tf.cast(w * height, tf.float32) / width), tf.int32)))
        box = tf.image.crop_to_bounding_box(image, (h - box_h) // 2, (w - box_w) // 2, box_h,
                                            box_w)
        return to_uint8(resize(box, height, width, antialias=True))

    same = tf.logical_and(tf.equal(h, height), tf.equal(w, width))
    out = tf.cond(same, lambda: tf.cast(image, tf.uint8), fitted)
    out.set_shape([height, width, image.shape[-1]])
    return out


def random_flip(image: Any, seed: Any, enabled: bool) -> Any:
    """A horizontal flip with probability 1/2 (stateless), when `enabled`."""
    if not enabled:
        return image
    return _tf().image.stateless_random_flip_left_right(image, seed)


def split_seed(seed: Any, n: int) -> list[Any]:
    """`n` independent stateless seeds from one."""
    tf = _tf()
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=n)
    return [seeds[i] for i in range(n)]
