"""A streamed epoch against the in-memory one, on CIFAR-10 JPEG: what `data.cache: auto`'s
bound rests on.

    python experiments/step_feed.py [--data ../shared/data/cifar10-jpeg.tar.gz]
                                    [--limit-train 10000] [--repeat 3]
                                    [--out experiments/results/step-feed]

The same trial (resnet_nas.job_runner.JobRunner.run: He et al.'s ResNet-20 on 32x32, the
TensorFlow trainer, batch 128, 2 epochs, crop + flip) with the data set read two ways, each in
a fresh process, alternating for --repeat rounds:

- `memory`: data.cache memory, the decoded uint8 arrays in memory, cropped and flipped in
  numpy on a helper thread (the path `auto` takes below MEMORY_BOUND_BYTES);
- `stream`: data.cache none, the JPEG files (unpacked from the archive once) read, decoded,
  cropped and flipped by the tf.data pipeline every epoch.

Reports epoch 2's seconds (epoch 1 holds the compile) and, from the same processes after
training, how fast each feed alone makes an epoch's batches. Writes DIR/step_feed.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments.search_time import run_snippet  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED_CIFAR = REPO.parent / "shared" / "data" / "cifar10-jpeg.tar.gz"

SNIPPET = """
import json, os, time
os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
from resnet_nas.trial_startup import start_trial_process, rss_mb
start_trial_process("tensorflow")
import resource
from resnet_nas.config import AugmentConfig, DataConfig, TrainConfig
from resnet_nas.job_runner import JobRunner
from resnet_nas.jobs import Job
from resnet_nas.nets import cifar_resnet
arch = cifar_resnet(20, input_shape=(32, 32, 3), num_classes=10)
data = DataConfig(name="folder", path={data!r}, cache={cache!r}, preprocessing="cifar",
                  limit_train={limit}, cache_dir={cache_dir!r})
train = TrainConfig(epochs=2, batch_size=128, augment=AugmentConfig(crop_padding=4, flip=True))
runner = JobRunner()
t0 = time.perf_counter()
inp = runner.data_of(Job(arch=arch, train=train, data=data))
open_seconds = time.perf_counter() - t0
out = runner.run(Job(arch=arch, train=train, data=data), lambda m: True, lambda p: None)
history = out["train"]["history"]
feed = inp.train_feed(train)
t1 = time.perf_counter()
n = sum(len(x) for x, _ in feed.epoch(7))
feed_rate = n / (time.perf_counter() - t1)
print(json.dumps({{"open_seconds": open_seconds, "epoch_seconds": [h["seconds"] for h in history],
                  "train_images_per_second": history[-1]["images_per_second"],
                  "feed_images_per_second": feed_rate, "input": type(inp).__name__,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "val_accuracy": history[-1]["val_accuracy"]}}))
"""


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=SHARED_CIFAR)
    p.add_argument("--limit-train", type=int, default=10_000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--cache-dir", type=Path, default=Path("/tmp/resnet_nas-step-feed-cache"),
                   help="the archive's unpacked files and decoded arrays (kept between runs)")
    p.add_argument("--out", type=Path, default=REPO / "experiments/results/step-feed")
    args = p.parse_args()
    if not args.data.exists():
        print(f"{args.data}: not found (give --data)", file=sys.stderr)
        return 2
    runs: dict[str, list[dict]] = {"memory": [], "stream": []}
    for r in range(args.repeat + 1):  # round 0 unpacks and decodes into the cache: untimed
        for mode in runs:
            result = run_snippet(REPO, SNIPPET.format(
                data=str(args.data.resolve()), cache="memory" if mode == "memory" else "none",
                limit=args.limit_train, cache_dir=str(args.cache_dir)))
            if r:
                runs[mode].append(result)
                print(f"  {mode}: epoch 2 {result['epoch_seconds'][-1]:.2f} s, feed alone "
                      f"{result['feed_images_per_second']:.0f} img/s", flush=True)
    lines = ["| input | epoch 2 (s), median (range) | training img/s | feed alone img/s | "
             "peak RSS (MiB) |", "|---|---|---|---|---|"]
    for mode, rows in runs.items():
        epochs = [r["epoch_seconds"][-1] for r in rows]
        lines.append(f"| {mode} ({rows[0]['input']}) | {statistics.median(epochs):.2f} "
                     f"({min(epochs):.2f}-{max(epochs):.2f}) | "
                     f"{statistics.median(r['train_images_per_second'] for r in rows):.0f} | "
                     f"{statistics.median(r['feed_images_per_second'] for r in rows):.0f} | "
                     f"{statistics.median(r['peak_rss_mb'] for r in rows):.0f} |")
    print("\n".join(lines))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "step_feed.json").write_text(json.dumps(
        {"runs": runs, "table": lines, "limit_train": args.limit_train}, indent=1))
    print(f"wrote {args.out / 'step_feed.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
