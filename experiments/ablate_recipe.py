#!/usr/bin/env python
"""Recipe ablation: which training choices move CIFAR ResNet test accuracy, one at a time.

Issue 6 asks how much of the gap between a first JAX-scan probe (86.9% for ResNet-20 on the
CIFAR-10 JPEG test split, one crop offset per batch, lr 0.2, 1 warm-up epoch, smoothing 0.1)
and He et al.'s 91.25% is the recipe and how much the JPEG data. This script trains the
recipe of resnet_nas.train.recipes and variants that change ONE thing (or, for 'probe', the
probe's settings together), on the same data, with the same seeds, each in its own process,
and prints final/best test accuracy and the difference to the recipe.

Runs are resumable: each (variant, seed) writes runs/<variant>-s<seed>.json under --out and
is skipped when that file exists, so a long CPU study or a GPU study split over several
device calls picks up where it stopped.

Examples:
  # CPU proxy (hours): 10,000 training images, 15 epochs, batch 128, float32:
  KERAS_BACKEND=jax python experiments/ablate_recipe.py --n-train 10000 --epochs 15 \\
      --batch-size 128 --precision float32 --variants recipe,per_batch_crop,probe
  # GPU, full data and the recipe's epochs:
  KERAS_BACKEND=jax python experiments/ablate_recipe.py --depth 20 --seeds 0,1
  # smoke (synthetic 16x16, seconds):
  KERAS_BACKEND=jax python experiments/ablate_recipe.py --tiny --variants recipe,probe

Learning rates are given at batch 512 and scaled linearly with --batch-size; with --epochs
below the recipe's, warm-up epochs shrink in proportion, so a short proxy keeps the
recipe's shape. The test split is only read for the table (nothing is selected on it).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
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

RESULTS = REPO / "experiments" / "results" / "ablate_recipe"


@dataclasses.dataclass(frozen=True)
class Variant:
    """A change to the recipe. `changes` are TrainConfig fields ('augment.x' for augmentation);
    'learning_rate' is at batch 512 (scaled with the batch size), and 'epochs_scale'
    multiplies the run's epochs."""

    name: str
    changes: dict[str, Any]
    why: str


