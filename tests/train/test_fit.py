"""The TensorFlow backend's trainers, its own loop ('tf', what 'auto' picks) and Keras
model.fit ('fit'), hold one contract; and evaluate()."""

from __future__ import annotations

import math

import numpy as np
import pytest

from resnet_nas.input import ArrayEvalFeed
from resnet_nas.train import evaluate, train_model
from tests.train.helpers import make_data, seeded_model, tiny_model, train_config


@pytest.fixture(scope="module")
def data():
    return make_data()


@pytest.fixture(params=["tf", "fit"])
def trainer(request):
    return request.param


def test_trains_reports_epochs_and_matches_evaluate(data, trainer):
    seen = []
    model = seeded_model()
    result = train_model(model, data, train_config(trainer=trainer),
                         on_epoch=lambda m: seen.append(m) or True)
    assert result.trainer == trainer and result.backend == "tensorflow"
    assert result.epochs_run == 2 and result.reason == "completed"
    assert [m.epoch for m in seen] == [1, 2] and seen == result.history
    last = result.history[-1]
    assert last.val_accuracy > 0.6 and last.train_loss < result.history[0].train_loss
    assert last.images_per_second > 0 and last.seconds > 0
    assert result.compile_seconds >= 0 and result.images_per_second == last.images_per_second
    loss, acc = evaluate(model, ArrayEvalFeed(data.x_val, data.y_val, train_config()))
    assert math.isclose(loss, last.val_loss, rel_tol=1e-4)
    assert math.isclose(acc, last.val_accuracy)


def test_trains_on_streamed_photos(tmp_path, trainer):
    from resnet_nas.config import DataConfig
    from resnet_nas.input import open_input
    from tests.data.helpers import make_photo_folder

    root = make_photo_folder(tmp_path / "p", n_train=12, n_test=2)
    inp = open_input(DataConfig(name="folder", path=str(root), cache_dir=str(tmp_path / "c"),
                                cache="none", validation_split=0.25), 0, (12, 12, 3))
    cfg = train_config(trainer=trainer, batch_size=8, eval_batch_size=8)
    model = seeded_model()
    result = train_model(model, inp, cfg)
    assert result.epochs_run == 2 and result.trainer == trainer
    loss, acc = evaluate(model, inp.eval_feed("val", cfg))
    assert math.isclose(loss, result.history[-1].val_loss, rel_tol=1e-4)
    assert math.isclose(acc, result.history[-1].val_accuracy)


def test_on_epoch_false_stops_training(data, trainer):
    result = train_model(seeded_model(), data, train_config(epochs=3, trainer=trainer),
                         on_epoch=lambda m: False)
    assert result.stopped_early and result.epochs_run == 1
    assert result.reason == "stopped by on_epoch at epoch 1"
    # One epoch still shows its compile: the first step and validation batch against steady ones.
    assert result.compile_seconds is not None and result.compile_seconds > 0
    assert 0 < result.eval_seconds and result.compile_seconds + result.eval_seconds \
        <= result.train_seconds
    # the epochs, and for tf its warm-up before them (the trace, as the JAX trainer's compile)
    epochs = sum(m.seconds for m in result.history)
    assert result.train_seconds >= epochs
    assert trainer == "tf" or math.isclose(result.train_seconds, epochs)


def test_exploding_loss_is_reported_as_diverged(data, trainer):
    calls = []
    cfg = train_config(epochs=3, learning_rate=1e6, warmup_epochs=0.0, optimizer="sgd", momentum=0.0,
               trainer=trainer)
    result = train_model(seeded_model(), data, cfg, on_epoch=lambda m: calls.append(m) or True)
    assert result.diverged and result.epochs_run == 1 and calls == []
    assert result.reason in ("diverged: train loss nan at epoch 1",
                             "diverged: train loss inf at epoch 1")


