"""Smoke tests of experiments/bench_trainer.py (CPU, --tiny)."""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO

BENCH = REPO / "experiments" / "bench_trainer.py"


def run_bench(tmp_path: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, str(BENCH), "--tiny", "--out", str(tmp_path), *args],
                          env=env, capture_output=True, text=True, timeout=timeout, cwd=REPO)


@pytest.mark.slow
def test_tiny_jax_run_prints_the_table_and_writes_results(tmp_path):
    proc = run_bench(tmp_path, "--trainers", "jax", "--models", "20")
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-2000:]
    assert "img/s" in proc.stdout and "resnet20" in proc.stdout
    data = json.loads((tmp_path / "bench_trainer.json").read_text())
    (row,) = data["rows"]
    assert row["status"] == "ok" and row["trainer"] == "jax" and row["backend"] == "jax"
    assert row["epochs_run"] == 3 and row["images_per_second"] > 0  # --tiny: 3 epochs
    assert row["compile_seconds"] > 0 and row["first_epoch_seconds"] > row["compile_seconds"]
    assert row["tensorflow_imported"] is False
    assert data["meta"]["versions"]["jax"] and "--tiny" in data["meta"]["command"]
    with open(tmp_path / "bench_trainer.csv") as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["trainer"] == "jax" and float(rows[0]["images_per_second"]) > 0


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="torch is installed")
def test_torch_is_skipped_cleanly_when_missing(tmp_path):
    proc = run_bench(tmp_path, "--trainers", "torch", "--models", "20")
    assert proc.returncode == 0, proc.stderr[-3000:]
    (row,) = json.loads((tmp_path / "bench_trainer.json").read_text())["rows"]
    assert row["status"] == "skipped" and "torch is not installed" in row["message"]


@pytest.mark.slow
def test_tiny_run_of_both_models_and_keras_trainers(tmp_path):
    proc = run_bench(tmp_path, "--trainers", "jax,fit", "--models", "20,56")
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-2000:]
    data = json.loads((tmp_path / "bench_trainer.json").read_text())
    assert [(r["trainer"], r["model"], r["status"]) for r in data["rows"]] == [
        ("jax", "resnet20", "ok"), ("fit", "resnet20", "ok"),
        ("jax", "resnet56", "ok"), ("fit", "resnet56", "ok")]
    assert all(r["jax_over_fit"] for r in data["ratios"])


def test_bad_flags_are_rejected():
    proc = subprocess.run([sys.executable, str(BENCH), "--trainers", "jax,keras"],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2 and "--trainers" in proc.stderr


def test_recipe_epochs_batch_scaling_and_overrides():
    spec = importlib.util.spec_from_file_location("bench_trainer", BENCH)
    bench = importlib.util.module_from_spec(spec)
    sys.modules["bench_trainer"] = bench  # dataclasses look their module up
    try:
        spec.loader.exec_module(bench)
    finally:
        del sys.modules["bench_trainer"]
    args = bench.parse_args(["--recipe", "cifar_resnet56", "--batch-size", "256"])
    cfg = bench.train_config(args, 56, "jax")
    assert cfg.epochs == 100 and cfg.batch_size == 256 and cfg.trainer == "jax"
    assert cfg.learning_rate == pytest.approx(0.2) and cfg.warmup_epochs == 3.0
    assert cfg.label_smoothing == 0.1 and cfg.precision == "mixed_bfloat16"
    assert bench.train_config(args, 56, "tf").trainer == "tf"
    assert bench.train_config(args, 56, "fit-tf").trainer == "fit"
    args = bench.parse_args(["--models", "20", "--lr", "0.05"])
    cfg = bench.train_config(args, 20, "fit")
    assert (cfg.epochs, cfg.learning_rate, cfg.warmup_epochs, cfg.trainer) == (5, 0.05, 1.25,
                                                                               "fit")
    tiny = bench.parse_args(["--tiny"])
    # 3 epochs: a steady state (epochs 2..N) that leaves fit's trace in epoch 1 out
    assert (tiny.epochs, tiny.batch_size, tiny.precision) == (3, 128, "float32")


def test_one_epoch_has_no_steady_state_and_ratios_compare_like_with_like():
    spec = importlib.util.spec_from_file_location("bench_trainer_ratios", BENCH)
    bench = importlib.util.module_from_spec(spec)
    sys.modules["bench_trainer_ratios"] = bench
    try:
        spec.loader.exec_module(bench)
    finally:
        sys.modules.pop("bench_trainer_ratios", None)
    one = bench._summary([{"val_accuracy": 0.5, "seconds": 2.0}], 1.0, 100.0, 3.0, None)
    assert math.isnan(one["images_per_second"])
    rows = [{"trainer": "jax", "model": "resnet20", "status": "ok", "images_per_second": 300.0,
             "first_epoch_seconds": 4.0},
            {"trainer": "fit-tf", "model": "resnet20", "status": "ok",
             "images_per_second": 400.0, "first_epoch_seconds": 6.0},
            {"trainer": "fit", "model": "resnet20", "status": "ok",
             "images_per_second": float("nan"), "first_epoch_seconds": 8.0},
            {"trainer": "tf", "model": "resnet20", "status": "ok",
             "images_per_second": 500.0, "first_epoch_seconds": 3.0}]
    (r,) = bench.compute_ratios(rows)
    assert r["jax_over_fit_tf"] == 0.75 and r["jax_over_fit"] is None
    assert r["first_epoch_fit_over_jax"] == 2.0
    assert r["tf_over_fit_tf"] == 1.25 and r["first_epoch_fit_tf_over_tf"] == 2.0
