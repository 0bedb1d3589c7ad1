#!/usr/bin/env python
"""Benchmark of the trainers: ResNet-20/56 with the JAX scan trainer, Keras model.fit, and a
minimal hand-written PyTorch loop, on the same data and the same recipe.

Every (trainer, model) pair runs in its own worker process (fresh device memory, fresh
compilation state); the parent prepares the data once, collects one JSON result per worker,
prints a table and writes experiments/results/bench_trainer.{csv,json}.

Examples:
  # CPU smoke (16x16 images, 512 examples, 1 epoch):
  KERAS_BACKEND=jax python experiments/bench_trainer.py --tiny --trainers jax
  # GPU (JAX backend, no TensorFlow needed):
  KERAS_BACKEND=jax python experiments/bench_trainer.py --data cifar10-jpeg --epochs 5 \\
      --models 20,56 --trainers jax,fit,torch --precision mixed_bfloat16
  # time to accuracy with the recipe (val = the CIFAR-10 test split):
  KERAS_BACKEND=jax python experiments/bench_trainer.py --data cifar10-jpeg --models 20 \\
      --trainers jax --recipe cifar_resnet20 --target-acc 0.90

Columns: img/s is steady-state training throughput (epochs 2..N; '-' with one epoch, whose
time holds fit's trace and would not compare like with like); compile_s is the JAX
trainer's ahead-of-time compile time, or first-epoch minus steady epoch time for fit/torch
(NaN with one epoch); first_epoch_s is the time from the start of training to the end of the
first epoch, compilation included; val_acc is the final validation accuracy. With
--data cifar10-jpeg the training set is all 50,000 training images and the validation set is
the 10,000-image test split (the benchmark selects nothing on it).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DEFAULT_CIFAR = REPO.parent / "shared" / "data" / "cifar10-jpeg.tar.gz"
RESULTS = REPO / "experiments" / "results"
TRAINERS = ("jax", "fit", "fit-tf", "tf", "torch")
#: A trainer's Keras backend, where it is not the run's (KERAS_BACKEND, default jax).
TRAINER_BACKENDS = {"fit-tf": "tensorflow", "tf": "tensorflow"}
COLUMNS = ["trainer", "model", "status", "backend", "device", "precision", "epochs_run",
           "batch_size", "images_per_second", "compile_seconds", "first_epoch_seconds",
           "train_seconds", "val_accuracy", "best_val_accuracy", "time_to_target_seconds",
           "epoch_mode", "message"]


# ---------------------------------------------------------------------------------------------
# Arguments.
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", choices=("synthetic", "cifar10-jpeg"), default="synthetic")
    p.add_argument("--data-path", default=str(DEFAULT_CIFAR),
                   help="the CIFAR-10 JPEG archive (for --data cifar10-jpeg)")
    p.add_argument("--epochs", type=int, default=None,
                   help="default: 5 (--tiny: 3, the fewest with a steady state: epoch 1 "
                        "holds fit's trace; with --recipe: the recipe's)")
    p.add_argument("--batch-size", type=int, default=None, help="default: 512 (--tiny: 128)")
    p.add_argument("--lr", type=float, default=None,
                   help="peak learning rate; default the recipe's, scaled by batch/512")
    p.add_argument("--warmup-epochs", type=float, default=None)
    p.add_argument("--models", default="20,56", help="CIFAR ResNet depths, comma separated")
    p.add_argument("--trainers", default="jax,fit,torch",
                   help="subset of jax,fit,fit-tf,tf,torch (fit: Keras fit on the run's "
                        "backend; fit-tf: on TensorFlow; tf: the TensorFlow trainer)")
    p.add_argument("--precision", default=None, choices=("float32", "mixed_bfloat16"),
                   help="default: mixed_bfloat16 (--tiny: float32, fast on CPU)")
    p.add_argument("--recipe", default=None,
                   help="a recipe name (resnet_nas.train.recipes) or 'auto' (each model's own): "
                        "trains for the recipe's epochs unless --epochs is given. Without "
                        "--recipe each model's recipe is used with 5 epochs")
    p.add_argument("--target-acc", type=float, default=None,
                   help="report the time to reach this validation accuracy")
    p.add_argument("--n-train", type=int, default=None, help="synthetic training examples")
    p.add_argument("--tiny", action="store_true",
                   help="CPU smoke: 16x16 synthetic images, 512 examples, 3 epochs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--torch-compile", action="store_true", help="torch.compile the torch model")
    p.add_argument("--xla-cache", default=None,
                   help="persistent XLA cache directory; default: a fresh temporary one, so "
                        "compile_s is a cold compile (pass the same directory twice to see "
                        "a warm one)")
    p.add_argument("--out", default=str(RESULTS), help="directory for the csv/json results")
    p.add_argument("--timeout", type=int, default=3600, help="seconds per worker")
    # Internal: worker mode.
    p.add_argument("--worker", choices=TRAINERS, help=argparse.SUPPRESS)
    p.add_argument("--depth", type=int, help=argparse.SUPPRESS)
    p.add_argument("--data-file", help=argparse.SUPPRESS)
    p.add_argument("--result-file", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.tiny:
        args.epochs = args.epochs or 3
        args.batch_size = args.batch_size or 128
    if args.epochs is None and args.recipe:
        args.epochs = 0  # each worker takes its recipe's epochs
    args.epochs = 5 if args.epochs is None else args.epochs
    args.precision = args.precision or ("float32" if args.tiny else "mixed_bfloat16")
    args.batch_size = args.batch_size or 512
    try:
        args.depths = [int(d) for d in args.models.split(",") if d.strip()]
    except ValueError:
        p.error(f"--models: expected comma-separated depths such as 20,56, found {args.models!r}")
    args.trainer_list = [t.strip() for t in args.trainers.split(",") if t.strip()]
    bad = [t for t in args.trainer_list if t not in TRAINERS]
    if bad:
        p.error(f"--trainers: expected a subset of {','.join(TRAINERS)}, found {bad}")
    if args.epochs < 0 or (args.epochs == 0 and not args.recipe) or args.batch_size < 1:
        p.error("--epochs and --batch-size must be >= 1")
    return args


def recipe_of(args: argparse.Namespace, depth: int) -> Any:
    from resnet_nas.train.recipes import get_recipe, recipe_for_depth

    if args.recipe and args.recipe != "auto":
        return get_recipe(args.recipe)
    return recipe_for_depth(depth)


def train_config(args: argparse.Namespace, depth: int, trainer: str) -> Any:
    """The TrainConfig of one run: the recipe, with the command line's overrides."""
    recipe = recipe_of(args, depth)
    base = recipe.train
    epochs = args.epochs or base.epochs  # 0: the recipe's
    lr = args.lr if args.lr is not None else base.learning_rate * args.batch_size / 512
    warmup = args.warmup_epochs if args.warmup_epochs is not None else (
        0.0 if args.tiny else min(base.warmup_epochs, epochs / 4))
    return recipe.with_train(
        epochs=epochs, batch_size=args.batch_size, learning_rate=lr, warmup_epochs=warmup,
        precision=args.precision, seed=args.seed,
        trainer=trainer if trainer in ("jax", "tf") else "fit",
        eval_batch_size=min(base.eval_batch_size, 1024 if args.tiny else base.eval_batch_size)
    ).train


