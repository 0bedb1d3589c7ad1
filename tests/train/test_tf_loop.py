"""The TensorFlow trainer ('tf'): the numbers of Keras fit, from one trace per function."""

from __future__ import annotations

import numpy as np
import pytest

from resnet_nas.train import train_model
from resnet_nas.train.runtime import resolve_trainer
from tests.train.helpers import make_data, seeded_model, train_config


@pytest.fixture(scope="module")
def data():
    return make_data()


@pytest.fixture(autouse=True)
def tensorflow_backend():
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("the tf trainer is the TensorFlow backend's")


def test_auto_is_tf_on_tensorflow_and_tf_needs_it():
    assert resolve_trainer(train_config(), "tensorflow") == "tf"
    assert resolve_trainer(train_config(), "jax") == "jax"
    assert resolve_trainer(train_config(), "torch") == "fit"
    assert resolve_trainer(train_config(trainer="fit"), "tensorflow") == "fit"
    with pytest.raises(ValueError, match="'tf' needs the TensorFlow backend"):
        resolve_trainer(train_config(trainer="tf"), "jax")


@pytest.mark.parametrize("optimizer", ["nesterov", "adamw"])
def test_the_same_training_as_fit(data, optimizer):
    """Same model, optimizer, loss and batches: the same history and weights as model.fit."""
    cfg = train_config(optimizer=optimizer, learning_rate=0.1 if optimizer == "nesterov" else 3e-3)
    runs = {}
    for trainer in ("fit", "tf"):
        model = seeded_model()
        result = train_model(model, data, train_config(**{**cfg.to_dict(), "trainer": trainer,
                                                   "augment": cfg.augment}))
        runs[trainer] = (result, model.get_weights())
    (fit, w_fit), (tf, w_tf) = runs["fit"], runs["tf"]
    assert tf.trainer == "tf" and fit.trainer == "fit" and tf.epochs_run == fit.epochs_run == 2
    for a, b in zip(fit.history, tf.history):
        np.testing.assert_allclose([b.train_loss, b.val_loss], [a.train_loss, a.val_loss],
                                   rtol=1e-5)
        np.testing.assert_allclose([b.train_accuracy, b.val_accuracy],
                                   [a.train_accuracy, a.val_accuracy], atol=1e-6)
    for a, b in zip(w_fit, w_tf):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)


def test_each_function_is_traced_once_and_creates_no_variable(data, monkeypatch):
    import tensorflow as tf

    from resnet_nas.train import tf_loop

    made = []
    original = tf_loop._train_step

    def spy(*args, **kw):
        made.append(original(*args, **kw))
        return made[-1]

    monkeypatch.setattr(tf_loop, "_train_step", spy)
    inside = []

    def creator(next_creator, **kw):
        if tf.inside_function():
            inside.append(kw.get("name"))
        return next_creator(**kw)

    with tf.variable_creator_scope(creator):
        result = train_model(seeded_model(), data, train_config(epochs=3))
    assert result.epochs_run == 3 and inside == []
    assert len(made) == 1 and made[0].experimental_get_tracing_count() == 1


def test_float16_scales_the_loss(data):
    result = train_model(seeded_model("mixed_float16"), data, train_config(precision="mixed_float16"))
    assert result.epochs_run == 2 and np.isfinite(result.history[-1].train_loss)
    assert result.history[-1].train_loss < result.history[0].train_loss


def test_a_warm_up_done_ahead_changes_nothing_but_the_time(data):
    """The warm-up runs a real step and puts every variable back: the same training after."""
    from resnet_nas.train.tf_loop import TfTraining

    cold_model = seeded_model()
    cold = TfTraining(cold_model, data, train_config(epochs=2)).run()
    warm_model = seeded_model()
    training = TfTraining(warm_model, data, train_config(epochs=2))
    seconds = training.warm_up()
    warm = training.run()
    assert seconds > 0 and training.warm_up() == 0.0  # once
    assert warm.ahead and not cold.ahead
    assert [m.train_loss for m in warm.history] == [m.train_loss for m in cold.history]
    assert [m.val_loss for m in warm.history] == [m.val_loss for m in cold.history]
    for a, b in zip(cold_model.get_weights(), warm_model.get_weights()):
        np.testing.assert_array_equal(a, b)
    # done ahead, the compile is not part of the training's seconds; measured all the same
    assert warm.compile_seconds > 0
    assert warm.train_seconds == pytest.approx(sum(m.seconds for m in warm.history))
    assert cold.train_seconds > sum(m.seconds for m in cold.history)
