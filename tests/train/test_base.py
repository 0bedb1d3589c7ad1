"""Shared trainer pieces: schedules, loss, numpy augmentation, checks, result types."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from resnet_nas.config import AugmentConfig, TrainConfig
from resnet_nas.train.base import (EpochMetrics, ScheduleSpec, TrainResult, check_dataset,
                                   crop_flip_numpy, finished_reason, learning_rate_at,
                                   random_augment_numpy, resolve_trainer, schedule_spec,
                                   steady_images_per_second, steps_per_epoch)
from tests.train.helpers import make_data

REPO = Path(__file__).resolve().parents[2]


# -- schedules --------------------------------------------------------------------------------
def test_cosine_warms_up_linearly_then_decays_to_zero():
    spec = ScheduleSpec("cosine", 0.4, total_steps=100, warmup_steps=10)
    lr = learning_rate_at(np.arange(100), spec)
    np.testing.assert_allclose(lr[:10], 0.4 * np.arange(1, 11) / 10)
    assert lr[10] == pytest.approx(0.4)
    assert np.all(np.diff(lr[10:]) < 0)
    assert lr[55] == pytest.approx(0.2)  # half way through the decay
    assert 0 < lr[-1] < 1e-3


def test_step_schedule_divides_by_ten_at_half_and_three_quarters():
    lr = learning_rate_at(np.arange(100), ScheduleSpec("step", 1.0, 100, 0))
    assert lr[49] == 1.0 and lr[50] == pytest.approx(0.1) and lr[74] == pytest.approx(0.1)
    assert lr[75] == pytest.approx(0.01) and lr[99] == pytest.approx(0.01)


def test_onecycle_ramps_for_30_percent_without_warmup_then_falls_linearly():
    spec = schedule_spec(TrainConfig(epochs=10, schedule="onecycle", learning_rate=1.0), 10)
    assert spec.warmup_steps == 30 and spec.total_steps == 100
    lr = learning_rate_at(np.arange(100), spec)
    assert int(np.argmax(lr)) == 29 and lr.max() == pytest.approx(1.0)
    np.testing.assert_allclose(np.diff(lr[30:]), -1.0 / 70, rtol=1e-6)


def test_constant_schedule_and_warmup_epochs_in_steps():
    spec = schedule_spec(TrainConfig(epochs=3, schedule="constant", learning_rate=0.1,
                                     warmup_epochs=0.5), 8)
    assert spec == ScheduleSpec("constant", 0.1, 24, 4)
    lr = learning_rate_at(np.arange(24), spec)
    np.testing.assert_allclose(lr, [0.025, 0.05, 0.075] + [0.1] * 21)


def test_keras_schedule_matches_numpy():
    from keras import ops

    from resnet_nas.train.base import make_keras_schedule

    spec = ScheduleSpec("cosine", 0.3, 50, 5)
    sched = make_keras_schedule(spec)
    got = [float(ops.convert_to_numpy(sched(s))) for s in (0, 4, 5, 20, 49)]
    np.testing.assert_allclose(got, learning_rate_at(np.array([0, 4, 5, 20, 49]), spec),
                               rtol=1e-5, atol=1e-7)
    assert sched.get_config() == {"kind": "cosine", "peak": 0.3, "total_steps": 50,
                                  "warmup_steps": 5}


# -- loss -------------------------------------------------------------------------------------
def test_cross_entropy_with_label_smoothing_matches_a_manual_computation():
    from keras import ops

    from resnet_nas.train.base import cross_entropy

    logits = np.array([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]], np.float32)
    labels = np.array([0, 1])
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    for eps in (0.0, 0.1):
        target = np.full_like(logp, eps / 3)
        target[np.arange(2), labels] += 1 - eps
        want = -(target * logp).sum(1)
        got = ops.convert_to_numpy(cross_entropy(labels, logits, eps))
        np.testing.assert_allclose(got, want, rtol=1e-5)
    # Keras may hand labels over as float (B, 1).
    got = ops.convert_to_numpy(cross_entropy(labels.reshape(2, 1).astype("float32"), logits))
    np.testing.assert_allclose(got, -logp[np.arange(2), labels], rtol=1e-5)


# -- augmentation -----------------------------------------------------------------------------
def test_crop_at_the_centre_without_flip_is_the_identity():
    x = np.random.default_rng(0).integers(0, 256, (3, 6, 5, 3), dtype=np.uint8)
    out = crop_flip_numpy(x, np.full((3, 2), 2), np.zeros(3, bool), 2, "reflect")
    np.testing.assert_array_equal(out, x)


def test_corner_crop_reflect_and_zero_padding_and_flip():
    x = np.arange(16, dtype=np.uint8).reshape(1, 4, 4, 1)
    top_left = crop_flip_numpy(x, np.zeros((1, 2), int), np.zeros(1, bool), 1, "reflect")
    # reflect padding of row [0 1 2 3] by one is [1 0 1 2 3 2]; the crop keeps [1 0 1 2].
    np.testing.assert_array_equal(top_left[0, 1, :, 0], [1, 0, 1, 2])
    np.testing.assert_array_equal(top_left[0, 0, :, 0], [5, 4, 5, 6])  # reflected row 1
    zero = crop_flip_numpy(x, np.zeros((1, 2), int), np.zeros(1, bool), 1, "zero")
    assert zero[0, 0].sum() == 0 and zero[0, :, 0].sum() == 0
    np.testing.assert_array_equal(zero[0, 1:, 1:, 0], x[0, :3, :3, 0])
    flipped = crop_flip_numpy(x, np.zeros((1, 2), int), np.ones(1, bool), 0, "reflect")
    np.testing.assert_array_equal(flipped[0, :, :, 0], x[0, :, ::-1, 0])


def test_random_augmentation_draws_per_example():
    x = np.repeat(np.random.default_rng(1).integers(0, 256, (1, 8, 8, 3), dtype=np.uint8), 64, 0)
    out = random_augment_numpy(x, np.random.default_rng(0), AugmentConfig(4, True))
    assert len({img.tobytes() for img in out}) > 20
    same = random_augment_numpy(x, np.random.default_rng(0), AugmentConfig(0, False))
    assert same is x


def test_per_batch_augmentation_moves_every_example_alike():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (8, 8, 8, 3), dtype=np.uint8)
    cfg = AugmentConfig(4, True, per_example=False)
    seen = set()
    for seed in range(12):
        out = random_augment_numpy(x, np.random.default_rng(seed), cfg)
        # One offset and one flip for the batch: the batch equals one crop_flip of all of it.
        matches = [(r, c, f) for r in range(9) for c in range(9) for f in (False, True)
                   if np.array_equal(out, crop_flip_numpy(x, np.full((8, 2), (r, c)),
                                                          np.full(8, f), 4, "reflect"))]
        assert matches, "the batch was not moved by one shared offset/flip"
        seen.add(matches[0])
    assert len(seen) > 3  # ... and the shared draw changes between batches


# -- checks -----------------------------------------------------------------------------------
def test_steps_per_epoch_drops_the_ragged_batch_and_rejects_a_too_large_batch():
    assert steps_per_epoch(100, 32) == 3
    with pytest.raises(ValueError, match="batch_size.*at most the 10 training examples"):
        steps_per_epoch(10, 32)


def test_check_dataset_names_the_bad_field():
    data = make_data(n_train=64, n_val=16)
    cfg = TrainConfig(batch_size=16)
    check_dataset(data, cfg)
    data.x_val = data.x_val.astype(np.float32)
    with pytest.raises(ValueError, match="x_val: expected uint8 NHWC"):
        check_dataset(data, cfg)
    data = make_data(n_train=64, n_val=16)
    data.y_train = data.y_train + 10
    with pytest.raises(ValueError, match=r"y_train: expected labels in \[0, 4\)"):
        check_dataset(data, cfg)
    data = make_data(n_train=64, n_val=16, size=4)
    with pytest.raises(ValueError, match="reflect padding"):
        check_dataset(data, TrainConfig(batch_size=16, augment=AugmentConfig(crop_padding=4)))


def test_resolve_trainer():
    assert resolve_trainer(TrainConfig(trainer="auto"), "jax") == "jax"
    assert resolve_trainer(TrainConfig(trainer="auto"), "tensorflow") == "fit"
    assert resolve_trainer(TrainConfig(trainer="fit"), "jax") == "fit"
    with pytest.raises(ValueError, match="'jax' needs the JAX backend"):
        resolve_trainer(TrainConfig(trainer="jax"), "torch")


def test_result_types_and_summaries():
    rows = [EpochMetrics(i, 1.0, 0.5, 1.0, 0.5, 1.0, ips) for i, ips in ((1, 10.0), (2, 30.0),
                                                                        (3, 50.0))]
    assert steady_images_per_second(rows) == 40.0
    assert steady_images_per_second(rows[:1]) == 10.0
    assert math.isnan(steady_images_per_second([]))
    r = TrainResult(rows, 3, False, False, "completed", 3.0, 1.0, 40.0, "fit", "tensorflow",
                    "cpu")
    assert r.to_dict()["history"][1]["images_per_second"] == 30.0 and r.final is rows[-1]
    assert finished_reason(2, float("nan")) == "diverged: train loss nan at epoch 2"
    assert finished_reason(2, float("inf")) == "diverged: train loss inf at epoch 2"
    assert finished_reason(2, 0.3) is None


def test_importing_the_package_does_not_import_keras():
    code = ("import sys, resnet_nas.train, resnet_nas.train.recipes; "
            "print('keras' in sys.modules, 'jax' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == ["False", "False"]
