"""The TensorFlow trainer (trainer 'tf'; 'auto' on the TensorFlow backend): the model, Keras
optimizer, loss and batches of `fit`, run by two traced functions of its own.

Keras `fit` traces its train step inside its distribution-strategy, multi-step and metrics
machinery, and validates through `keras.Model.predict_on_batch` plus eager loss ops; on a small
network that costs more than the epochs it runs. On the quickstart's architectures a whole
trial, its first epoch and a steady epoch with its validation are each shorter here than with
`fit` (figures: experiments/RESULTS.md). The two functions:

- `train_step(x, y)`: forward in training mode; the loss as `fit` computes it (mean
  cross-entropy with label smoothing plus the model's L2 penalty, unless the optimizer decays
  weights decoupled), scaled for float16; the gradient; `optimizer.apply`; and the epoch's
  sums of loss and correct predictions kept in a variable, so an epoch moves nothing to the
  host until it ends;
- `eval_step(x, y, n)`: forward in inference mode, the sums of cross-entropy and correct
  predictions over the first n rows of a zero-padded batch.

Both take raw uint8 pixels (the model normalises them) and have fixed input signatures (one
trace each per model); the optimizer's slots exist before the first trace (a traced function
that creates variables is traced twice). The next batch is made on a helper thread while a
step runs (resnet_nas.input.feeds).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from resnet_nas.config import TrainConfig
from resnet_nas.input import EvalFeed, ahead, as_input
from resnet_nas.train.metrics import (STEP_REPORT_SECONDS, EpochMetrics, StepProgress,
                                      Stop, TrainResult, first_call_excess, outcome,
                                      steady_images_per_second, stop_after)
from resnet_nas.train.optim import (check_weight_decay, cross_entropy, make_optimizer,
                                    regularizers_disabled, uses_model_regularization)
from resnet_nas.train.runtime import check_precision, device_description


class Evaluator:
    """Cross-entropy and accuracy of `model` over an evaluation feed's fixed-size, zero-padded
    batches (one trace).

    Args:
      model: the Keras model (raw pixels in, logits out).
      feed: the split's EvalFeed (resnet_nas.input.feeds).
    """

    def __init__(self, model: Any, feed: EvalFeed):
        import tensorflow as tf

        self.feed = feed
        eb = feed.batch_size

        @tf.function(input_signature=[tf.TensorSpec((eb, *feed.image_shape), tf.uint8),
                                      tf.TensorSpec((eb,), tf.int32),
                                      tf.TensorSpec((), tf.int32)],
                     autograph=False)  # see _train_step
        def eval_step(xb, yb, k):
            logits = model(tf.cast(xb, tf.float32), training=False)
            valid = tf.range(eb) < k
            hits = tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), yb)
            loss = tf.where(valid, cross_entropy(yb, logits), 0.0)
            return tf.reduce_sum(loss), tf.reduce_sum(tf.cast(valid & hits, tf.float32))

        self._step = eval_step

    def warm_up(self) -> float:
        """Traces and runs the step once on a batch of zeros (no image counted); its
        seconds."""
        t0 = time.perf_counter()
        eb = self.feed.batch_size
        self._step(np.zeros((eb, *self.feed.image_shape), np.uint8), np.zeros(eb, np.int32),
                   np.int32(0))
        return time.perf_counter() - t0

    def __call__(self, batch_seconds: list[float] | None = None) -> tuple[float, float]:
        """(mean cross-entropy, accuracy); `batch_seconds` receives each batch's wall time."""
        loss = correct = 0.0
        n = 0
        for xb, yb, k in self.feed.batches():
            t0 = time.perf_counter()
            l_sum, c_sum = self._step(xb, yb, np.int32(k))
            loss += float(l_sum)
            correct += float(c_sum)
            n += k
            if batch_seconds is not None:
                batch_seconds.append(time.perf_counter() - t0)
        if n == 0:
            raise ValueError("evaluate: no readable image in the split")
        return loss / n, correct / n


