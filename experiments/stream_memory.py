"""Does a trial's memory grow with the number of photos it streams?

    python experiments/stream_memory.py [--photos DIR] [--counts 400,4000,40000] [--size 64]
                                        [--out experiments/results/stream-memory]

Generates one photo folder of the largest count (experiments/make_photos.py: JPEG of 160-500
px per side) and, for each count, a folder of that many of its photos (hard links). Each count
runs one trial as a search's trial process runs it (resnet_nas.job_runner.JobRunner.run: the
data set opened, a small ResNet built and trained one epoch at --size px with inception
preprocessing, streamed from disk: data.cache none), in a fresh process, and reports its peak
resident memory (ru_maxrss), its memory after the trial, the epoch's seconds and img/s.

Then, in another fresh process, what the listing of an ImageNet-sized split costs a streaming
trial (--listing images, default ImageNet's 1,281,167, paths shaped like
train/n01440764/n01440764_10026.JPEG; no files needed): the FileSplit's arrays and the
pipeline's string tensors, as resident memory. Writes DIR/stream_memory.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments.search_time import run_snippet  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

SNIPPET = """
import json, os, resource, time
os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
from resnet_nas.trial_startup import start_trial_process, rss_mb
start_trial_process("tensorflow")
from resnet_nas.config import AugmentConfig, DataConfig, TrainConfig
from resnet_nas.job_runner import JobRunner
from resnet_nas.jobs import Job
from resnet_nas.nets import cifar_resnet
arch = cifar_resnet(8, widths=(16, 32, 64), input_shape=({size}, {size}, 3), num_classes=10)
data = DataConfig(name="folder", path={photos!r}, cache="none", validation_split=0.02,
                  cache_dir={cache!r})
train = TrainConfig(epochs=1, batch_size=64, eval_batch_size=256,
                    augment=AugmentConfig(flip=True))
before = rss_mb()
t0 = time.perf_counter()
out = JobRunner().run(Job(arch=arch, train=train, data=data), lambda m: True, lambda p: None)
seconds = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
epoch = out["train"]["history"][0]
print(json.dumps({{"peak_rss_mb": peak, "rss_before_mb": before, "rss_after_mb": rss_mb(),
                  "trial_seconds": seconds, "epoch_seconds": epoch["seconds"],
                  "images_per_second": epoch["images_per_second"],
                  "val_accuracy": epoch["val_accuracy"],
                  "skipped_images": out["skipped_images"]}}))
"""


LISTING = """
import os, gc, json
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
from pathlib import Path
import numpy as np
from resnet_nas.trial_startup import rss_mb
from resnet_nas.input.pipeline import tensorflow, SplitReader
from resnet_nas.data.files import FileSplit
tensorflow()
gc.collect()
r0 = rss_mb()
n = {n}
classes = [f"n{{1440764 + 97 * c:08d}}" for c in range(1000)]
paths = np.array([f"train/{{classes[i % 1000]}}/{{classes[i % 1000]}}_{{i:05d}}.JPEG".encode()
                  for i in range(n)], dtype=bytes)
split = FileSplit(root="/datasets/imagenet", labels=(np.arange(n) % 1000).astype(np.int32),
                  paths=paths)
gc.collect()
r1 = rss_mb()
reader = SplitReader(split, Path("."), 2)
gc.collect()
r2 = rss_mb()
print(json.dumps({{"images": n, "split_mb": r1 - r0, "reader_mb": r2 - r1,
                  "paths_mb": paths.nbytes / 2**20}}))
"""


def subset(src: Path, dest: Path, count: int) -> Path:
    """A folder of the first `count` training photos of `src` (hard links) and its val/."""
    files = sorted((src / "train").rglob("*.jpg"), key=lambda f: f.name)[:count]  # every class
    for f in files:
        target = dest / f.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(f, target)
    for f in sorted((src / "val").rglob("*.jpg")):
        target = dest / f.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(f, target)
    return dest


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--photos", type=Path, help="a photo folder of at least the largest count "
                   "(default: generate one)")
    p.add_argument("--counts", default="400,4000,40000")
    p.add_argument("--size", type=int, default=64, help="input size (px)")
    p.add_argument("--listing", type=int, default=1_281_167,
                   help="images of the listing measured alone (0: skip)")
    p.add_argument("--out", type=Path, default=REPO / "experiments/results/stream-memory")
    args = p.parse_args()
    counts = sorted(int(c) for c in args.counts.split(","))
    rows = []
    with tempfile.TemporaryDirectory(prefix="resnet_nas-photos-") as tmp:
        photos = args.photos
        if photos is None:
            from experiments.make_photos import make_photos

            photos = Path(tmp) / "photos"
            t0 = time.perf_counter()
            made = make_photos(photos, counts[-1], 200, 10)
            print(f"generated {made['images']} photos ({made['bytes'] / 2**20:.0f} MiB) in "
                  f"{time.perf_counter() - t0:.0f} s", flush=True)
        for count in counts:
            folder = subset(photos, Path(tmp) / f"n{count}", count)
            result = run_snippet(REPO, SNIPPET.format(photos=str(folder), size=args.size,
                                                      cache=str(Path(tmp) / "cache")))
            rows.append({"photos": count, **result})
            print(f"{count:>7} photos: peak RSS {result['peak_rss_mb']:.0f} MiB, after "
                  f"{result['rss_after_mb']:.0f} MiB, epoch {result['epoch_seconds']:.1f} s "
                  f"({result['images_per_second']:.0f} img/s)", flush=True)
    listing = None
    if args.listing:
        listing = run_snippet(REPO, LISTING.format(n=args.listing))
        print(f"a listing of {listing['images']:,} images: {listing['split_mb']:.0f} MiB of "
              f"arrays + {listing['reader_mb']:.0f} MiB of the pipeline's tensors", flush=True)
    lines = ["| photos streamed | peak RSS (MiB) | RSS after the trial (MiB) | epoch (s) | img/s |",
             "|---|---|---|---|---|"]
    lines += [f"| {r['photos']:,} | {r['peak_rss_mb']:.0f} | {r['rss_after_mb']:.0f} | "
              f"{r['epoch_seconds']:.1f} | {r['images_per_second']:.0f} |" for r in rows]
    print("\n".join(lines))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "stream_memory.json").write_text(json.dumps(
        {"rows": rows, "table": lines, "size": args.size, "listing": listing}, indent=1))
    print(f"wrote {args.out / 'stream_memory.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
