"""Image files with Pillow (no TensorFlow): a header's size and mode, and the decode of a
whole small data set into one uint8 array for the in-memory path (resnet_nas.data.folders).

The streaming path decodes with TensorFlow inside its tf.data pipeline instead
(resnet_nas.preprocessing); both give RGB (or single-channel) uint8 pixels, CMYK and
palette images converted.

Decoding runs in a pool of processes when a data set is large enough to gain from it
(PARALLEL_MIN_IMAGES): Pillow's per-image cost on small JPEGs is mostly Python, which threads
would serialise.
"""

from __future__ import annotations

import concurrent.futures
import io
import multiprocessing
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Pillow modes decoded to one channel (everything else becomes RGB).
GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "F"})
#: A decode of at least this many images runs in a process pool.
PARALLEL_MIN_IMAGES = 4_000
#: Images per task of the pool (amortises its messages).
CHUNK = 512
#: Largest image (pixels) Pillow is allowed to decode: a decompression bomb (a small file of
#: a huge canvas) is refused instead of allocating gigabytes. 16,384 x 16,384.
MAX_PIXELS = 1 << 28


class ImageError(ValueError):
    """A file that is not a readable image (the message says why)."""


@dataclass(frozen=True)
class ImageHeader:
    """What an image file's header says: its size and whether it is grayscale."""

    width: int
    height: int
    gray: bool


def _open(payload: bytes | str):
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow then raises DecompressionBombError beyond 2x
    return Image.open(io.BytesIO(payload) if isinstance(payload, bytes) else payload)


def read_header(payload: bytes | str) -> ImageHeader:
    """The size and mode of an image (its file path, or its bytes), without decoding it.

    Raises:
      ImageError: not an image Pillow can identify.
    """
    try:
        with _open(payload) as im:
            width, height = im.size
            return ImageHeader(int(width), int(height), im.mode in GRAY_MODES)
    except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds for bad files
        raise ImageError(f"cannot read image header ({type(exc).__name__}: {exc})") from None


def fit_box(width: int, height: int, out_h: int, out_w: int) -> tuple[int, int, int, int]:
    """The central box (left, top, right, bottom) of a width x height image with the aspect
    ratio of out_w x out_h: what is kept before the image is resized to out_h x out_w."""
    if width * out_h > height * out_w:  # too wide: cut the sides
        w = max(1, round(height * out_w / out_h))
        left = (width - w) // 2
        return left, 0, left + w, height
    h = max(1, round(width * out_h / out_w))
    top = (height - h) // 2
    return 0, top, width, top + h


def decode_image(payload: bytes | str, channels: int,
                 size: tuple[int, int] | None = None) -> np.ndarray:
    """Decodes one image to uint8 (H, W, channels).

    Args:
      payload: the file's path or its bytes.
      channels: 1 (grayscale) or 3 (RGB; grayscale, palette and CMYK images converted).
      size: (height, width) to bring the image to: its central box of that aspect ratio,
        resized (bilinear, antialiased); None keeps the image's own size.

    Raises:
      ImageError: the file cannot be decoded.
    """
    from PIL import Image

    try:
        with _open(payload) as im:
            im.load()
            mode = "L" if channels == 1 else "RGB"
            if im.mode != mode:
                im = im.convert(mode)
            if size is not None and (im.height, im.width) != tuple(size):
                box = fit_box(im.width, im.height, *size)
                im = im.resize((size[1], size[0]), Image.Resampling.BILINEAR, box=box)
            arr = np.asarray(im, dtype=np.uint8)
    except Exception as exc:  # noqa: BLE001 - truncated, corrupt, bomb, unknown format
        raise ImageError(f"cannot decode image ({type(exc).__name__}: {exc})") from None
    return arr[..., None] if arr.ndim == 2 else arr


#: Reads one item's encoded bytes (or gives its path) in whichever process decodes it.
Reader = Callable[[Any], "bytes | str"]


@dataclass(frozen=True)
class Decoded:
    """A decoded data set: the images that decoded, and which did not.

    Attributes:
      x: uint8 (N_ok, H, W, C), in item order, skipped items left out.
      ok: bool (N,): which items are in x.
      errors: (item index, why) of each skipped item.
    """

    x: np.ndarray
    ok: np.ndarray
    errors: tuple[tuple[int, str], ...]


def _decode_chunk(reader: Reader, locators: Sequence[Any], channels: int,
                  size: tuple[int, int] | None) -> list[np.ndarray | str]:
    out: list[np.ndarray | str] = []
    for loc in locators:
        try:
            out.append(decode_image(reader(loc), channels, size))
        except (ImageError, OSError) as exc:
            out.append(str(exc))
    return out


def decode_all(reader: Reader, locators: Sequence[Any], names: Callable[[int], str],
               channels: int, size: tuple[int, int] | None, workers: int | None = None,
               progress: bool = False) -> Decoded:
    """Decodes every item into one uint8 array, skipping (and naming) the ones that fail.

    Args:
      reader: a picklable function from a locator to the item's path or bytes.
      locators: one picklable locator per item.
      names: item index -> a name for messages.
      channels: 1 or 3.
      size: (height, width) every image is brought to; None: all must share one size (the
        first decoded image's), and an image of another size is skipped as unusable.
      workers: processes (default: the cores this process may use; 1 decodes here).
      progress: show a bar on a terminal.

    Returns:
      The Decoded images.
    """
    n = len(locators)
    if workers is None:
        workers = usable_cores()
    results: list[np.ndarray | str] = []
    chunks = [locators[i:i + CHUNK] for i in range(0, n, CHUNK)]
    bar = _bar(n, progress)
    if workers > 1 and n >= PARALLEL_MIN_IMAGES:
        # spawn: a trial process holds a backend's threads, which fork would copy half-way.
        ctx = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(min(workers, len(chunks)),
                                                    mp_context=ctx) as pool:
            for part in pool.map(_decode_chunk, [reader] * len(chunks), chunks,
                                 [channels] * len(chunks), [size] * len(chunks)):
                results.extend(part)
                bar.update(len(part))
    else:
        for chunk in chunks:
            part = _decode_chunk(reader, chunk, channels, size)
            results.extend(part)
            bar.update(len(part))
    bar.close()
    ok = np.zeros(n, bool)
    errors: list[tuple[int, str]] = []
    shape: tuple[int, ...] | None = tuple(size) + (channels,) if size is not None else None
    first = ""
    for i, r in enumerate(results):
        if isinstance(r, str):
            errors.append((i, r))
            continue
        if shape is None:
            shape, first = r.shape, names(i)
        if r.shape != shape:
            errors.append((i, f"image is {r.shape[1]}x{r.shape[0]} (width x height) but "
                              f"{first} is {shape[1]}x{shape[0]}"))
            continue
        ok[i] = True
    if shape is None:
        shape = (1, 1, channels)
    x = np.empty((int(ok.sum()), *shape), np.uint8)
    for j, i in enumerate(np.flatnonzero(ok)):
        x[j] = results[i]
    return Decoded(x, ok, tuple(errors))


def usable_cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _bar(total: int, progress: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="decoding", unit="img", mininterval=1.0, file=sys.stderr,
                leave=False, disable=None if progress else True)  # None: only on a terminal


def warn_skipped(errors: Sequence[str], limit: int = 5) -> None:
    """One warning naming the skipped images ('name: why'; the first `limit` of them)."""
    if not errors:
        return
    head = "; ".join(errors[:limit])
    more = f" (and {len(errors) - limit} more)" if len(errors) > limit else ""
    warnings.warn(f"skipped {len(errors)} unreadable image(s): {head}{more}", stacklevel=2)