def test_adamw_leaves_the_l2_penalty_out_and_restores_regularizers(data, trainer):
    import keras

    def heavy():  # an L2 penalty of wd * sum(w^2) / 2 with wd = 10 dwarfs log(4) = 1.39
        keras.utils.set_random_seed(0)
        return tiny_model(weight_decay=10.0)

    model = heavy()
    regs = [v.regularizer for v in model.trainable_variables]
    adamw = train_model(model, data, train_config(optimizer="adamw", learning_rate=1e-3, epochs=1,
                                          label_smoothing=0.0, weight_decay=1e-4,
                                          trainer=trainer))
    assert [v.regularizer for v in model.trainable_variables] == regs
    adam = train_model(heavy(), data, train_config(optimizer="adam", learning_rate=1e-3, epochs=1,
                                           label_smoothing=0.0, weight_decay=10.0,
                                           trainer=trainer))
    assert adamw.history[0].train_loss < 2.0 < adam.history[0].train_loss


def test_bf16_policy_is_required_to_match_the_config(data, trainer):
    with pytest.raises(ValueError, match="precision_policy"):
        train_model(seeded_model(), data, train_config(precision="mixed_bfloat16", trainer=trainer))
    result = train_model(seeded_model("mixed_bfloat16"), data, train_config(precision="mixed_bfloat16",
                                                               epochs=1, trainer=trainer))
    assert math.isfinite(result.history[0].train_loss)


def test_bad_config_and_wrong_backend_raise_clear_errors(data):
    from resnet_nas.validation import ConfigError

    with pytest.raises(ValueError, match="'jax' needs the JAX backend"):
        train_model(seeded_model(), data, train_config(trainer="jax"))
    with pytest.raises(ConfigError, match="train.trainer"):
        train_model(seeded_model(), data, train_config(trainer="torch"))
    with pytest.raises(ConfigError, match="train.schedule"):
        train_model(seeded_model(), data, train_config(schedule="cosin"))


def test_weight_decay_mismatch_warns(data, trainer):
    with pytest.warns(UserWarning, match="weight_decay is 0.01"):
        train_model(seeded_model(), data, train_config(weight_decay=1e-2, epochs=1, trainer=trainer))


def test_evaluate_pads_the_last_batch(data):
    model = seeded_model()
    full = evaluate(model, ArrayEvalFeed(data.x_val, data.y_val, train_config(eval_batch_size=1000)))
    odd = evaluate(model, ArrayEvalFeed(data.x_val, data.y_val, train_config(eval_batch_size=7)))
    np.testing.assert_allclose(full, odd, rtol=1e-4)


def test_a_long_epoch_reports_its_progress(data, trainer, monkeypatch):
    from resnet_nas.train import fit, tf_loop

    module = {"fit": fit, "tf": tf_loop}[trainer]
    monkeypatch.setattr(module, "STEP_REPORT_SECONDS", 0.0)  # every step counts as long
    seen = []
    result = train_model(seeded_model(), data, train_config(epochs=2, trainer=trainer), on_step=seen.append)
    steps = seen[0].steps
    assert steps == len(data.x_train) // 32 and result.epochs_run == 2
    assert [p.step for p in seen if p.epoch == 1] == list(range(1, steps + 1))
    assert {p.epoch for p in seen} == {1, 2} and all(p.images_per_second > 0 for p in seen)
    assert seen[steps - 1].eta_seconds == 0.0


def test_fit_creates_no_variable_inside_a_traced_step(data):
    """Optimizer slots and metric state are built before fit: a tf.function that creates
    variables is traced twice, which doubled a small model's first epoch."""
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("tf.function tracing is the TensorFlow backend's")
    import tensorflow as tf

    inside = []

    def creator(next_creator, **kw):
        if tf.inside_function():
            inside.append(kw.get("name"))
        return next_creator(**kw)

    model = seeded_model()
    with tf.variable_creator_scope(creator):
        result = train_model(model, data, train_config(epochs=1, trainer="fit"))
    assert result.epochs_run == 1 and inside == []
    assert model.optimizer.built and model.optimizer.iterations.numpy() > 0