def evaluate_tf(model: Any, feed: EvalFeed) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of `model` over an evaluation feed."""
    return Evaluator(model, feed)()


def _train_step(model: Any, optimizer: Any, cfg: TrainConfig, x_shape: tuple[int, ...],
                sums: Any) -> Callable[[np.ndarray, np.ndarray], Any]:
    import tensorflow as tf

    smoothing = cfg.label_smoothing
    bs = cfg.batch_size

    # No AutoGraph: the step has no Python control flow over tensors to convert (Keras calls
    # its own code unconverted either way), and converting the source lengthened the first
    # trace of each process (train step and evaluation): the first trial's, on the critical
    # path of every search (experiments/RESULTS.md, "Compile cost of a new architecture").
    @tf.function(input_signature=[tf.TensorSpec((bs, *x_shape), tf.uint8),
                                  tf.TensorSpec((bs,), tf.int32)],
                 autograph=False)
    def train_step(x, y):
        with tf.GradientTape() as tape:
            logits = model(tf.cast(x, tf.float32), training=True)
            loss = tf.reduce_mean(cross_entropy(y, logits, smoothing))
            penalties = model.losses  # empty while regularizers_disabled (AdamW)
            if penalties:
                loss = loss + tf.add_n([tf.cast(p, tf.float32) for p in penalties])
            scaled = optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        hits = tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), y)
        sums.assign_add(tf.stack([loss, tf.reduce_sum(tf.cast(hits, tf.float32))]))

    return train_step


class TfTraining:
    """One model's training on the TensorFlow backend, set up ahead of its epochs.

    Construction checks the inputs and builds the optimizer's slots, the feeds and the two
    traced functions. `warm_up` calls each once (the trace and TensorFlow's first run: the
    whole compile of a new architecture) and puts back every variable that call changed, so
    the epochs of `run` train exactly as they would without it. A trial process can so set up
    its next trial while the search still waits for the current one.

    Args:
      model: built Keras model (raw pixels in, logits out), built under cfg.precision's
        policy.
      data: the trainers' input (resnet_nas.input) or a resnet_nas.data.Dataset.
      cfg: the TrainConfig.
    """

    def __init__(self, model: Any, data: Any, cfg: TrainConfig):
        import tensorflow as tf

        cfg.validate()
        inp = as_input(data)
        inp.check(cfg)
        check_precision(model, cfg.precision)
        check_weight_decay(model, cfg)
        self.model, self.cfg = model, cfg
        # Epochs are numbered from 1, as fit's are: both train on the same batches.
        self.feed = inp.train_feed(cfg)
        self.steps = self.feed.steps
        self.optimizer = make_optimizer(cfg, self.steps, model)
        self.optimizer.build(model.trainable_variables)
        self.sums = tf.Variable(tf.zeros(2, tf.float32), trainable=False, name="epoch_sums")
        self.train_step = _train_step(model, self.optimizer, cfg, self.feed.image_shape,
                                      self.sums)
        self.evaluator = Evaluator(model, inp.eval_feed("val", cfg))
        #: the warm-up's step seconds and validation batch seconds (their first calls)
        self.warm_calls: tuple[float, list[float]] | None = None

    def _regularizers(self):
        return regularizers_disabled(self.model, not uses_model_regularization(self.cfg))

    def warm_up(self) -> float:
        """Runs the training step and the evaluation once each, then restores every variable
        the step changed; returns its seconds (0 when it ran already)."""
        if self.warm_calls is not None:
            return 0.0
        t0 = time.perf_counter()
        variables = [*self.model.variables, *self.optimizer.variables, self.sums]
        saved = [v.numpy() for v in variables]
        bs = self.cfg.batch_size
        with self._regularizers():  # the trace reads them
            # Zeros: the warm-up needs the shapes only (its changes are put back below).
            self.train_step(np.zeros((bs, *self.feed.image_shape), np.uint8),
                            np.zeros(bs, np.int32))
            step_seconds = time.perf_counter() - t0
            eval_seconds = [self.evaluator.warm_up()]
        for variable, value in zip(variables, saved):
            variable.assign(value)
        self.warm_calls = (step_seconds, eval_seconds)
        return time.perf_counter() - t0

    def run(self, on_epoch: Callable[[EpochMetrics], bool] | None = None,
            on_step: Callable[[StepProgress], None] | None = None) -> TrainResult:
        """Trains (warming up first, unless that was done ahead).

        Returns:
          TrainResult; the model holds the trained weights. Its compile_seconds is how much
          longer the warm-up's calls took than steady ones; with a warm-up done ahead,
          `ahead` is set and train_seconds holds only the epochs.
        """
        cfg, steps, feed, sums = self.cfg, self.steps, self.feed, self.sums
        set_up_ahead = self.warm_calls is not None
        warm_seconds = self.warm_up()
        images_per_epoch = steps * cfg.batch_size
        history: list[EpochMetrics] = []
        stop: Stop | None = None
        first_step, step_seconds = self.warm_calls[0], []  # epoch 1's steps: steady ones
        eval_batch_seconds = list(self.warm_calls[1])
        eval_seconds = 0.0
        with self._regularizers():
            for epoch in range(1, cfg.epochs + 1):
                sums.assign(np.zeros(2, np.float32))
                t0 = t_report = time.perf_counter()
                # The next batch is made on a helper thread while a step runs.
                for i, (x, y) in enumerate(ahead(feed.epoch(epoch))):
                    t_step = time.perf_counter()
                    self.train_step(x, y)
                    now = time.perf_counter()
                    if epoch == 1:
                        step_seconds.append(now - t_step)
                    if on_step is not None and now - t_report >= STEP_REPORT_SECONDS:
                        t_report = now
                        on_step(StepProgress.after(epoch, i + 1, steps, cfg.batch_size,
                                                   now - t0))
                loss_sum, correct = (float(v) for v in sums.numpy())
                t_trained = time.perf_counter()
                val_loss, val_acc = self.evaluator(eval_batch_seconds if epoch == 1 else None)
                t_end = time.perf_counter()
                eval_seconds += t_end - t_trained
                metrics = EpochMetrics(
                    epoch=epoch, train_loss=loss_sum / steps,
                    train_accuracy=correct / images_per_epoch, val_loss=val_loss,
                    val_accuracy=val_acc, seconds=t_end - t0,
                    images_per_second=images_per_epoch / max(t_trained - t0, 1e-9))
                history.append(metrics)
                stop = stop_after(metrics, on_epoch)
                if stop is not None:
                    break

        step_compile = first_call_excess([first_step, *step_seconds])
        eval_compile = first_call_excess(eval_batch_seconds)
        compile_seconds = (None if step_compile is None or eval_compile is None
                           else step_compile + eval_compile)
        return TrainResult(history=history, epochs_run=len(history), **outcome(stop),
                           train_seconds=warm_seconds + sum(m.seconds for m in history),
                           compile_seconds=compile_seconds,
                           images_per_second=steady_images_per_second(history), trainer="tf",
                           backend="tensorflow", device=device_description("tensorflow"),
                           eval_seconds=eval_seconds, ahead=set_up_ahead)


def train_tf(model: Any, data: Any, cfg: TrainConfig,
             on_epoch: Callable[[EpochMetrics], bool] | None = None,
             on_step: Callable[[StepProgress], None] | None = None) -> TrainResult:
    """Trains `model` with two traced TensorFlow functions (TensorFlow backend): the
    arguments and the result of resnet_nas.train.train_model, warmed up in turn."""
    return TfTraining(model, data, cfg).run(on_epoch, on_step)