# ---------------------------------------------------------------------------------------------
# Data (parent process only; written once to an .npz the workers read).
@dataclasses.dataclass
class BenchData:
    """Duck-typed resnet_nas.data.Dataset: what the trainers read."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    num_classes: int

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.x_train.shape[1:])  # type: ignore[return-value]


def prepare_data(args: argparse.Namespace) -> BenchData:
    from resnet_nas.config import DataConfig
    from resnet_nas.data import load_dataset, make_synthetic

    if args.data == "cifar10-jpeg":
        path = Path(args.data_path)
        if not path.exists():
            raise SystemExit(f"--data cifar10-jpeg: {path} not found (pass --data-path)")
        ds = load_dataset(DataConfig(name="folder", path=str(path), validation_split=0.02))
        x_train = np.concatenate([ds.x_train, ds.x_val])
        y_train = np.concatenate([ds.y_train, ds.y_val])
        data = BenchData(x_train, y_train, ds.x_test, ds.y_test, ds.num_classes)
    else:
        if args.tiny:
            n_train, shape, n_val = args.n_train or 512, (16, 16, 3), 128
        else:
            n_train, shape, n_val = args.n_train or 50_000, (32, 32, 3), 10_000
        ds = make_synthetic(n_train=n_train, n_test=1, shape=shape, num_classes=10,
                            seed=args.seed, n_val=n_val)
        data = BenchData(ds.x_train, ds.y_train, ds.x_val, ds.y_val, ds.num_classes)
    return data


def save_data(data: BenchData, path: Path) -> None:
    np.savez(path, x_train=data.x_train, y_train=data.y_train, x_val=data.x_val,
             y_val=data.y_val, num_classes=data.num_classes)


def load_data(path: str) -> BenchData:
    with np.load(path) as z:
        return BenchData(z["x_train"], z["y_train"].astype(np.int32), z["x_val"],
                         z["y_val"].astype(np.int32), int(z["num_classes"]))


# ---------------------------------------------------------------------------------------------
# Workers.
def _summary(history: list[dict[str, float]], compile_seconds: float, images_per_second: float,
             first_epoch_seconds: float, target: float | None) -> dict[str, Any]:
    accs = [h["val_accuracy"] for h in history]
    time_to_target = None
    if target is not None:
        elapsed = 0.0 if math.isnan(compile_seconds) else compile_seconds
        for h in history:
            elapsed += h["seconds"]
            if h["val_accuracy"] >= target:
                time_to_target = elapsed
                break
    if len(history) < 2:
        images_per_second = float("nan")  # epoch 1 alone holds fit's trace: no steady state
    return {
        "epochs_run": len(history), "images_per_second": images_per_second,
        "compile_seconds": compile_seconds, "first_epoch_seconds": first_epoch_seconds,
        "train_seconds": float(sum(h["seconds"] for h in history)),
        "val_accuracy": accs[-1] if accs else float("nan"),
        "best_val_accuracy": max(accs) if accs else float("nan"),
        "time_to_target_seconds": time_to_target, "history": history,
    }


def train_cifar_resnet(depth: int, data: BenchData, cfg: Any) -> tuple[Any, Any]:
    """Builds He et al.'s CIFAR ResNet (v1, option-A shortcuts) under cfg's precision, seeded
    with cfg.seed, and trains it with resnet_nas.train; returns (model, TrainResult)."""
    from resnet_nas.nets import build_model, cifar_resnet
    from resnet_nas.train import precision_policy, train_model
    from resnet_nas.train.runtime import seed_all

    from resnet_nas.input import ArrayInput

    seed_all(cfg.seed)
    arch = cifar_resnet(depth=depth, version=1, shortcut="A", num_classes=data.num_classes,
                        input_shape=data.input_shape)
    inp = ArrayInput(data)
    with precision_policy(cfg.precision):
        model = build_model(arch, config=cfg.resnet_config(), normalization=inp.normalization)
    return model, train_model(model, inp, cfg)


def keras_worker(args: argparse.Namespace) -> dict[str, Any]:
    """Trains one ResNet with the JAX scan trainer or Keras fit; returns the result row."""
    data = load_data(args.data_file)
    cfg = train_config(args, args.depth, args.worker)
    model, result = train_cifar_resnet(args.depth, data, cfg)
    history = [m.to_dict() for m in result.history]
    first = history[0]["seconds"] if history else float("nan")
    if result.trainer == "jax":
        first += result.compile_seconds  # the JAX trainer compiles before the first epoch
    mode = None
    if result.trainer == "jax":
        from resnet_nas.train.jax_scan import epoch_mode

        mode = epoch_mode()
    row = _summary(history, result.compile_seconds, result.images_per_second, first,
                   args.target_acc)
    row.update(backend=result.backend, device=result.device, precision=cfg.precision,
               batch_size=cfg.batch_size, epoch_mode=mode, params=int(model.count_params()),
               reason=result.reason, train_config=cfg.to_dict(),
               tensorflow_imported="tensorflow" in sys.modules,
               versions=versions())
    return row


def torch_worker(args: argparse.Namespace) -> dict[str, Any]:
    """The same ResNet and recipe as a minimal PyTorch loop (data and augmentation on device,
    bf16 autocast, channels_last, SGD Nesterov, per-step learning rate)."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    from resnet_nas.train.optim import learning_rate_at, schedule_spec
    from resnet_nas.data import normalization_stats
    data = load_data(args.data_file)
    cfg = train_config(args, args.depth, "fit")
    torch.manual_seed(args.seed)
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    bn_momentum = 1.0 - cfg.batch_norm_decay  # torch's momentum is 1 - decay

    class Basic(nn.Module):
        """He et al. v1 basic unit; option-A shortcut (subsample + zero channel padding)."""

        def __init__(self, cin: int, cout: int, stride: int):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout, eps=1e-5, momentum=bn_momentum)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout, eps=1e-5, momentum=bn_momentum)
            self.stride, self.extra = stride, cout - cin

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            short = x[:, :, ::self.stride, ::self.stride] if self.stride > 1 else x
            if self.extra:
                short = F.pad(short, (0, 0, 0, 0, 0, self.extra))
            return F.relu(out + short)

    class ResNet(nn.Module):
        def __init__(self, depth: int, num_classes: int):
            super().__init__()
            n = (depth - 2) // 6
            self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1, bias=False),
                                      nn.BatchNorm2d(16, eps=1e-5, momentum=bn_momentum),
                                      nn.ReLU())
            units, cin = [], 16
            for i, width in enumerate((16, 32, 64)):
                for j in range(n):
                    units.append(Basic(cin, width, 2 if (i > 0 and j == 0) else 1))
                    cin = width
            self.units = nn.Sequential(*units)
            self.fc = nn.Linear(64, num_classes)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")

        def forward(self, x):
            x = self.units(self.stem(x))
            return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    model = ResNet(args.depth, data.num_classes).to(dev).to(memory_format=torch.channels_last)
    run = torch.compile(model) if args.torch_compile else model
    decay = [p for p in model.parameters() if p.ndim > 1]  # kernels, as slim regularizes
    other = [p for p in model.parameters() if p.ndim <= 1]
    # slim's L2 gradient is weight_decay * w: the same number as torch's coupled decay.
    opt = torch.optim.SGD([{"params": decay, "weight_decay": cfg.weight_decay},
                           {"params": other, "weight_decay": 0.0}], lr=cfg.learning_rate,
                          momentum=cfg.momentum, nesterov=cfg.optimizer == "nesterov")
    mean_np, std_np = normalization_stats(data.x_train)  # the Keras models' statistics
    mean = torch.tensor(mean_np, device=dev).view(1, -1, 1, 1)
    std = torch.tensor(std_np, device=dev).view(1, -1, 1, 1)
    x_all = torch.from_numpy(data.x_train).to(dev).permute(0, 3, 1, 2).contiguous()
    y_all = torch.from_numpy(data.y_train.astype(np.int64)).to(dev)
    x_val = torch.from_numpy(data.x_val).to(dev).permute(0, 3, 1, 2).contiguous()
    y_val = torch.from_numpy(data.y_val.astype(np.int64)).to(dev)
    n, bs = len(x_all), cfg.batch_size
    steps = n // bs
    spec = schedule_spec(cfg, steps)
    lrs = learning_rate_at(np.arange(spec.total_steps, dtype=np.float64), spec, np)
    pad = cfg.augment.crop_padding
    h, w = x_all.shape[2:]
    autocast = dict(device_type=dev.type, dtype=torch.bfloat16,
                    enabled=cfg.precision == "mixed_bfloat16")

    def prep(xb):
        return ((xb.float() - mean) / std).contiguous(memory_format=torch.channels_last)

    def augment(xb):
        b = xb.shape[0]
        if pad:
            mode = "reflect" if cfg.augment.pad_mode == "reflect" else "constant"
            xp = F.pad(xb.float(), (pad, pad, pad, pad), mode=mode)
            off = torch.randint(0, 2 * pad + 1, (b, 2), device=dev)
            rows = (off[:, 0, None] + torch.arange(h, device=dev))[:, :, None]
            cols = (off[:, 1, None] + torch.arange(w, device=dev))[:, None, :]
            xb = xp[torch.arange(b, device=dev)[:, None, None], :, rows, cols]  # B,H,W,C
            xb = xb.permute(0, 3, 1, 2)
        if cfg.augment.flip:
            flip = torch.rand(b, device=dev) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
        return xb

    def evaluate():
        run.eval()
        loss_sum = torch.zeros((), device=dev)
        correct = torch.zeros((), device=dev)
        eb = cfg.eval_batch_size
        with torch.no_grad(), torch.autocast(**autocast):
            for s in range(0, len(x_val), eb):
                logits = run(prep(x_val[s:s + eb])).float()
                loss_sum += F.cross_entropy(logits, y_val[s:s + eb], reduction="sum")
                correct += (logits.argmax(1) == y_val[s:s + eb]).sum()
        run.train()
        return loss_sum, correct

    history: list[dict[str, float]] = []
    step = 0
    for epoch in range(1, cfg.epochs + 1):
        t0 = time.perf_counter()
        perm = torch.randperm(n, device=dev)[:steps * bs].view(steps, bs)
        loss_sum = torch.zeros((), device=dev)
        correct = torch.zeros((), device=dev)
        for i in range(steps):
            idx = perm[i]
            xb, yb = prep(augment(x_all[idx])), y_all[idx]
            for group in opt.param_groups:
                group["lr"] = float(lrs[step])
            with torch.autocast(**autocast):
                logits = run(xb)
            loss = F.cross_entropy(logits.float(), yb, label_smoothing=cfg.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            loss_sum += loss.detach()
            correct += (logits.argmax(1) == yb).sum()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t_trained = time.perf_counter()
        val_loss, val_correct = evaluate()
        tl, tc, vl, vc = (float(v) for v in (loss_sum, correct, val_loss, val_correct))
        t_end = time.perf_counter()
        history.append({"epoch": epoch, "train_loss": tl / steps,
                        "train_accuracy": tc / (steps * bs), "val_loss": vl / len(x_val),
                        "val_accuracy": vc / len(x_val), "seconds": t_end - t0,
                        "images_per_second": steps * bs / (t_trained - t0)})
    ips = [h["images_per_second"] for h in (history[1:] or history)]
    compile_s = float("nan")
    if len(history) > 1:
        compile_s = max(0.0, history[0]["seconds"] -
                        float(np.median([h["seconds"] for h in history[1:]])))
    row = _summary(history, compile_s, float(np.mean(ips)), history[0]["seconds"],
                   args.target_acc)
    row.update(backend="torch", precision=cfg.precision, batch_size=bs, epoch_mode=None,
               device=torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu",
               params=int(sum(p.numel() for p in model.parameters())),
               reason="completed", train_config=cfg.to_dict(), torch_compile=args.torch_compile)
    return row


def run_worker(args: argparse.Namespace) -> int:
    row = torch_worker(args) if args.worker == "torch" else keras_worker(args)
    Path(args.result_file).write_text(json.dumps(row, default=float))
    return 0


# ---------------------------------------------------------------------------------------------
# Parent.
def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in ("numpy", "keras", "jax", "jaxlib", "optree", "torch", "tensorflow"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def worker_env(**overrides: str) -> dict[str, str]:
    """The environment of an experiment's worker process: this checkout importable, the JAX
    backend unless the caller's environment picks another, quiet TensorFlow C++ logs."""
    env = dict(os.environ)
    env.setdefault("KERAS_BACKEND", "jax")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.update(overrides)
    return env


def failure_message(proc: subprocess.CompletedProcess, lines: int = 5) -> str:
    """The last lines a failed worker printed (stderr, else stdout), on one line."""
    return " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-lines:])


def _worker_argv(args: argparse.Namespace, trainer: str, depth: int, data_file: Path,
                 result_file: Path) -> list[str]:
    argv = [sys.executable, str(Path(__file__).resolve()), "--worker", trainer,
            "--depth", str(depth), "--data-file", str(data_file),
            "--result-file", str(result_file), "--epochs", str(args.epochs),
            "--batch-size", str(args.batch_size), "--precision", args.precision,
            "--seed", str(args.seed)]
    for flag, value in (("--lr", args.lr), ("--warmup-epochs", args.warmup_epochs),
                        ("--recipe", args.recipe), ("--target-acc", args.target_acc)):
        if value is not None:
            argv += [flag, str(value)]
    if args.tiny:
        argv.append("--tiny")
    if args.torch_compile:
        argv.append("--torch-compile")
    return argv


def run_one(args: argparse.Namespace, trainer: str, depth: int, data_file: Path,
            workdir: Path, xla_cache: str) -> dict[str, Any]:
    base = {"trainer": trainer, "model": f"resnet{depth}"}
    if trainer == "torch" and importlib.util.find_spec("torch") is None:
        return {**base, "status": "skipped", "message": "torch is not installed"}
    result_file = workdir / f"{trainer}-{depth}.json"
    env = worker_env(RESNET_NAS_XLA_CACHE=xla_cache)
    if trainer in TRAINER_BACKENDS:  # e.g. fit-tf: Keras fit on the TensorFlow backend
        if importlib.util.find_spec(TRAINER_BACKENDS[trainer]) is None:
            return {**base, "status": "skipped",
                    "message": f"{TRAINER_BACKENDS[trainer]} is not installed"}
        env["KERAS_BACKEND"] = TRAINER_BACKENDS[trainer]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(_worker_argv(args, trainer, depth, data_file, result_file),
                              env=env, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {**base, "status": "failed", "message": f"timed out after {args.timeout} s"}
    wall = time.perf_counter() - t0
    if proc.returncode != 0 or not result_file.exists():
        return {**base, "status": "failed", "message": failure_message(proc)}
    row = json.loads(result_file.read_text())
    return {**base, "status": "ok", "message": "", "worker_wall_seconds": wall, **row}


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def print_table(rows: list[dict[str, Any]], ratios: list[dict[str, Any]]) -> None:
    head = ["trainer", "model", "status", "img/s", "compile_s", "first_epoch_s", "val_acc",
            "t_target_s", "mode"]
    lines = [head]
    for r in rows:
        lines.append([r["trainer"], r["model"], r["status"],
                      _fmt(r.get("images_per_second"), 0), _fmt(r.get("compile_seconds"), 1),
                      _fmt(r.get("first_epoch_seconds"), 1), _fmt(r.get("val_accuracy"), 4),
                      _fmt(r.get("time_to_target_seconds"), 1), _fmt(r.get("epoch_mode"))])
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    for line in lines:
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths)))
    for r in ratios:
        print(f"{r['model']}: steady img/s ratio jax/fit = {_fmt(r['jax_over_fit'], 2)}, "
              f"jax/fit-tf = {_fmt(r['jax_over_fit_tf'], 2)}, "
              f"jax/torch = {_fmt(r['jax_over_torch'], 2)}, "
              f"tf/fit-tf = {_fmt(r['tf_over_fit_tf'], 2)}; first epoch incl. compile, "
              f"fit/jax seconds = {_fmt(r['first_epoch_fit_over_jax'], 2)}, "
              f"fit-tf/tf seconds = {_fmt(r['first_epoch_fit_tf_over_tf'], 2)}")
    for r in rows:
        if r["status"] != "ok" and r.get("message"):
            print(f"{r['trainer']} {r['model']}: {r['status']}: {r['message']}")


