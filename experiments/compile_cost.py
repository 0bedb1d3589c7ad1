#!/usr/bin/env python
"""Compile cost of a NEW architecture with the JAX trainer: serial vs side-by-side compiles,
cold vs persistent-cache.

Every measurement is one fresh process (fresh JAX, fresh in-memory caches) that builds a CIFAR
ResNet, trains it for one epoch with resnet_nas.train.jax_scan and reports the trainer's
compile seconds (trace + XLA compile of the training epoch and of evaluation) and the
wall time to the end of the first epoch. Modes:

  serial    RESNET_NAS_SERIAL_COMPILE=1, no persistent cache: train then eval compile
  parallel  the default: both XLA compiles in threads, no persistent cache
  cached    the default, with a persistent cache that the previous 'parallel' run of the
            same model filled (what a repeated architecture, or a re-run, costs)

The modes alternate within each repeat so that drift hits all alike. Prints a table and
writes compile_cost.{csv,json}.

Examples:
  KERAS_BACKEND=jax python experiments/compile_cost.py --models 20,56 --repeats 2
  KERAS_BACKEND=jax python experiments/compile_cost.py --tiny   # CPU smoke
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
for path in (REPO, HERE):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import bench_trainer as bench  # noqa: E402  (experiments/ is not a package)

RESULTS = REPO / "experiments" / "results" / "compile_cost"
MODES = ("serial", "parallel", "cached")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="20,56", help="CIFAR ResNet depths, comma separated")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--n-train", type=int, default=None,
                   help="synthetic training images (default 50,000; --tiny 256)")
    p.add_argument("--precision", choices=("float32", "mixed_bfloat16"), default=None,
                   help="default mixed_bfloat16 (--tiny: float32)")
    p.add_argument("--tiny", action="store_true", help="16x16 images, batch 64: CPU smoke")
    p.add_argument("--out", default=str(RESULTS))
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--depth", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    try:
        args.depths = [int(d) for d in args.models.split(",") if d.strip()]
    except ValueError:
        p.error(f"--models: expected comma-separated depths such as 20,56, found {args.models!r}")
    if args.repeats < 1:
        p.error("--repeats: expected >= 1")
    if args.tiny:
        args.batch_size = min(args.batch_size, 64)
    args.n_train = args.n_train or (256 if args.tiny else 50_000)
    args.precision = args.precision or ("float32" if args.tiny else "mixed_bfloat16")
    return args


def worker(args: argparse.Namespace) -> dict[str, Any]:
    """One new architecture, one epoch: the trainer's compile seconds and first-epoch time."""
    t_start = time.perf_counter()
    from resnet_nas.config import TrainConfig
    from resnet_nas.data import make_synthetic
    from resnet_nas.nets import build_model, cifar_resnet
    from resnet_nas.train import precision_policy, train_model
    from resnet_nas.train.runtime import device_description
    from resnet_nas.train.jax_scan import epoch_mode

    shape = (16, 16, 3) if args.tiny else (32, 32, 3)
    data = make_synthetic(n_train=args.n_train, n_test=1, shape=shape, num_classes=10, seed=0,
                          n_val=min(10_000, args.n_train))
    cfg = TrainConfig(epochs=1, batch_size=args.batch_size, trainer="jax", backend="jax",
                      precision=args.precision, eval_batch_size=2000, warmup_epochs=0.0)
    t_build = time.perf_counter()
    from resnet_nas.input import ArrayInput

    with precision_policy(cfg.precision):  # a trial's model: raw pixels in, as a search's
        model = build_model(cifar_resnet(depth=args.depth, num_classes=10, input_shape=shape),
                            config=cfg.resnet_config(),
                            normalization=ArrayInput(data).normalization)
    build_seconds = time.perf_counter() - t_build
    t_train = time.perf_counter()
    result = train_model(model, data, cfg)
    first_epoch = time.perf_counter() - t_train
    return {"compile_seconds": result.compile_seconds, "build_seconds": build_seconds,
            "first_epoch_seconds": first_epoch,
            "process_seconds": time.perf_counter() - t_start,
            "device": device_description("jax"), "epoch_mode": epoch_mode()}


