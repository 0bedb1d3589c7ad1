"""Smoke tests of experiments/ablate_recipe.py (CPU, --tiny) and of its variant configs."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO

SCRIPT = REPO / "experiments" / "ablate_recipe.py"


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path), *args], env=env,
                          capture_output=True, text=True, timeout=600, cwd=REPO)


@pytest.fixture(scope="module")
def ablate():
    sys.path.insert(0, str(SCRIPT.parent))
    spec = importlib.util.spec_from_file_location("ablate_recipe", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["ablate_recipe"] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules["ablate_recipe"]
        sys.path.remove(str(SCRIPT.parent))


def test_variants_change_one_thing_and_scale_with_the_batch(ablate):
    args = ablate.parse_args(["--epochs", "15", "--batch-size", "128", "--depth", "20"])
    recipe = ablate.train_config(args, ablate.VARIANTS["recipe"], 0)
    assert recipe.learning_rate == pytest.approx(0.1)  # 0.4 at batch 512
    assert recipe.warmup_epochs == pytest.approx(3 * 15 / 100)  # the recipe's shape
    assert recipe.augment.per_example and recipe.epochs == 15
    per_batch = ablate.train_config(args, ablate.VARIANTS["per_batch_crop"], 0)
    assert not per_batch.augment.per_example
    assert per_batch.to_dict() | {"augment": None} == recipe.to_dict() | {"augment": None}
    probe = ablate.train_config(args, ablate.VARIANTS["probe"], 3)
    assert probe.learning_rate == pytest.approx(0.05) and probe.label_smoothing == 0.1
    assert probe.warmup_epochs == pytest.approx(0.15) and probe.seed == 3
    assert ablate.train_config(args, ablate.VARIANTS["bn_decay_0.997"], 0).batch_norm_decay == 0.997
    full = ablate.train_config(ablate.parse_args([]), ablate.VARIANTS["recipe"], 0)
    assert (full.epochs, full.batch_size, full.warmup_epochs) == (100, 512, 3.0)
    small = ablate.train_config(ablate.parse_args([]), ablate.VARIANTS["batch_128"], 0)
    assert small.batch_size == 128 and small.learning_rate == pytest.approx(0.1)
    longer = ablate.train_config(args, ablate.VARIANTS["epochs_x2"], 0)
    assert longer.epochs == 30 and longer.warmup_epochs == recipe.warmup_epochs


@pytest.mark.slow
def test_tiny_run_writes_the_table_and_reuses_finished_runs(tmp_path):
    proc = run(tmp_path, "--tiny", "--variants", "recipe,per_batch_crop")
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-2000:]
    assert "per_batch_crop" in proc.stdout and "delta" in proc.stdout
    data = json.loads((tmp_path / "ablate_recipe.json").read_text())
    rows = {r["variant"]: r for r in data["rows"]}
    assert rows["recipe"]["status"] == "ok" and rows["recipe"]["trainer"] == "jax"
    assert rows["per_batch_crop"]["train_config"]["augment"]["per_example"] is False
    assert len(rows["recipe"]["history"]) == 1
    assert {s["variant"]: s["delta_vs_recipe"] for s in data["summary"]}["recipe"] == 0.0
    again = run(tmp_path, "--tiny", "--variants", "recipe,per_batch_crop")
    assert again.returncode == 0 and again.stdout.count("reused") == 2
    table_only = run(tmp_path, "--tiny", "--no-train", "--variants", "recipe,probe")
    assert table_only.returncode == 0 and "probe seed 0: missing" in table_only.stdout
    summary = json.loads((tmp_path / "ablate_recipe.json").read_text())["summary"]
    assert [s["variant"] for s in summary] == ["recipe"]
    other = run(tmp_path, "--tiny", "--epochs", "2", "--variants", "recipe")
    assert other.returncode == 0 and "reused" not in other.stdout  # a different setting


def test_unknown_variant_is_rejected(tmp_path):
    proc = run(tmp_path, "--variants", "recipe,bigger")
    assert proc.returncode == 2 and "--variants" in proc.stderr and "bigger" in proc.stderr
