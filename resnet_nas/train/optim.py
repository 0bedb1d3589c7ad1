"""What a trainer optimises: learning-rate schedules, the loss, the optimizer and weight decay.

Schedules are plain functions of the step (numpy or keras.ops), so the numbers a test checks are
the numbers the optimizer uses; everything that needs Keras imports it inside the function.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from resnet_nas.config import TrainConfig

# Step schedule: the learning rate is divided by 10 at these fractions of training. TrainConfig
# has no field for the boundaries, so they are fixed (the classic He et al. CIFAR recipe).
STEP_BOUNDARIES = (0.5, 0.75)


STEP_FACTOR = 0.1


# One-cycle: when warmup_epochs is 0, the ramp up takes this fraction of training.
ONECYCLE_RAMP_FRACTION = 0.3


@dataclass(frozen=True)
class ScheduleSpec:
    """A learning-rate schedule in steps.

    Attributes:
      kind: 'cosine' | 'constant' | 'onecycle' | 'step'.
      peak: the peak learning rate.
      total_steps: steps of the whole run.
      warmup_steps: linear warm-up steps (0 = none; onecycle then ramps for 30% of the run).
    """

    kind: str
    peak: float
    total_steps: int
    warmup_steps: int = 0


def schedule_spec(cfg: TrainConfig, steps_per_epoch: int) -> ScheduleSpec:
    """The ScheduleSpec of `cfg` for `steps_per_epoch` steps per epoch."""
    total = cfg.epochs * steps_per_epoch
    warmup = int(round(cfg.warmup_epochs * steps_per_epoch))
    if cfg.schedule == "onecycle" and warmup == 0:
        warmup = max(1, int(round(ONECYCLE_RAMP_FRACTION * total)))
    return ScheduleSpec(cfg.schedule, float(cfg.learning_rate), max(1, total),
                        min(warmup, max(1, total)))


def learning_rate_at(step: Any, spec: ScheduleSpec, xp: Any = np) -> Any:
    """Learning rate at 0-based global `step` (scalar or array).

    Works with numpy (xp=np) and inside a traced Keras/JAX function (xp=keras.ops), so the
    numbers a test checks are the numbers the optimizer uses.

    Warm-up is linear, (step + 1) / warmup_steps * peak, so the first step already moves.
    After it: cosine decays to 0 at total_steps; onecycle decays linearly to 0; step divides
    by 10 at 50% and 75% of total_steps; constant stays at the peak.
    """
    s = step
    warm_n = float(max(spec.warmup_steps, 1))
    span = float(max(spec.total_steps - spec.warmup_steps, 1))
    progress = xp.clip((s - spec.warmup_steps) / span, 0.0, 1.0)
    if spec.kind == "cosine":
        decay = 0.5 * (1.0 + xp.cos(math.pi * progress))
    elif spec.kind == "onecycle":
        decay = 1.0 - progress
    elif spec.kind == "step":
        b1, b2 = (b * spec.total_steps for b in STEP_BOUNDARIES)
        decay = xp.where(s >= b2, STEP_FACTOR**2, xp.where(s >= b1, STEP_FACTOR, 1.0))
    elif spec.kind == "constant":
        decay = xp.ones_like(progress)
    else:
        raise ValueError(f"schedule: expected one of cosine, constant, onecycle, step, "
                         f"found {spec.kind!r}")
    if spec.warmup_steps > 0:
        warm = xp.minimum((s + 1.0) / warm_n, 1.0)
        decay = xp.where(s < spec.warmup_steps, warm, decay)
    return spec.peak * decay


@functools.cache
def _keras_schedule_class() -> type:
    """Defines (once per process) the Keras LearningRateSchedule wrapping learning_rate_at."""
    import keras

    @keras.saving.register_keras_serializable(package="resnet_nas")
    class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
        """Keras schedule for a ScheduleSpec (warm-up + cosine/onecycle/step/constant)."""

        def __init__(self, kind: str, peak: float, total_steps: int, warmup_steps: int = 0):
            self.spec = ScheduleSpec(kind, float(peak), int(total_steps), int(warmup_steps))

        def __call__(self, step):
            ops = keras.ops
            return learning_rate_at(ops.cast(step, "float32"), self.spec, ops)

        def get_config(self) -> dict[str, Any]:
            return asdict(self.spec)

    return WarmupSchedule


def make_keras_schedule(spec: ScheduleSpec) -> Any:
    """A keras LearningRateSchedule (serializable as 'resnet_nas>WarmupSchedule')."""
    return _keras_schedule_class()(**asdict(spec))


def register_keras_objects() -> None:
    """Registers the custom Keras objects, so a saved compiled model can be reloaded."""
    _keras_schedule_class()


def cross_entropy(labels: Any, logits: Any, label_smoothing: float = 0.0) -> Any:
    """Per-example softmax cross-entropy from logits, in float32, with label smoothing.

    Uses keras.ops, so it runs on every backend and inside a jitted JAX function. With
    smoothing e, the target is (1 - e) one-hot + e / num_classes uniform.

    Args:
      labels: integer class ids, shape (B,) or (B, 1) (Keras may hand them over as floats).
      logits: (B, num_classes).
      label_smoothing: e in [0, 1).

    Returns:
      (B,) float32 losses.
    """
    from keras import ops

    logits = ops.cast(logits, "float32")
    labels = ops.reshape(ops.cast(labels, "int32"), (-1, 1))
    logp = ops.log_softmax(logits, axis=-1)
    nll = -ops.take_along_axis(logp, labels, axis=-1)[:, 0]
    if label_smoothing > 0.0:
        nll = (1.0 - label_smoothing) * nll - label_smoothing * ops.mean(logp, axis=-1)
    return nll


def uses_model_regularization(cfg: TrainConfig) -> bool:
    """AdamW replaces the model's L2 penalty by decoupled decay; the others add it to the loss."""
    return cfg.optimizer != "adamw"


