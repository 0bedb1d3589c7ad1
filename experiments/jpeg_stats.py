#!/usr/bin/env python
"""How lossy is the CIFAR-10 JPEG archive? Encoder settings read from every file's header.

For each JPEG in the archive this reads the quantization tables and the chroma subsampling
(no decoding needed), matches the luminance and chrominance tables against the IJG
quality scale (libjpeg / PIL `quality=`), and prints how many files use which settings, with
the mean file size against the 3,072 bytes of a raw 32x32 RGB image. Writes jpeg_stats.json.

  python experiments/jpeg_stats.py [--data-path ../shared/data/cifar10-jpeg.tar.gz]
"""

from __future__ import annotations

import argparse
import collections
import io
import json
import sys
import tarfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT = REPO.parent / "shared" / "data" / "cifar10-jpeg.tar.gz"
OUT = REPO / "experiments" / "results" / "jpeg_stats"

# The IJG base tables (ITU T.81 Annex K), in natural (row-major) order.
LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99])
CHROMA = np.array([
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99] + [99] * 32)
SUBSAMPLING = {0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}


def ijg_table(base: np.ndarray, quality: int) -> np.ndarray:
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return np.clip((base * scale + 50) // 100, 1, 255)


def ijg_quality(table: np.ndarray, base: np.ndarray) -> int | None:
    """The IJG quality whose scaled base table equals `table`, or None (another encoder)."""
    for q in range(1, 101):
        if np.array_equal(ijg_table(base, q), table):
            return q
    return None


def settings(data: bytes) -> tuple[int | None, int | None, str, tuple[int, int]]:
    from PIL import Image, JpegImagePlugin

    with Image.open(io.BytesIO(data)) as im:
        q = im.quantization
        # Pillow gives the tables in natural (row-major) order, like LUMA and CHROMA above.
        luma = ijg_quality(np.asarray(list(q[0])), LUMA) if 0 in q else None
        chroma = ijg_quality(np.asarray(list(q[1])), CHROMA) if 1 in q else None
        sampling = SUBSAMPLING.get(JpegImagePlugin.get_sampling(im), "other")
        return luma, chroma, sampling, im.size


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-path", default=str(DEFAULT))
    p.add_argument("--out", default=str(OUT))
    args = p.parse_args(argv)
    path = Path(args.data_path)
    if not path.exists():
        print(f"jpeg_stats: {path} not found (pass --data-path)", file=sys.stderr)
        return 2
    counts: collections.Counter = collections.Counter()
    sizes: dict[str, list[int]] = collections.defaultdict(list)
    with tarfile.open(path, "r:*") as tar:
        for member in tar:
            if not member.isfile() or not member.name.lower().endswith((".jpg", ".jpeg")):
                continue
            data = tar.extractfile(member).read()
            split = "test" if "/test/" in f"/{member.name}" else "train"
            luma, chroma, sampling, size = settings(data)
            counts[(split, luma, chroma, sampling, size)] += 1
            sizes[split].append(len(data))
    rows = [{"split": k[0], "luma_quality": k[1], "chroma_quality": k[2], "subsampling": k[3],
             "size": f"{k[4][0]}x{k[4][1]}", "files": n} for k, n in sorted(
                 counts.items(), key=lambda kv: -kv[1])]
    print(f"{'split':6s} {'files':>6s} {'luma_q':>6s} {'chroma_q':>8s} {'subsampling':>11s} size")
    for r in rows:
        print(f"{r['split']:6s} {r['files']:6d} {str(r['luma_quality']):>6s} "
              f"{str(r['chroma_quality']):>8s} {r['subsampling']:>11s} {r['size']}")
    summary = {s: {"files": len(v), "mean_bytes": float(np.mean(v)),
                   "bytes_vs_raw": float(np.mean(v)) / 3072} for s, v in sizes.items()}
    for s, v in summary.items():
        print(f"{s}: {v['files']} files, mean {v['mean_bytes']:.0f} bytes "
              f"({100 * v['bytes_vs_raw']:.0f}% of a raw 32x32x3 image)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "jpeg_stats.json").write_text(json.dumps(
        {"archive": path.name, "settings": rows, "sizes": summary}, indent=2))
    print(f"wrote {out / 'jpeg_stats.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
