"""The JAX trainer, checked in a KERAS_BACKEND=jax subprocess (the tests run on TensorFlow).

tests/train/jax_checks.py does the work and returns JSON; each test asserts on one check.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CORE = ["train", "stop_and_diverge", "augment", "schedule", "compile", "release"]
#: The longer checks (a real CIFAR ResNet, buffer donation, both epoch modes, model.fit on
#: JAX, bf16 and L2 models of their own, streamed photos: TensorFlow's tf.data in a JAX
#: process), in their own slow run.
LONG = ["donation", "resnet", "modes", "fit_on_jax", "bf16", "regularization", "stream"]


def run_checks(names: list[str], cache_dir: Path) -> dict:
    env = dict(os.environ, KERAS_BACKEND="jax", RESNET_NAS_XLA_CACHE=str(cache_dir),
               JAX_PLATFORMS="cpu", RESNET_NAS_JAX_EPOCH="auto")
    proc = subprocess.run([sys.executable, str(HERE / "jax_checks.py"), *names], env=env,
                          capture_output=True, text=True, timeout=600)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("JSON:")]
    assert proc.returncode == 0 and lines, proc.stderr[-4000:]
    return json.loads(lines[-1][len("JSON:"):])


@pytest.fixture(scope="module")
def checks(tmp_path_factory) -> dict:
    return run_checks(CORE, tmp_path_factory.mktemp("xla_cache"))


@pytest.fixture(scope="module")
def long_checks(tmp_path_factory) -> dict:
    return run_checks(LONG, tmp_path_factory.mktemp("xla_cache"))


def value(checks: dict, name: str):
    entry = checks[name]
    assert entry["ok"], entry.get("error")
    return entry["value"]


@pytest.mark.slow
def test_trains_on_streamed_photos_with_host_batches(long_checks):
    v = value(long_checks, "stream")
    r = v["result"]
    assert v["streamed"] == "StreamInput" and r["epochs_run"] == 2 and r["trainer"] == "jax"
    last = r["history"][-1]
    assert math.isclose(v["eval"][0], last["val_loss"], rel_tol=1e-4)
    assert math.isclose(v["eval"][1], last["val_accuracy"])


def test_trains_two_epochs_reports_each_and_writes_weights_back(checks):
    v = value(checks, "train")
    r = v["result"]
    assert r["epochs_run"] == 2 and r["reason"] == "completed"
    assert not r["stopped_early"] and not r["diverged"]
    assert [h["epoch"] for h in r["history"]] == [1, 2] and v["seen"] == [1, 2]
    assert r["trainer"] == "jax" and r["backend"] == "jax" and r["device"] == "cpu"
    assert r["compile_seconds"] > 0 and r["images_per_second"] > 0
    # Loop mode (CPU) reports inside the epoch, one wait per report.
    assert v["mode"] == "loop"
    n = v["steps"][0][2]
    assert [s[1] for s in v["steps"] if s[0] == 1] == list(range(1, n + 1))
    # One definition for every trainer: train_seconds includes the compile (and validation).
    assert r["train_seconds"] == pytest.approx(
        r["compile_seconds"] + sum(h["seconds"] for h in r["history"]), rel=1e-9)
    assert 0 < r["eval_seconds"] < r["train_seconds"] - r["compile_seconds"]
    # The colour task is learnable: the second epoch is better than chance by far.
    assert r["history"][-1]["val_accuracy"] > 0.6
    assert r["history"][-1]["train_loss"] < r["history"][0]["train_loss"]
    # All variables moved and are back in the Keras model: evaluate() sees the trained net.
    assert v["changed"] == v["n_vars"]
    loss, acc = v["eval"]
    assert math.isclose(loss, r["history"][-1]["val_loss"], rel_tol=1e-4)
    assert math.isclose(acc, r["history"][-1]["val_accuracy"], rel_tol=1e-6)


def test_jax_path_does_not_import_tensorflow(checks):
    assert value(checks, "train")["tensorflow_imported"] is False
    assert checks["release"]["tensorflow_imported"] is False


@pytest.mark.slow
def test_scan_and_loop_epochs_train_identically(long_checks):
    v = value(long_checks, "modes")
    for scan_row, loop_row in zip(v["scan"], v["loop"]):
        for a, b in zip(scan_row, loop_row):
            assert math.isclose(a, b, rel_tol=1e-3, abs_tol=1e-5)


@pytest.mark.slow
def test_bf16_keeps_float32_master_weights_and_bn_statistics(long_checks):
    v = value(long_checks, "bf16")
    assert v["trainable_dtypes"] == ["float32"]
    assert {dtype for _, dtype in v["bn"]} == {"float32"}
    assert any("moving_mean" in path for path, _ in v["bn"])
    assert "bfloat16" in v["compute_dtypes"]
    assert all(math.isfinite(h["train_loss"]) for h in v["history"])
    assert "precision_policy('mixed_bfloat16')" in v["mismatch"]


def test_on_epoch_false_stops_and_nan_loss_is_reported_as_diverged(checks):
    v = value(checks, "stop_and_diverge")
    s = v["stopped"]
    assert s["stopped_early"] and s["epochs_run"] == 1
    assert s["reason"] == "stopped by on_epoch at epoch 1"
    d = v["diverged"]
    assert d["diverged"] and not d["stopped_early"]
    assert d["reason"] == "diverged: train loss nan at epoch 1"
    assert d["epochs_run"] == 1 and v["calls"] == []  # on_epoch is not told about a NaN epoch


def test_device_augmentation_matches_numpy_and_is_per_example(checks):
    v = value(checks, "augment")
    assert v["equal_reflect"] and v["equal_zero"]
    # 7x7 offsets x 2 flips: 32 draws of one image give many distinct crops.
    assert v["distinct_in_batch"] >= 16
    assert v["distinct_per_batch"] == 1 and v["per_batch_moved"]


@pytest.mark.slow
def test_donated_state_trains_exactly_like_kept_state(long_checks):
    # Each run: per-epoch [train_loss, val_loss] rows, then [sum |weights|].
    flat = {k: [x for row in run for x in row]
            for k, run in value(long_checks, "donation").items()}
    for mode in ("scan", "loop"):
        assert flat[f"{mode}_donated"] == pytest.approx(flat[f"{mode}_kept"], rel=1e-6)
    assert flat["scan_donated"][-1] == pytest.approx(flat["loop_donated"][-1], rel=1e-4)


@pytest.mark.slow
def test_l2_from_stateless_call_is_added_except_for_adamw(long_checks):
    v = value(long_checks, "regularization")
    assert math.isclose(v["losses_sum"], v["expected_l2"], rel_tol=1e-4)
    assert math.isclose(v["loss_nesterov"], v["ce"] + v["expected_l2"], rel_tol=1e-4)
    assert math.isclose(v["loss_adamw"], v["ce"], rel_tol=1e-5)


@pytest.mark.parametrize("kind", ["cosine", "onecycle", "step", "constant"])
def test_optimizer_uses_the_schedule_per_step(checks, kind):
    v = value(checks, "schedule")[kind]
    assert len(v["got"]) == len(v["want"]) == 20
    for got, want in zip(v["got"], v["want"]):
        assert math.isclose(got, want, rel_tol=1e-3, abs_tol=1e-6)


def test_compilation_is_timed_and_persistently_cached(checks):
    v = value(checks, "compile")
    assert v["n_files"] > 0 and v["cache_dir"]
    assert v["compile_seconds"] >= 0


@pytest.mark.slow
def test_fit_trainer_runs_on_the_jax_backend(long_checks):
    r = value(long_checks, "fit_on_jax")
    assert r["trainer"] == "fit" and r["backend"] == "jax" and r["epochs_run"] == 2
    assert all(math.isfinite(h["train_loss"]) for h in r["history"])
    assert r["history"][-1]["val_accuracy"] > 0.6


@pytest.mark.slow
def test_real_cifar_resnet_trains_under_bf16(long_checks):
    v = value(long_checks, "resnet")
    assert long_checks["resnet"]["tensorflow_imported"] is False
    assert len(v["history"]) == 1 and math.isfinite(v["history"][0]["train_loss"])
    assert v["bn_dtypes"] == ["float32"] and v["compile_seconds"] > 0


def test_release_memory_deletes_device_arrays(checks):
    v = value(checks, "release")
    assert v["before"] > 0 and v["after"] == 0


@pytest.mark.slow
def test_every_optimizer_and_float16_loss_scaling_train(tmp_path):
    v = value(run_checks(["optimizers"], tmp_path), "optimizers")
    for name in ("sgd", "nesterov", "adam", "adamw", "mixed_float16"):
        assert math.isfinite(v[name]["train_loss"]), name
        assert v[name]["val_accuracy"] > 0.3, name


@pytest.mark.slow
def test_a_second_process_reuses_the_compilation_cache(tmp_path):
    first = value(run_checks(["compile"], tmp_path), "compile")
    second = value(run_checks(["compile"], tmp_path), "compile")
    assert second["compile_seconds"] < 0.7 * first["compile_seconds"]


def test_compile_together_runs_every_job_side_by_side_or_serially(monkeypatch):
    import threading

    from resnet_nas.train.jax_scan import compile_together

    both_started = threading.Barrier(2, timeout=10)
    done: list[str] = []

    def job(name):
        def run():
            both_started.wait()  # only passes when the two jobs run at the same time
            done.append(name)
        return run

    monkeypatch.delenv("RESNET_NAS_SERIAL_COMPILE", raising=False)
    compile_together([job("train"), job("eval")])
    assert sorted(done) == ["eval", "train"]

    monkeypatch.setenv("RESNET_NAS_SERIAL_COMPILE", "1")
    order: list[str] = []
    compile_together([lambda: order.append("train"), lambda: order.append("eval")])
    assert order == ["train", "eval"]

    def broken():
        raise RuntimeError("XLA said no")

    monkeypatch.delenv("RESNET_NAS_SERIAL_COMPILE")
    with pytest.raises(RuntimeError, match="XLA said no"):
        compile_together([lambda: None, broken])