VARIANTS: dict[str, Variant] = {v.name: v for v in [
    Variant("recipe", {}, "resnet_nas.train.recipes, unchanged"),
    Variant("per_batch_crop", {"augment.per_example": False},
            "one crop offset and one flip per batch instead of per example"),
    Variant("no_crop", {"augment.crop_padding": 0}, "flip only"),
    Variant("zero_pad", {"augment.pad_mode": "zero"}, "He et al.'s zero padding for the crop"),
    Variant("bn_decay_0.997", {"batch_norm_decay": 0.997}, "slim's default BN decay"),
    Variant("bn_decay_0.99", {"batch_norm_decay": 0.99}, "Keras' default BN momentum"),
    Variant("label_smoothing_0.1", {"label_smoothing": 0.1}, "label smoothing 0.1"),
    Variant("no_label_smoothing", {"label_smoothing": 0.0}, "label smoothing 0"),
    Variant("lr_0.2", {"learning_rate": 0.2}, "the probe's peak lr (at batch 512)"),
    Variant("lr_0.8", {"learning_rate": 0.8}, "twice the recipe's peak lr"),
    Variant("warmup_1", {"warmup_epochs": 1.0}, "the probe's 1 warm-up epoch"),
    Variant("wd_1e-4", {"weight_decay": 1e-4}, "He et al.'s weight decay"),
    Variant("onecycle", {"schedule": "onecycle"}, "one-cycle instead of warm-up + cosine"),
    Variant("batch_128", {"batch_size": 128}, "batch 128 (lr scaled linearly: 4x the steps)"),
    Variant("batch_256", {"batch_size": 256}, "batch 256 (lr scaled linearly)"),
    Variant("epochs_x2", {"epochs_scale": 2.0}, "twice the epochs (same schedule shape)"),
    Variant("probe", {"augment.per_example": False, "learning_rate": 0.2,
                      "warmup_epochs": 1.0, "label_smoothing": 0.1},
            "the issue's first probe: per-batch crop, lr 0.2, 1 warm-up epoch, smoothing 0.1"),
]}
COLUMNS = ["variant", "seed", "status", "depth", "epochs", "batch_size", "n_train", "precision",
           "final_test_accuracy", "best_test_accuracy", "train_seconds", "images_per_second",
           "changes", "message"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-path", default=str(bench.DEFAULT_CIFAR),
                   help="the CIFAR-10 JPEG archive")
    p.add_argument("--depth", type=int, default=20, help="CIFAR ResNet depth (recipe by depth)")
    p.add_argument("--variants", default="recipe,per_batch_crop,probe",
                   help=f"comma separated, or 'all'; known: {','.join(VARIANTS)}")
    p.add_argument("--seeds", default="0", help="comma separated seeds")
    p.add_argument("--epochs", type=int, default=None, help="default: the recipe's")
    p.add_argument("--batch-size", type=int, default=None, help="default: the recipe's")
    p.add_argument("--n-train", type=int, default=None,
                   help="a class-balanced subset of the 50,000 training images")
    p.add_argument("--precision", choices=("float32", "mixed_bfloat16"), default=None,
                   help="default: the recipe's (mixed_bfloat16)")
    p.add_argument("--tiny", action="store_true",
                   help="CPU smoke: synthetic 16x16 data, 512 examples, 1 epoch, batch 128")
    p.add_argument("--out", default=str(RESULTS), help="directory for runs/ and the tables")
    p.add_argument("--timeout", type=int, default=6 * 3600, help="seconds per run")
    p.add_argument("--no-train", action="store_true",
                   help="only tabulate the stored runs (e.g. merged from several machines)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--data-file", help=argparse.SUPPRESS)
    p.add_argument("--result-file", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    names = list(VARIANTS) if args.variants == "all" else [
        v.strip() for v in args.variants.split(",") if v.strip()]
    bad = [v for v in names if v not in VARIANTS]
    if bad or not names:
        p.error(f"--variants: expected names from {','.join(VARIANTS)} or 'all', found {bad}")
    args.variant_list = names
    try:
        args.seed_list = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        p.error(f"--seeds: expected comma-separated integers, found {args.seeds!r}")
    if args.tiny:
        args.epochs = args.epochs or 1
        args.batch_size = args.batch_size or 128
        args.precision = args.precision or "float32"
    for flag in ("epochs", "batch_size", "n_train"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            p.error(f"--{flag.replace('_', '-')}: expected >= 1, found {value}")
    return args


def train_config(args: argparse.Namespace, variant: Variant, seed: int) -> Any:
    """The TrainConfig of one run: the depth's recipe, the command line, then the variant."""
    from resnet_nas.train.recipes import recipe_for_depth

    recipe = recipe_for_depth(args.depth)
    base = recipe.train
    changes: dict[str, Any] = dict(variant.changes)
    batch = changes.pop("batch_size", None) or args.batch_size or base.batch_size
    epochs = max(1, round((args.epochs or base.epochs) * changes.pop("epochs_scale", 1.0)))
    lr512 = changes.pop("learning_rate", base.learning_rate * 512 / base.batch_size)
    warmup = changes.pop("warmup_epochs", base.warmup_epochs)
    augment = dataclasses.replace(base.augment, **{
        k.split(".", 1)[1]: changes.pop(k) for k in list(changes) if k.startswith("augment.")})
    return recipe.with_train(
        epochs=epochs, batch_size=batch, learning_rate=lr512 * batch / 512,
        warmup_epochs=warmup * min(1.0, (args.epochs or base.epochs) / base.epochs),
        augment=augment,
        precision=args.precision or base.precision, seed=seed, trainer="auto",
        eval_batch_size=1024 if args.tiny else base.eval_batch_size, **changes).train


def prepare_data(args: argparse.Namespace) -> Any:
    if args.tiny:
        return bench.prepare_data(bench.parse_args(["--tiny", "--seed", "0"]))
    data = bench.prepare_data(bench.parse_args(["--data", "cifar10-jpeg",
                                                "--data-path", args.data_path]))
    if args.n_train and args.n_train < len(data.y_train):
        from resnet_nas.data import stratified_split

        _, keep = stratified_split(data.y_train, args.n_train, seed=0)
        data = bench.BenchData(data.x_train[keep], data.y_train[keep], data.x_val, data.y_val,
                               data.num_classes)
    return data


def worker(args: argparse.Namespace) -> dict[str, Any]:
    """Trains one (variant, seed); returns its result row."""
    data = bench.load_data(args.data_file)
    cfg = train_config(args, VARIANTS[args.worker], args.seed)
    _, result = bench.train_cifar_resnet(args.depth, data, cfg)
    history = [m.to_dict() for m in result.history]
    accs = [h["val_accuracy"] for h in history]
    return {
        "final_test_accuracy": accs[-1] if accs else float("nan"),
        "best_test_accuracy": max(accs) if accs else float("nan"),
        "train_seconds": float(sum(h["seconds"] for h in history)),
        "compile_seconds": result.compile_seconds,
        "images_per_second": result.images_per_second, "reason": result.reason,
        "trainer": result.trainer, "backend": result.backend, "device": result.device,
        "train_config": cfg.to_dict(), "history": history,
    }


def run_one(args: argparse.Namespace, variant: Variant, seed: int, data_file: Path,
            runs: Path, n_train: int) -> dict[str, Any]:
    cfg = train_config(args, variant, seed)
    base = {"variant": variant.name, "seed": seed, "depth": args.depth, "epochs": cfg.epochs,
            "batch_size": cfg.batch_size, "n_train": n_train, "precision": cfg.precision,
            "changes": json.dumps(variant.changes, sort_keys=True)}
    result_file = runs / f"{variant.name}-s{seed}.json"
    if result_file.exists():
        row = json.loads(result_file.read_text())
        if row.get("setting") == setting(args, n_train):
            return {**base, "status": "ok", "message": "reused", **row}
    if args.no_train:
        return {**base, "status": "missing", "message": "not stored (--no-train)"}
    argv = [sys.executable, str(Path(__file__).resolve()), "--worker", variant.name,
            "--seed", str(seed), "--depth", str(args.depth), "--data-file", str(data_file),
            "--result-file", str(result_file) + ".part"]
    for flag, value in (("--epochs", args.epochs), ("--batch-size", args.batch_size),
                        ("--precision", args.precision)):
        if value is not None:
            argv += [flag, str(value)]
    if args.tiny:
        argv.append("--tiny")
    try:
        proc = subprocess.run(argv, env=bench.worker_env(), capture_output=True, text=True,
                              timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {**base, "status": "failed", "message": f"timed out after {args.timeout} s"}
    part = Path(str(result_file) + ".part")
    if proc.returncode != 0 or not part.exists():
        return {**base, "status": "failed", "message": bench.failure_message(proc)}
    row = {**json.loads(part.read_text()), "setting": setting(args, n_train)}
    result_file.write_text(json.dumps(row, default=float))
    part.unlink()
    return {**base, "status": "ok", "message": "", **row}


def setting(args: argparse.Namespace, n_train: int) -> dict[str, Any]:
    """What a stored run must match to be reused."""
    return {"depth": args.depth, "epochs": args.epochs, "batch_size": args.batch_size,
            "n_train": n_train, "precision": args.precision, "tiny": args.tiny,
            "data": "synthetic" if args.tiny else Path(args.data_path).name}


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per variant: mean final/best accuracy over seeds and the difference to 'recipe'."""
    out = []
    by_variant: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r["status"] == "ok":
            by_variant.setdefault(r["variant"], []).append(r)
    ref = by_variant.get("recipe")
    ref_final = statistics.fmean(r["final_test_accuracy"] for r in ref) if ref else None
    for name, runs in by_variant.items():
        finals = [r["final_test_accuracy"] for r in runs]
        mean = statistics.fmean(finals)
        out.append({
            "variant": name, "seeds": len(runs), "mean_final": mean,
            "spread": (max(finals) - min(finals)) if len(finals) > 1 else None,
            "mean_best": statistics.fmean(r["best_test_accuracy"] for r in runs),
            "delta_vs_recipe": None if ref_final is None else mean - ref_final,
            "why": VARIANTS[name].why,
        })
    return out


def print_summary(summary: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    head = ["variant", "seeds", "final_acc", "best_acc", "delta", "spread", "what changed"]
    lines = [head]
    for s in summary:
        delta = "-" if s["delta_vs_recipe"] is None else f"{100 * s['delta_vs_recipe']:+.2f}"
        spread = "-" if s["spread"] is None else f"{100 * s['spread']:.2f}"
        lines.append([s["variant"], str(s["seeds"]), f"{100 * s['mean_final']:.2f}",
                      f"{100 * s['mean_best']:.2f}", delta, spread, s["why"]])
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    for line in lines:
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip())
    for r in rows:
        if r["status"] == "failed":
            print(f"{r['variant']} seed {r['seed']}: {r['status']}: {r['message']}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        row = worker(args)
        Path(args.result_file).write_text(json.dumps(row, default=float))
        return 0
    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    t0 = time.perf_counter()
    data = prepare_data(args)
    n_train = len(data.y_train)
    print(f"data: {'synthetic (tiny)' if args.tiny else Path(args.data_path).name}: "
          f"{n_train} train / {len(data.y_val)} test, {data.input_shape}; prepared in "
          f"{time.perf_counter() - t0:.1f} s", flush=True)
    out = Path(args.out)
    runs = out / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="ablate_recipe_") as tmp:
        data_file = Path(tmp) / "data.npz"
        bench.save_data(data, data_file)
        for seed in args.seed_list:
            for name in args.variant_list:
                t1 = time.perf_counter()
                row = run_one(args, VARIANTS[name], seed, data_file, runs, n_train)
                rows.append(row)
                acc = row.get("final_test_accuracy")
                note = "" if acc is None else f", final test acc {100 * acc:.2f}%"
                reused = ", reused" if row["message"] == "reused" else ""
                print(f"{name} seed {seed}: {row['status']}{note} "
                      f"({time.perf_counter() - t1:.0f} s{reused})", flush=True)
    summary = summarize(rows)
    print_summary(summary, rows)
    meta = {"started": started, "command": " ".join(shlex.quote(a) for a in sys.argv),
            "keras_backend": os.environ.get("KERAS_BACKEND", "jax"),
            "machine": platform.platform(), "cpu_count": os.cpu_count(),
            "versions": bench.versions(), "n_train": n_train, "n_test": len(data.y_val),
            "devices": sorted({r["device"] for r in rows if r.get("device")}),
            "variants": {n: dataclasses.asdict(VARIANTS[n]) for n in args.variant_list}}
    (out / "ablate_recipe.json").write_text(
        json.dumps({"meta": meta, "summary": summary, "rows": rows}, indent=2, default=str))
    with open(out / "ablate_recipe.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for r in rows:
            writer.writerow({k: r.get(k) for k in COLUMNS})
    print(f"wrote {out / 'ablate_recipe.csv'} and {out / 'ablate_recipe.json'}")
    return 1 if any(r["status"] == "failed" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
