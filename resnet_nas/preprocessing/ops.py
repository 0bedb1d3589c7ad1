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


#: The JPEG decoder's scalings (it decodes at 1/2, 1/4 or 1/8 the size from the DCT
#: coefficients, for a fraction of the work of a full decode).
JPEG_RATIOS = (1, 2, 4, 8)


def decode_scaled(encoded: Any, channels: int, size: Any, smallest: Any) -> Any:
    """uint8 (H', W', channels): a JPEG decoded at the smallest of its scalings (1/2, 1/4,
    1/8) whose shorter side is still at least `smallest` pixels (any other format, and a
    JPEG too small to scale, decoded whole).

    Args:
      size: int32 [height, width] of the image (image_size).
      smallest: the shorter side the caller needs (a scalar tensor).
    """
    tf = _tf()
    shorter = tf.cast(tf.reduce_min(size), tf.float32)
    need = tf.cast(smallest, tf.float32)
    # index of the largest ratio r with ceil(shorter / r) >= need
    fits = [tf.math.ceil(shorter / r) >= need for r in JPEG_RATIOS]
    index = tf.reduce_sum(tf.cast(tf.stack(fits[1:]), tf.int32))

    def jpeg():
        branches = [lambda r=r: tf.io.decode_jpeg(encoded, channels=channels, ratio=r)
                    for r in JPEG_RATIOS]
        return tf.switch_case(index, branches)

    image = tf.cond(tf.io.is_jpeg(encoded), jpeg, lambda: decode(encoded, channels))
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
    """A bilinear resize of uint8 pixels back to uint8, truncated.

    Its values are convex combinations of 0..255 (non-negative weights summing to one), so
    they lie in [0, 255 + rounding] and need no clip; truncating instead of rounding lowers
    them by half a grey level on average, which the normalisation absorbs, and costs less than
    round + clip + cast (figures: experiments/RESULTS.md)."""
    tf = _tf()
    return tf.cast(image, tf.uint8)


def resize(image: Any, height: int, width: int, antialias: bool = False) -> Any:
    """Bilinear resize to (height, width), float32."""
    tf = _tf()
    return tf.image.resize(tf.cast(image, tf.float32), [height, width], method="bilinear",
                           antialias=antialias)


def fit(image: Any, height: int, width: int) -> Any:
    """The image at (height, width), uint8: its central box of that aspect ratio, resized; an
    image of that size already is returned as it is.

    The resize is antialiased only when it shrinks the box by 2x or more (a PNG, or a JPEG too
    small to decode scaled: decode_scaled leaves a JPEG under 2x): the antialiased kernel costs
    more CPU per image, more so on two cores, where its own threads contend with tf.data's
    (figures: experiments/RESULTS.md)."""
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
        shrink = tf.logical_or(box_h >= 2 * height, box_w >= 2 * width)
        return to_uint8(tf.cond(shrink, lambda: resize(box, height, width, antialias=True),
                                lambda: resize(box, height, width)))

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
