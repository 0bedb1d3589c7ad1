"""Shared pieces of the trainers: result types, learning-rate schedules, loss, optimizer,
numpy augmentation and small helpers.

Plain data and numpy live at module level; everything that needs Keras imports it inside the
function, so the search process can import the result types without paying for a backend.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np

from resnet_nas.config import AugmentConfig, TrainConfig

# Step schedule: the learning rate is divided by 10 at these fractions of training. TrainConfig
# has no field for the boundaries, so they are fixed (the classic He et al. CIFAR recipe).
STEP_BOUNDARIES = (0.5, 0.75)
STEP_FACTOR = 0.1
# One-cycle: when warmup_epochs is 0, the ramp up takes this fraction of training.
ONECYCLE_RAMP_FRACTION = 0.3


# ---------------------------------------------------------------------------------------------
# Result types.
@dataclass
class EpochMetrics:
    """Metrics of one epoch.

    Attributes:
      epoch: 1-based epoch number.
      train_loss: mean over the epoch's steps of the optimised objective (cross-entropy with
        label smoothing, plus the model's L2 penalty unless the optimizer is AdamW).
      train_accuracy: accuracy on the augmented training batches, in training mode.
      val_loss: plain cross-entropy (no smoothing, no L2) on the validation split.
      val_accuracy: accuracy on the validation split.
      seconds: wall time of the epoch, training and validation together.
      images_per_second: training images per second of training time (validation excluded).
    """

    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    seconds: float
    images_per_second: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainResult:
    """Outcome of one `train_model` call.

    Attributes:
      history: one EpochMetrics per epoch run (a diverged epoch is included).
      epochs_run: len(history).
      stopped_early: on_epoch returned False (pruned).
      diverged: the training loss became NaN or infinite.
      reason: 'completed', 'stopped by on_epoch at epoch K' or
        'diverged: train loss nan at epoch K'.
      train_seconds: wall time of all epochs (compilation excluded where it is measured apart).
      compile_seconds: time spent compiling (JAX: ahead-of-time compile of the train and eval
        functions; fit: first epoch minus a steady epoch, NaN with a single epoch).
      images_per_second: training throughput after compilation (mean over epochs 2..N, or
        epoch 1 when only one epoch ran).
      trainer: 'jax' or 'fit'.
      backend: the active Keras backend.
      device: what ran it, e.g. 'NVIDIA H100 80GB HBM3' or 'cpu'.
    """

    history: list[EpochMetrics]
    epochs_run: int
    stopped_early: bool
    diverged: bool
    reason: str
    train_seconds: float
    compile_seconds: float
    images_per_second: float
    trainer: str
    backend: str
    device: str

    @property
    def final(self) -> EpochMetrics | None:
        return self.history[-1] if self.history else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class DatasetLike(Protocol):
    """What the trainers read from resnet_nas.data.Dataset (duck typed)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    num_classes: int


# ---------------------------------------------------------------------------------------------
# Learning-rate schedules.
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


# ---------------------------------------------------------------------------------------------
# Loss, optimizer, precision.
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