def compute_ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for model in dict.fromkeys(r["model"] for r in rows):
        ok = [r for r in rows if r["model"] == model and r["status"] == "ok"]

        def ratio(column: str, a: str, b: str) -> float | None:
            values = {r["trainer"]: r.get(column) for r in ok}
            x, y = values.get(a), values.get(b)
            if x and y and not (math.isnan(x) or math.isnan(y)):
                return x / y
            return None

        out.append({"model": model,
                    "jax_over_fit": ratio("images_per_second", "jax", "fit"),
                    "jax_over_fit_tf": ratio("images_per_second", "jax", "fit-tf"),
                    "jax_over_torch": ratio("images_per_second", "jax", "torch"),
                    "tf_over_fit_tf": ratio("images_per_second", "tf", "fit-tf"),
                    "first_epoch_fit_over_jax": ratio("first_epoch_seconds", "fit", "jax"),
                    "first_epoch_fit_tf_over_tf": ratio("first_epoch_seconds", "fit-tf", "tf")})
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        return run_worker(args)
    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    t0 = time.perf_counter()
    data = prepare_data(args)
    print(f"data: {args.data}{' (tiny)' if args.tiny else ''}: {len(data.x_train)} train / "
          f"{len(data.x_val)} val, {data.input_shape}; prepared in "
          f"{time.perf_counter() - t0:.1f} s", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_trainer_") as tmp:
        workdir = Path(tmp)
        data_file = workdir / "data.npz"
        save_data(data, data_file)
        xla_cache = args.xla_cache or str(workdir / "xla_cache")
        for depth in args.depths:
            for trainer in args.trainer_list:
                print(f"running {trainer} resnet{depth} ...", flush=True)
                rows.append(run_one(args, trainer, depth, data_file, workdir, xla_cache))
    ratios = compute_ratios(rows)
    print_table(rows, ratios)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"started": started, "command": " ".join(shlex.quote(a) for a in sys.argv),
            "keras_backend": os.environ.get("KERAS_BACKEND", "jax"),
            "machine": platform.platform(), "processor": platform.processor(),
            "cpu_count": os.cpu_count(), "versions": versions(),
            "args": {k: v for k, v in vars(args).items() if not k.startswith("_")}}
    devices = sorted({r["device"] for r in rows if r.get("device")})
    meta["devices"] = devices
    (out / "bench_trainer.json").write_text(
        json.dumps({"meta": meta, "rows": rows, "ratios": ratios}, indent=2, default=str))
    with open(out / "bench_trainer.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS + ["versions", "command"],
                                extrasaction="ignore")
        writer.writeheader()
        for r in rows:
            writer.writerow({**{k: r.get(k) for k in COLUMNS},
                             "versions": json.dumps(meta["versions"]),
                             "command": meta["command"]})
    print(f"wrote {out / 'bench_trainer.csv'} and {out / 'bench_trainer.json'}")
    failed = [r for r in rows if r["status"] == "failed"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
