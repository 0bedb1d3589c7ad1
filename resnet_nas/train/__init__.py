"""Trainers: train one Keras model on one data set, report per-epoch metrics.

    from resnet_nas.input import open_input
    from resnet_nas.train import train_model, evaluate, precision_policy
    inp = open_input(data_cfg, seed, arch.input_shape)      # or a Dataset
    with precision_policy(cfg.precision):
        model = build_model(arch, config=ResNetConfig(...), normalization=inp.normalization)
    result = train_model(model, inp, cfg, on_epoch=lambda m: m.val_accuracy > 0.2)
    test_loss, test_accuracy = evaluate(model, inp.eval_feed("test", cfg))

cfg.trainer picks the implementation: 'jax' (resnet_nas.train.jax_scan: whole epochs in one
jitted scan, data and augmentation on the device), 'tf' (resnet_nas.train.tf_loop: a traced
step and a traced evaluation of its own, on the TensorFlow backend), 'fit'
(resnet_nas.train.fit: Keras model.fit on any backend), or 'auto' (jax on the JAX backend, tf
on TensorFlow, else fit).

Importing this package does not import Keras; the functions do, when called.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from resnet_nas.config import TrainConfig
from resnet_nas.input import EvalFeed
from resnet_nas.train.metrics import EpochMetrics, StepProgress, TrainResult
from resnet_nas.train.optim import learning_rate_at, schedule_spec
from resnet_nas.train.runtime import (check_precision, precision_policy, release_memory,
                                      resolve_trainer)


def train_model(model: Any, data: Any, cfg: TrainConfig,
                on_epoch: Callable[[EpochMetrics], bool] | None = None,
                on_step: Callable[[StepProgress], None] | None = None) -> TrainResult:
    """Trains `model` on `data` as `cfg` says.

    Args:
      model: a built Keras model taking raw pixels (0-255; build_model with the input's
        `normalization` normalises them in its first layer) and returning logits; its L2
        weight decay is in its kernel regularizers. Build it under
        precision_policy(cfg.precision).
      data: the trainers' input (resnet_nas.input.open_input: in memory or streamed), or a
        resnet_nas.data.Dataset (uint8 NHWC x_train/x_val, int labels, num_classes).
      cfg: the TrainConfig (validated here).
      on_epoch: called after each epoch with its EpochMetrics; returning False stops
        training (pruning). Not called for an epoch whose training loss diverged.
      on_step: called inside long epochs (every few seconds) with a StepProgress: by `fit`,
        and by the JAX trainer in its loop mode (the default on CPU). Its scan mode (GPUs)
        runs an epoch as one compiled call and reports per epoch only: a host callback
        inside the scan puts the callback's address into the executable's cache key, so
        JAX's persistent cache would miss in every new process.

    Returns:
      TrainResult. The trained weights are in `model`.

    Raises:
      ConfigError: cfg is invalid.
      ValueError: trainer 'jax' without the JAX backend, a precision mismatch between cfg and
        model, or data the trainer cannot use.
    """
    cfg.validate()
    trainer = resolve_trainer(cfg)
    if trainer == "jax":
        from resnet_nas.train.jax_scan import train_jax

        return train_jax(model, data, cfg, on_epoch, on_step)
    if trainer == "tf":
        from resnet_nas.train.tf_loop import train_tf

        return train_tf(model, data, cfg, on_epoch, on_step)
    from resnet_nas.train.fit import train_fit

    return train_fit(model, data, cfg, on_epoch, on_step)


class _Deferred:
    """A trainer without a set-up of its own to do ahead: `run` trains as train_model does."""

    def __init__(self, model: Any, data: Any, cfg: TrainConfig):
        self.model, self.data, self.cfg = model, data, cfg

    def warm_up(self) -> float:
        return 0.0

    def run(self, on_epoch: Callable[[EpochMetrics], bool] | None = None,
            on_step: Callable[[StepProgress], None] | None = None) -> TrainResult:
        return train_model(self.model, self.data, self.cfg, on_epoch, on_step)


def prepare_training(model: Any, data: Any, cfg: TrainConfig) -> Any:
    """`model`'s training on `data`, set up to `run(on_epoch, on_step)` later.

    Its `warm_up()` does ahead what the first epoch would otherwise do first, and returns its
    seconds: the TensorFlow trainer's trace and first run of its two functions; the other
    trainers have nothing to do ahead yet (0.0). Arguments as train_model's.
    """
    cfg.validate()
    if resolve_trainer(cfg) == "tf":
        from resnet_nas.train.tf_loop import TfTraining

        return TfTraining(model, data, cfg)
    return _Deferred(model, data, cfg)


def evaluate(model: Any, feed: EvalFeed) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of `model` over an evaluation feed (the input's
    `eval_feed('test', cfg)`, or resnet_nas.input.ArrayEvalFeed(x, y, cfg) of arrays), with
    the active backend's evaluator."""
    from resnet_nas.train.runtime import active_backend

    backend = active_backend()
    if backend == "jax":
        from resnet_nas.train.jax_scan import evaluate_jax

        return evaluate_jax(model, feed)
    if backend == "tensorflow":
        from resnet_nas.train.tf_loop import evaluate_tf

        return evaluate_tf(model, feed)
    from resnet_nas.train.fit import evaluate_keras

    return evaluate_keras(model, feed)


__all__ = ["EpochMetrics", "StepProgress", "TrainResult", "train_model", "prepare_training",
           "evaluate", "release_memory", "precision_policy", "check_precision",
           "learning_rate_at", "schedule_spec"]