def run_one(args: argparse.Namespace, depth: int, mode: str, cache_dir: Path) -> dict[str, Any]:
    """One fresh worker process in `mode`; 'cached' reads (and, if empty, fills) cache_dir."""
    env = bench.worker_env(KERAS_BACKEND="jax",
                           RESNET_NAS_XLA_CACHE=str(cache_dir) if mode == "cached" else "off")
    env.pop("RESNET_NAS_SERIAL_COMPILE", None)
    if mode == "serial":
        env["RESNET_NAS_SERIAL_COMPILE"] = "1"
    argv = [sys.executable, str(Path(__file__).resolve()), "--worker", "--depth", str(depth),
            "--batch-size", str(args.batch_size), "--n-train", str(args.n_train),
            "--precision", args.precision] + (["--tiny"] if args.tiny else [])
    base = {"model": f"resnet{depth}", "mode": mode}
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        return {**base, "status": "failed", "message": bench.failure_message(proc, 3)}
    return {**base, "status": "ok", **json.loads(proc.stdout.strip().splitlines()[-1])}


def fill_cache(args: argparse.Namespace, depth: int, cache_dir: Path) -> None:
    """A default-mode run that writes the persistent cache the 'cached' mode then reads."""
    row = run_one(args, depth, "cached", cache_dir)
    if row["status"] != "ok":
        raise SystemExit(f"compile_cost: resnet{depth} failed while filling the cache: "
                         f"{row['message']}")


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for model in dict.fromkeys(r["model"] for r in rows):
        for mode in MODES:
            ok = [r for r in rows if r["model"] == model and r["mode"] == mode
                  and r["status"] == "ok"]
            if not ok:
                continue
            out.append({"model": model, "mode": mode, "runs": len(ok),
                        "compile_seconds": statistics.median(r["compile_seconds"] for r in ok),
                        "first_epoch_seconds": statistics.median(
                            r["first_epoch_seconds"] for r in ok),
                        "min_compile_seconds": min(r["compile_seconds"] for r in ok)})
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args)))
        return 0
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="compile_cost_") as tmp:
        for depth in args.depths:
            cache_dir = Path(tmp) / f"cache{depth}"
            fill_cache(args, depth, cache_dir)
            for rep in range(args.repeats):
                order = MODES if rep % 2 == 0 else tuple(reversed(MODES))
                for mode in order:
                    row = run_one(args, depth, mode, cache_dir)
                    rows.append({**row, "repeat": rep})
                    print(f"resnet{depth} {mode:8s} repeat {rep}: {row['status']}"
                          + (f", compile {row['compile_seconds']:.2f} s, first epoch "
                             f"{row['first_epoch_seconds']:.2f} s" if row["status"] == "ok"
                             else f": {row['message']}"), flush=True)
    summary = summarize(rows)
    print(f"\n{'model':9s} {'mode':9s} {'runs':>4s} {'compile_s':>10s} {'first_epoch_s':>14s}")
    for s in summary:
        print(f"{s['model']:9s} {s['mode']:9s} {s['runs']:4d} {s['compile_seconds']:10.2f} "
              f"{s['first_epoch_seconds']:14.2f}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"started": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "command": " ".join(shlex.quote(a) for a in sys.argv),
            "machine": platform.platform(), "cpu_count": os.cpu_count(),
            "devices": sorted({r["device"] for r in rows if r.get("device")}),
            "args": {k: v for k, v in vars(args).items() if k != "worker"}}
    (out / "compile_cost.json").write_text(json.dumps(
        {"meta": meta, "summary": summary, "rows": rows}, indent=2, default=str))
    with open(out / "compile_cost.csv", "w", newline="") as f:
        fields = ["model", "mode", "repeat", "status", "compile_seconds", "first_epoch_seconds",
                  "build_seconds", "process_seconds", "device", "epoch_mode", "message"]
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {out / 'compile_cost.csv'} and {out / 'compile_cost.json'}")
    return 1 if any(r["status"] != "ok" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
