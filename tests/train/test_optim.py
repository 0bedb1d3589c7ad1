"""Learning-rate schedules and the loss (resnet_nas.train.optim)."""

from __future__ import annotations

import numpy as np
import pytest

from resnet_nas.config import TrainConfig
from resnet_nas.train.optim import ScheduleSpec, learning_rate_at, schedule_spec


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

    from resnet_nas.train.optim import make_keras_schedule

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

    from resnet_nas.train.optim import cross_entropy

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
