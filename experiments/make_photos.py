"""Writes a photo folder for the input experiments: JPEG images of mixed sizes and aspect
ratios in the image-folder layout (train/<class>/*.jpg, val/<class>/*.jpg), learnable: each
class is a shape (disc, square, triangle, ring, bar, cross, ...) of a random colour, size and
place on a textured background, so that a crop still shows part of it.

    python experiments/make_photos.py OUT --train 4000 --val 400 --classes 10 --seed 0

Prints what it wrote (count, bytes, seconds). Deterministic for a seed.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

SHAPES = ("disc", "square", "triangle", "ring", "hbar", "vbar", "cross", "diamond", "dots",
          "stripes")


def photo(cls: int, seed: int, low: int, high: int) -> bytes:
    """One JPEG of class `cls` (a shape) of a random size in [low, high] per side."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    w, h = (int(v) for v in rng.integers(low, high + 1, 2))
    base = rng.integers(0, 256, 3)
    yy, xx = np.mgrid[0:h, 0:w]
    freq = rng.uniform(0.01, 0.05, 2)
    texture = 40 * np.sin(xx * freq[0] + yy * freq[1])[..., None]
    noise = rng.normal(0, 12, (h, w, 3))
    img = np.clip(base + texture + noise, 0, 255).astype(np.uint8)
    im = Image.fromarray(img)
    draw = ImageDraw.Draw(im)
    s = int(min(w, h) * rng.uniform(0.35, 0.7))
    x0 = int(rng.integers(0, w - s + 1))
    y0 = int(rng.integers(0, h - s + 1))
    colour = tuple(int(v) for v in (255 - base + rng.integers(-40, 41, 3)) % 256)
    box = (x0, y0, x0 + s, y0 + s)
    shape = SHAPES[cls % len(SHAPES)]
    if shape == "disc":
        draw.ellipse(box, fill=colour)
    elif shape == "square":
        draw.rectangle(box, fill=colour)
    elif shape == "triangle":
        draw.polygon([(x0, y0 + s), (x0 + s // 2, y0), (x0 + s, y0 + s)], fill=colour)
    elif shape == "ring":
        draw.ellipse(box, outline=colour, width=max(2, s // 8))
    elif shape == "hbar":
        draw.rectangle((x0, y0 + s // 3, x0 + s, y0 + 2 * s // 3), fill=colour)
    elif shape == "vbar":
        draw.rectangle((x0 + s // 3, y0, x0 + 2 * s // 3, y0 + s), fill=colour)
    elif shape == "cross":
        draw.rectangle((x0, y0 + s // 3, x0 + s, y0 + 2 * s // 3), fill=colour)
        draw.rectangle((x0 + s // 3, y0, x0 + 2 * s // 3, y0 + s), fill=colour)
    elif shape == "diamond":
        draw.polygon([(x0 + s // 2, y0), (x0 + s, y0 + s // 2), (x0 + s // 2, y0 + s),
                      (x0, y0 + s // 2)], fill=colour)
    elif shape == "dots":
        r = max(2, s // 8)
        for i in range(3):
            for j in range(3):
                cx, cy = x0 + (2 * i + 1) * s // 6, y0 + (2 * j + 1) * s // 6
                draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
    else:  # stripes
        for k in range(0, s, max(4, s // 6)):
            draw.rectangle((x0 + k, y0, x0 + k + max(2, s // 12), y0 + s), fill=colour)
    out = io.BytesIO()
    im.save(out, "JPEG", quality=int(rng.integers(75, 96)))
    return out.getvalue()


def _write(job: tuple[str, int, int, int, int]) -> int:
    path, cls, seed, low, high = job
    data = photo(cls, seed, low, high)
    Path(path).write_bytes(data)
    return len(data)


def make_photos(out: Path, train: int, val: int, classes: int, seed: int = 0, low: int = 160,
                high: int = 500, workers: int | None = None) -> dict:
    """Writes the folder; returns {'images', 'bytes', 'seconds'}."""
    t0 = time.perf_counter()
    jobs = []
    for split, n in (("train", train), ("val", val)):
        for i in range(n):
            cls = i % classes
            d = out / split / f"class{cls:03d}"
            d.mkdir(parents=True, exist_ok=True)
            item_seed = int(np.random.SeedSequence([seed, 0 if split == "train" else 1, i])
                            .generate_state(1)[0])
            jobs.append((str(d / f"{i:06d}.jpg"), cls, item_seed, low, high))
    workers = workers or len(os.sched_getaffinity(0))
    with ProcessPoolExecutor(workers) as pool:
        sizes = list(pool.map(_write, jobs, chunksize=64))
    return {"images": len(jobs), "bytes": int(sum(sizes)),
            "seconds": round(time.perf_counter() - t0, 2)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out", type=Path)
    p.add_argument("--train", type=int, default=4000)
    p.add_argument("--val", type=int, default=400)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--low", type=int, default=160, help="smallest side (px)")
    p.add_argument("--high", type=int, default=500, help="largest side (px)")
    args = p.parse_args(argv)
    if args.out.exists() and any(args.out.iterdir()):
        print(f"{args.out}: exists and is not empty", file=sys.stderr)
        return 2
    print(json.dumps(make_photos(args.out, args.train, args.val, args.classes, args.seed,
                                 args.low, args.high)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