@contextlib.contextmanager
def precision_policy(precision: str) -> Iterator[None]:
    """Sets the Keras global dtype policy inside the block (build the model inside it).

    The policy is fixed when a layer is created, so the trainer cannot change the precision
    of a built model: build it under this context, then train with the same cfg.precision.
    """
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def check_precision(model: Any, precision: str) -> None:
    """Raises ValueError when the model was built under another precision than `precision`."""
    compute = {layer.compute_dtype for layer in model.layers if layer.weights}
    want = {"float32": "float32", "mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}
    if precision not in want:
        raise ValueError(f"precision: expected one of {sorted(want)}, found {precision!r}")
    if precision == "float32":
        bad = compute - {"float32"}
        ok = not bad
    else:
        ok = want[precision] in compute
    if not ok:
        raise ValueError(
            f"train.precision is {precision!r} but the model's layers compute in "
            f"{sorted(compute)}; build the model inside "
            f"resnet_nas.train.precision_policy({precision!r})")


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


# ---------------------------------------------------------------------------------------------
# Data helpers (numpy).
def normalization_stats(data: Any) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) per channel of the training images (resnet_nas.data.normalization_stats)."""
    from resnet_nas.data import normalization_stats as data_stats

    mean, std = data_stats(data.x_train)
    return np.asarray(mean, np.float32), np.asarray(std, np.float32)


def check_dataset(data: Any, cfg: TrainConfig) -> None:
    """Raises ValueError naming the first field of `data` the trainers cannot use."""
    for split in ("train", "val"):
        x = getattr(data, f"x_{split}", None)
        y = getattr(data, f"y_{split}", None)
        if x is None or y is None:
            raise ValueError(f"data.x_{split}/y_{split}: expected arrays, found None")
        if x.dtype != np.uint8 or x.ndim != 4:
            raise ValueError(f"data.x_{split}: expected uint8 NHWC images, found dtype "
                             f"{x.dtype} with shape {x.shape}")
        if len(y) != len(x):
            raise ValueError(f"data.y_{split}: expected {len(x)} labels, found {len(y)}")
        if len(y) and (int(np.min(y)) < 0 or int(np.max(y)) >= data.num_classes):
            raise ValueError(f"data.y_{split}: expected labels in [0, {data.num_classes}), "
                             f"found range [{int(np.min(y))}, {int(np.max(y))}]")
    if len(data.x_val) == 0:
        raise ValueError("data.x_val: expected a non-empty validation split, found 0 examples")
    steps_per_epoch(len(data.x_train), cfg.batch_size)
    pad = cfg.augment.crop_padding
    h, w = data.x_train.shape[1:3]
    if cfg.augment.pad_mode == "reflect" and pad >= min(h, w):
        raise ValueError(f"train.augment.crop_padding: reflect padding needs a value < the "
                         f"image size {min(h, w)}, found {pad}")


def steps_per_epoch(num_examples: int, batch_size: int) -> int:
    """Full batches per epoch (the ragged last batch is dropped; data is reshuffled each epoch)."""
    if num_examples < batch_size:
        raise ValueError(f"train.batch_size: expected at most the {num_examples} training "
                         f"examples, found {batch_size}")
    return num_examples // batch_size


def pad_images(x: np.ndarray, pad: int, mode: str) -> np.ndarray:
    """Pads NHWC images by `pad` pixels on each side ('reflect' or 'zero' = black pixels)."""
    widths = ((0, 0), (pad, pad), (pad, pad), (0, 0))
    if mode == "reflect":
        return np.pad(x, widths, mode="reflect")
    if mode == "zero":
        return np.pad(x, widths, mode="constant")
    raise ValueError(f"train.augment.pad_mode: expected 'reflect' or 'zero', found {mode!r}")


def crop_flip_numpy(x: np.ndarray, offsets: np.ndarray, flips: np.ndarray, pad: int,
                    mode: str) -> np.ndarray:
    """Per-example crop of padded images at `offsets` and horizontal flip where `flips`.

    Args:
      x: (B, H, W, C) images.
      offsets: (B, 2) int (row, col) offsets in [0, 2 * pad].
      flips: (B,) bool.
      pad: padding on each side before cropping back to (H, W).
      mode: 'reflect' or 'zero'.

    Returns:
      (B, H, W, C) array of x's dtype.
    """
    b, h, w, _ = x.shape
    if pad > 0:
        xp = pad_images(x, pad, mode)
        rows = offsets[:, 0, None] + np.arange(h)[None, :]
        cols = offsets[:, 1, None] + np.arange(w)[None, :]
        x = xp[np.arange(b)[:, None, None], rows[:, :, None], cols[:, None, :]]
    return np.where(flips[:, None, None, None], x[:, :, ::-1, :], x)


def random_augment_numpy(x: np.ndarray, rng: np.random.Generator,
                         augment: AugmentConfig) -> np.ndarray:
    """Random crop (after padding) and horizontal flip, as cfg.augment asks: per example, or
    one draw broadcast over the batch when augment.per_example is False."""
    b = len(x)
    draws = b if augment.per_example else 1
    pad = augment.crop_padding
    offsets = (rng.integers(0, 2 * pad + 1, size=(draws, 2)) if pad > 0
               else np.zeros((draws, 2), int))
    flips = rng.random(draws) < 0.5 if augment.flip else np.zeros(draws, bool)
    if pad == 0 and not augment.flip:
        return x
    offsets = np.broadcast_to(offsets, (b, 2))
    flips = np.broadcast_to(flips, (b,))
    return crop_flip_numpy(x, offsets, flips, pad, augment.pad_mode)


def normalize_numpy(x_uint8: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """(x - mean) / std as float32."""
    return (x_uint8.astype(np.float32) - mean) / std


# ---------------------------------------------------------------------------------------------
# Small helpers.
def active_backend() -> str:
    import keras

    return keras.backend.backend()


def resolve_trainer(cfg: TrainConfig, backend: str | None = None) -> str:
    """'jax' or 'fit' for cfg.trainer ('auto' = jax on the JAX backend, else fit)."""
    backend = backend or active_backend()
    if cfg.trainer == "auto":
        return "jax" if backend == "jax" else "fit"
    if cfg.trainer == "jax" and backend != "jax":
        raise ValueError(f"train.trainer: 'jax' needs the JAX backend (set KERAS_BACKEND=jax "
                         f"before importing keras), found backend {backend!r}")
    if cfg.trainer not in ("jax", "fit"):
        raise ValueError(f"train.trainer: expected one of auto, fit, jax, found {cfg.trainer!r}")
    return cfg.trainer


def device_description(backend: str | None = None) -> str:
    """A short name of the accelerator the backend uses ('cpu' when none)."""
    backend = backend or active_backend()
    try:
        if backend == "jax":
            import jax

            dev = jax.devices()[0]
            return "cpu" if dev.platform == "cpu" else str(dev.device_kind)
        if backend == "torch":
            import torch

            return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            if not gpus:
                return "cpu"
            details = tf.config.experimental.get_device_details(gpus[0])
            return str(details.get("device_name", gpus[0].name))
    except Exception as exc:  # device naming must never break a trial
        return f"unknown ({type(exc).__name__})"
    return "unknown"


def seed_all(seed: int) -> None:
    """keras.utils.set_random_seed without its TensorFlow import on other backends.

    Keras' own function imports TensorFlow whenever it is installed (seconds, and a GPU
    context), even on the JAX backend; this one seeds Python, NumPy and Keras' global
    SeedGenerator (model initialisers), and TensorFlow or torch only when that is the backend.
    """
    import random

    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        keras.utils.set_random_seed(seed)
        return
    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator
    from keras.src.utils import rng_utils

    global_state.set_global_attribute(rng_utils.GLOBAL_RANDOM_SEED, seed)
    global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, None)
    random.seed(seed)
    np.random.seed(seed)
    if backend == "torch":
        import torch

        torch.manual_seed(seed)


def steady_images_per_second(history: Sequence[EpochMetrics]) -> float:
    """Mean training throughput over epochs 2..N (epoch 1 alone when that is all there is)."""
    if not history:
        return float("nan")
    rows = history[1:] if len(history) > 1 else history
    return float(np.mean([m.images_per_second for m in rows]))


def finished_reason(epoch: int, train_loss: float) -> str | None:
    """The divergence reason when train_loss is not finite, else None."""
    if math.isfinite(train_loss):
        return None
    return f"diverged: train loss {train_loss} at epoch {epoch}"


def release_memory(delete_device_arrays: bool = False) -> None:
    """Frees what a finished trial left behind: Keras global state, compiled-function caches,
    Python garbage and, on request, every live JAX device array.

    Args:
      delete_device_arrays: JAX only: also delete all live device arrays. Models that still
        exist become unusable, so only pass True between trials.
    """
    import gc

    import keras

    backend = keras.backend.backend()
    keras.backend.clear_session(free_memory=True)
    if backend == "jax":
        import jax

        from resnet_nas.train import jax_scan

        jax_scan.clear_eval_cache()
        gc.collect()
        if delete_device_arrays:
            for arr in jax.live_arrays():
                arr.delete()
        jax.clear_caches()
    elif backend == "torch":
        import torch

        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    gc.collect()


def env_flag_off(value: str | None) -> bool:
    return value is not None and value.strip().lower() in ("", "0", "off", "false", "none")


def default_xla_cache_dir() -> str | None:
    """RESNET_NAS_XLA_CACHE, or ~/.cache/resnet_nas/xla; None when the variable says off."""
    value = os.environ.get("RESNET_NAS_XLA_CACHE")
    if env_flag_off(value):
        return None
    return value or os.path.join(os.path.expanduser("~"), ".cache", "resnet_nas", "xla")


__all__ = [
    "EpochMetrics", "TrainResult", "ScheduleSpec", "schedule_spec", "learning_rate_at",
    "make_keras_schedule", "register_keras_objects", "cross_entropy", "make_optimizer",
    "precision_policy", "check_precision", "normalization_stats",
    "crop_flip_numpy", "random_augment_numpy", "normalize_numpy", "resolve_trainer",
    "steps_per_epoch", "release_memory", "seed_all",
]