def make_optimizer(cfg: TrainConfig, steps_per_epoch: int, model: Any = None) -> Any:
    """The Keras optimizer of `cfg`, with its learning-rate schedule.

    'adamw' decays weights decoupled from the gradient by cfg.weight_decay (Keras AdamW units:
    w -= lr * weight_decay * w per step), only on the variables that carry a regularizer in
    `model` (conv kernels, as slim), and the trainers then leave the model's L2 penalty out
    of the loss. 'mixed_float16' wraps the optimizer in a LossScaleOptimizer.
    """
    import keras

    lr = make_keras_schedule(schedule_spec(cfg, steps_per_epoch))
    if cfg.optimizer in ("sgd", "nesterov"):
        opt = keras.optimizers.SGD(learning_rate=lr, momentum=cfg.momentum,
                                   nesterov=cfg.optimizer == "nesterov")
    elif cfg.optimizer == "adam":
        opt = keras.optimizers.Adam(learning_rate=lr)
    elif cfg.optimizer == "adamw":
        opt = keras.optimizers.AdamW(learning_rate=lr, weight_decay=cfg.weight_decay)
        if model is not None:
            plain = [v for v in model.trainable_variables
                     if getattr(v, "regularizer", None) is None]
            if len(plain) < len(model.trainable_variables):
                opt.exclude_from_weight_decay(var_list=plain)
    else:
        raise ValueError(f"optimizer: expected one of sgd, nesterov, adam, adamw, "
                         f"found {cfg.optimizer!r}")
    if cfg.precision == "mixed_float16":
        opt = keras.optimizers.LossScaleOptimizer(opt)
    return opt


def check_weight_decay(model: Any, cfg: TrainConfig) -> str | None:
    """Warns (and returns the message) when the model's L2 regularizers imply another slim
    weight decay than cfg.weight_decay: the model, not the trainer, applies it, so a mismatch
    means the builder got a different ResNetConfig.weight_decay. AdamW is exempt (it uses
    cfg.weight_decay as its decoupled decay)."""
    import warnings

    if cfg.optimizer == "adamw":
        return None
    implied = set()
    for v in model.trainable_variables:
        l2 = getattr(getattr(v, "regularizer", None), "l2", None)
        if l2 is not None:
            implied.add(2.0 * float(l2))  # Keras L2(l) = slim l2_regularizer(2 l)
    msg = None
    if implied and not any(math.isclose(w, cfg.weight_decay, rel_tol=1e-5) for w in implied):
        msg = (f"train.weight_decay is {cfg.weight_decay} but the model's L2 regularizers "
               f"apply {sorted(implied)} (slim units); the model's values are used")
    elif not implied and cfg.weight_decay > 0:
        msg = (f"train.weight_decay is {cfg.weight_decay} but the model has no L2 "
               f"regularizers; no weight decay is applied")
    if msg:
        warnings.warn(msg, UserWarning, stacklevel=3)
    return msg


@contextlib.contextmanager
def regularizers_disabled(model: Any, disable: bool = True) -> Iterator[None]:
    """Temporarily removes the variables' regularizers (AdamW uses decoupled decay instead)."""
    saved = []
    if disable:
        for v in model.trainable_variables:
            if getattr(v, "regularizer", None) is not None:
                saved.append((v, v.regularizer))
                v.regularizer = None
    try:
        yield
    finally:
        for v, reg in saved:
            v.regularizer = reg
