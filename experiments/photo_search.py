"""A search of the shipped `photos` space on a generated photo folder, end to end, through the
command line a user types.

    python experiments/photo_search.py [--train 2000] [--val 200] [--size 64] [--trials 4]
                                       [--epochs 4] [--out experiments/results/photo-search]

Generates the photos (experiments/make_photos.py: 10 classes of shapes, JPEG of 160-500 px per
side, mixed aspect ratios, 80% of them as train/, 20% of --val as val/), runs

    python -m resnet_nas search photos --data PHOTOS --trials N --epochs E
        --set space.input_shape=[S,S,3] --no-progress

then `export --trial best` and `train --config EXPORT --set data.limit_train=null` (the best
architecture retrained on all the training photos and evaluated once on val/), and prints the
trials (state, accuracy, params, seconds, img/s) and the retrain's test accuracy. Writes the
table, the search's and the retrain's output to DIR.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REPO = Path(__file__).resolve().parents[1]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "resnet_nas", *args], cwd=cwd, env=env,
                          capture_output=True, text=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--train", type=int, default=2000)
    p.add_argument("--val", type=int, default=200)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--trials", type=int, default=4)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--out", type=Path, default=REPO / "experiments/results/photo-search")
    args = p.parse_args()
    from experiments.make_photos import make_photos

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="resnet_nas-photo-search-") as tmp:
        tmp = Path(tmp)
        made = make_photos(tmp / "photos", args.train, args.val, 10)
        print(f"generated {made['images']} photos ({made['bytes'] / 2**20:.0f} MiB)", flush=True)
        search = ["search", "photos", "--data", str(tmp / "photos"), "--run-dir",
                  str(tmp / "run"), "--trials", str(args.trials), "--epochs", str(args.epochs),
                  "--set", f"space.input_shape=[{args.size},{args.size},3]",
                  "--set", f"data.cache_dir={tmp / 'cache'}", "--no-progress"]
        t0 = time.perf_counter()
        run = cli(*search, cwd=tmp)
        seconds = time.perf_counter() - t0
        (args.out / "search.txt").write_text(run.stdout + run.stderr)
        if run.returncode != 0:
            print(run.stderr[-3000:], file=sys.stderr)
            return run.returncode
        print(run.stderr.strip())
        rows = sorted((json.loads(f.read_text()) for f in (tmp / "run" / "rows").glob("*.json")),
                      key=lambda r: r["trial"])
        exported = cli("export", "--run", str(tmp / "run"), "--trial", "best", cwd=tmp)
        config = exported.stdout.strip().splitlines()[-1]
        t1 = time.perf_counter()
        retrain = cli("train", "--config", config, "--set", "data.limit_train=null",
                      "--set", f"data.cache_dir={tmp / 'cache'}", cwd=tmp)
        retrain_seconds = time.perf_counter() - t1
        (args.out / "retrain.txt").write_text(retrain.stdout + retrain.stderr)
        summary = json.loads(retrain.stdout[retrain.stdout.index("{"):])
    lines = ["| trial | state | best val acc | params | FLOPs | train s | wall s | img/s | "
             "skipped |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        acc = r["best_val_accuracy"]
        lines.append(f"| {r['trial']} | {r['state']} | "
                     f"{'-' if acc is None else f'{acc:.3f}'} | {r['params']:,} | "
                     f"{r['flops']:,} | {r['train_seconds'] or 0:.1f} | "
                     f"{r['wall_seconds'] or 0:.1f} | {r['images_per_second'] or 0:.0f} | "
                     f"{r['skipped_images']} |")
    lines.append("")
    lines.append(f"search: {seconds:.0f} s for {len(rows)} trials; best retrained "
                 f"({summary['epochs']} epochs, all training photos): test accuracy "
                 f"{summary['test_accuracy']:.3f} in {retrain_seconds:.0f} s")
    print("\n".join(lines))
    (args.out / "photo_search.json").write_text(json.dumps(
        {"rows": rows, "retrain": summary, "table": lines, "search_seconds": seconds,
         "args": vars(args) | {"out": str(args.out)}, "photos": made}, indent=1))
    print(f"wrote {args.out / 'photo_search.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
