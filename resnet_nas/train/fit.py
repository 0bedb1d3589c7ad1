"""Keras `model.compile` + `model.fit`, on any backend (trainer 'fit').

Batches come from the input's training feed (resnet_nas.input: the TensorFlow loop's too),
as a generator of every epoch's batches. Validation runs through `evaluate_keras` after each
epoch (plain cross-entropy, fixed-size padded batches), so every trainer reports the same
quantities.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from resnet_nas.config import TrainConfig
from resnet_nas.input import EvalFeed, TrainFeed, as_input
from resnet_nas.train.metrics import (STEP_REPORT_SECONDS, EpochMetrics, StepProgress,
                                      TrainResult, first_call_excess,
                                      steady_images_per_second, stop_after)
from resnet_nas.train.optim import (check_weight_decay, cross_entropy, make_optimizer,
                                    regularizers_disabled, uses_model_regularization)
from resnet_nas.train.runtime import check_precision, device_description


def evaluate_keras(model: Any, feed: EvalFeed,
                   batch_seconds: list[float] | None = None) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) with `model.predict_on_batch` over an evaluation feed's
    fixed-size batches (one shape for the backend to compile). `batch_seconds`, when given,
    receives each batch's wall time (the first holds the predict function's trace and
    compile)."""
    from keras import ops

    loss_sum = 0.0
    correct = 0
    n = 0
    for xb, yb, k in feed.batches():
        t0 = time.perf_counter()
        logits = np.asarray(model.predict_on_batch(xb.astype(np.float32)), np.float32)[:k]
        yb = yb[:k]
        loss_sum += float(np.sum(ops.convert_to_numpy(cross_entropy(yb, logits))))
        correct += int(np.sum(np.argmax(logits, axis=-1) == yb))
        n += k
        if batch_seconds is not None:
            batch_seconds.append(time.perf_counter() - t0)
    if n == 0:
        raise ValueError("evaluate: no readable image in the split")
    return loss_sum / n, correct / n


def _all_epochs(feed: TrainFeed, epochs: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    for epoch in range(1, epochs + 1):
        for x, y in feed.epoch(epoch):
            yield x.astype(np.float32), y


def build_training_state(model: Any, batch: tuple[np.ndarray, np.ndarray]) -> None:
    """Creates the optimizer's slots and the metrics' state before `fit`, eagerly.

    Without a distribution strategy, Keras on TensorFlow creates them inside the first traced
    train step, and a tf.function that creates variables is traced a second time without
    them: building them first shortens the train step's trace, the bulk of a small model's
    first epoch (figures: experiments/RESULTS.md).
    """
    model.optimizer.build(model.trainable_variables)
    x, y = batch
    model.compute_metrics(x[:1], y[:1], model(x[:1], training=False))
    model.reset_metrics()


def train_fit(model: Any, data: Any, cfg: TrainConfig,
              on_epoch: Callable[[EpochMetrics], bool] | None = None,
              on_step: Callable[[StepProgress], None] | None = None) -> TrainResult:
    """Trains `model` with Keras model.fit (TensorFlow, torch or JAX backend).

    Args:
      model: built Keras model (raw pixels in, logits out), built under cfg.precision's
        policy.
      data: the trainers' input (resnet_nas.input) or a resnet_nas.data.Dataset.
      cfg: the TrainConfig.
      on_epoch: called after each epoch; returning False stops training.
      on_step: called inside an epoch every STEP_REPORT_SECONDS with its progress.

    Returns:
      TrainResult; `model` holds the trained weights and stays compiled.
    """
    import keras

    cfg.validate()
    inp = as_input(data)
    inp.check(cfg)
    check_precision(model, cfg.precision)
    check_weight_decay(model, cfg)
    backend = keras.backend.backend()
    feed = inp.train_feed(cfg)
    val_feed = inp.eval_feed("val", cfg)
    steps = feed.steps
    images_per_epoch = steps * cfg.batch_size
    smoothing = cfg.label_smoothing

    def loss(y_true, y_pred):
        return cross_entropy(y_true, y_pred, smoothing)

    model.compile(optimizer=make_optimizer(cfg, steps, model), loss=loss,
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    zeros = np.zeros((cfg.batch_size, *feed.image_shape), np.float32)
    build_training_state(model, (zeros, np.zeros(cfg.batch_size, np.int32)))
    history: list[EpochMetrics] = []
    state = {"stopped_early": False, "diverged": False, "reason": "completed"}
    # Epoch 1's step-end and validation-batch times: their first calls hold the trace/compile.
    step_ends: list[tuple[int, float]] = []
    eval_batch_seconds: list[float] = []
    eval_seconds = [0.0]

    class Reporter(keras.callbacks.Callback):
        # Keras may then run batch hooks on a helper thread (each once its step's logs are
        # ready) instead of waiting for every step in the training loop; epoch hooks still
        # run after every batch hook of the epoch.
        async_safe = True

        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = self.t_report = time.perf_counter()
            if not history:
                self.t_first_epoch = self.t0

        def on_train_batch_end(self, batch, logs=None):
            now = time.perf_counter()
            if not history:
                step_ends.append((batch, now))
            if on_step is not None and now - self.t_report >= STEP_REPORT_SECONDS:
                self.t_report = now
                on_step(StepProgress.after(len(history) + 1, batch + 1, steps, cfg.batch_size,
                                           now - self.t0))

        def on_epoch_end(self, epoch, logs=None):
            t_trained = time.perf_counter()
            logs = logs or {}
            timings = eval_batch_seconds if not history else None
            val_loss, val_acc = evaluate_keras(self.model, val_feed, timings)
            if timings is not None and len(timings) == 1:
                # One validation batch: time it once more for a steady call to compare with.
                evaluate_keras(self.model, val_feed, timings)
            t_end = time.perf_counter()
            eval_seconds[0] += t_end - t_trained
            metrics = EpochMetrics(
                epoch=epoch + 1,
                train_loss=float(logs.get("loss", float("nan"))),
                train_accuracy=float(logs.get("accuracy", float("nan"))),
                val_loss=val_loss, val_accuracy=val_acc, seconds=t_end - self.t0,
                images_per_second=images_per_epoch / max(t_trained - self.t0, 1e-9))
            history.append(metrics)
            stop = stop_after(metrics, on_epoch)
            if stop is not None:
                state.update(diverged=stop.diverged, stopped_early=not stop.diverged,
                             reason=stop.reason)
                self.model.stop_training = True

    with regularizers_disabled(model, not uses_model_regularization(cfg)):
        reporter = Reporter()
        model.fit(_all_epochs(feed, cfg.epochs), epochs=cfg.epochs, steps_per_epoch=steps,
                  verbose=0, shuffle=False, callbacks=[reporter])

    train_seconds = sum(m.seconds for m in history)
    ends = [t for _, t in sorted(step_ends)]  # hooks may have run out of order
    step_compile = first_call_excess(list(np.diff([reporter.t_first_epoch, *ends])))
    eval_compile = first_call_excess(eval_batch_seconds)
    compile_seconds = (None if step_compile is None or eval_compile is None
                       else step_compile + eval_compile)
    return TrainResult(history=history, epochs_run=len(history),
                       stopped_early=state["stopped_early"], diverged=state["diverged"],
                       reason=state["reason"], train_seconds=train_seconds,
                       compile_seconds=compile_seconds,
                       images_per_second=steady_images_per_second(history), trainer="fit",
                       backend=backend, device=device_description(backend),
                       eval_seconds=max(0.0, eval_seconds[0] - (eval_compile or 0.0)))
