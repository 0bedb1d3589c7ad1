"""Fast trainer for the JAX backend: whole epochs in one jitted `lax.scan`.

The uint8 training set lives on the device. Each epoch is one call of an ahead-of-time
compiled function that draws a permutation, gathers each step's batch, augments it per
example (random crop after reflect/zero padding, horizontal flip), normalises it, and runs
`model.stateless_call` + `optimizer.stateless_apply`. Metrics come back with one
device-to-host transfer per epoch (train sums and validation sums together). The state
buffers are donated on accelerators. At the end the trained variables are written back into
the Keras model, so the caller can save or evaluate it.

On CPU the epoch runs as a Python loop of one jitted step per batch instead (same step, same
data order, still no host transfer per step): XLA:CPU runs convolutions inside a while loop
about 30 times slower than outside one. RESNET_NAS_JAX_EPOCH=scan|loop overrides the choice.

Compilation: the train and eval functions are compiled once per train_model call with fixed
batch shapes, timed ahead of time (compile_seconds), and kept in a persistent XLA cache
(RESNET_NAS_XLA_CACHE, default ~/.cache/resnet_nas/xla; 'off' disables it), so a worker
process that meets the same architecture and TrainConfig again loads them from disk. The
learning-rate schedule's constants are part of the program: trials that differ in learning
rate, epochs or schedule compile their own.

Nothing here imports TensorFlow.
"""

from __future__ import annotations

import concurrent.futures
import math
import os
import time
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from resnet_nas.config import AugmentConfig, TrainConfig
from resnet_nas.train.metrics import (STEP_REPORT_SECONDS, EpochMetrics, StepProgress,
                                      Stop, TrainResult, outcome, steady_images_per_second,
                                      stop_after)
from resnet_nas.train.optim import (check_weight_decay, cross_entropy, make_optimizer,
                                    uses_model_regularization)
from resnet_nas.train.augment import (check_dataset, eval_batch_size, normalization_stats,
                                      steps_per_epoch)
from resnet_nas.train.runtime import (check_precision, default_xla_cache_dir, device_description,
                                      on_release)

# Programs that compile faster than this are not written to the persistent cache: it keeps
# the hundreds of tiny eager-op programs of model building out, and the train/eval programs
# (seconds) in.
MIN_CACHED_COMPILE_SECONDS = 0.2

_EVALUATORS: "weakref.WeakKeyDictionary[Any, _Evaluator]" = weakref.WeakKeyDictionary()


def enable_compilation_cache(path: str | None = None) -> str | None:
    """Turns on JAX's persistent compilation cache with low thresholds.

    Args:
      path: cache directory; default RESNET_NAS_XLA_CACHE or ~/.cache/resnet_nas/xla. A
        directory the user already configured in jax.config is kept when path is None.

    Returns:
      The directory in use, or None when the cache is off (RESNET_NAS_XLA_CACHE=off).
    """
    import jax

    current = jax.config.jax_compilation_cache_dir
    if path is None:
        if current:
            return current
        path = default_xla_cache_dir()
        if path is None:
            return None
    os.makedirs(path, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_CACHED_COMPILE_SECONDS)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    return path


def clear_eval_cache() -> None:
    """Forgets the per-model compiled evaluation functions (run by runtime.release_memory)."""
    _EVALUATORS.clear()


on_release(clear_eval_cache)


# ---------------------------------------------------------------------------------------------
# Augmentation on the device.
def crop_flip_jax(x: Any, offsets: Any, flips: Any, pad: int, mode: str) -> Any:
    """Device twin of augment.crop_flip_numpy: per-example crop at `offsets`, flip where `flips`.

    Args:
      x: (B, H, W, C) images (any dtype; uint8 keeps the gather cheap).
      offsets: (B, 2) int32 (row, col) offsets in [0, 2 * pad].
      flips: (B,) bool.
      pad: padding on each side; 0 skips the crop.
      mode: 'reflect' or 'zero' (zero pads with black pixels, as torchvision does).
    """
    import jax
    import jax.numpy as jnp

    _, h, w, c = x.shape
    if pad > 0:
        widths = ((0, 0), (pad, pad), (pad, pad), (0, 0))
        xp = jnp.pad(x, widths, mode="reflect" if mode == "reflect" else "constant")
        x = jax.vmap(lambda img, o: jax.lax.dynamic_slice(img, (o[0], o[1], 0), (h, w, c)))(
            xp, offsets)
    return jnp.where(flips[:, None, None, None], x[:, :, ::-1, :], x)


def random_augment_jax(x: Any, key: Any, augment: AugmentConfig) -> Any:
    """Random crop and flip on the device, as cfg.augment asks (per example, or one draw
    broadcast over the batch when augment.per_example is False)."""
    import jax
    import jax.numpy as jnp

    pad = augment.crop_padding
    if pad == 0 and not augment.flip:
        return x
    b = x.shape[0]
    draws = b if augment.per_example else 1
    k_off, k_flip = jax.random.split(key)
    offsets = (jax.random.randint(k_off, (draws, 2), 0, 2 * pad + 1) if pad > 0
               else jnp.zeros((draws, 2), jnp.int32))
    flips = (jax.random.bernoulli(k_flip, 0.5, (draws,)) if augment.flip
             else jnp.zeros((draws,), bool))
    offsets = jnp.broadcast_to(offsets, (b, 2))
    flips = jnp.broadcast_to(flips, (b,))
    return crop_flip_jax(x, offsets, flips, pad, augment.pad_mode)


def _normalize(x_uint8: Any, mean: Any, std: Any) -> Any:
    import jax.numpy as jnp

    return (x_uint8.astype(jnp.float32) - mean) / std


# ---------------------------------------------------------------------------------------------
# Evaluation.
class _Evaluator:
    """Jitted, fixed-shape evaluation of one model: padded batches, masked sums."""

    def __init__(self, model: Any, batch_size: int):
        import jax

        self.model = weakref.proxy(model)
        self.batch_size = batch_size
        self._jitted = jax.jit(self._batch_sums)
        self._compiled: dict[Any, Any] = {}

    def _batch_sums(self, tv, ntv, xb, yb, mask, mean, std):
        import jax.numpy as jnp

        logits, _ = self.model.stateless_call(tv, ntv, _normalize(xb, mean, std), training=False)
        ce = cross_entropy(yb, logits)
        correct = (jnp.argmax(logits, axis=-1) == yb).astype(jnp.float32)
        return jnp.sum(ce * mask), jnp.sum(correct * mask)

    def upload(self, x: np.ndarray, y: np.ndarray) -> list[tuple[Any, Any, Any]]:
        """Device batches (x, y, mask) of fixed size; the last one is zero-padded and masked."""
        import jax

        eb = self.batch_size
        n = len(x)
        nb = max(1, math.ceil(n / eb))
        xp = np.zeros((nb * eb, *x.shape[1:]), np.uint8)
        xp[:n] = x
        yp = np.zeros(nb * eb, np.int32)
        yp[:n] = y
        mask = np.zeros(nb * eb, np.float32)
        mask[:n] = 1.0
        xd, yd, md = jax.device_put((xp, yp, mask))
        return [(xd[i * eb:(i + 1) * eb], yd[i * eb:(i + 1) * eb], md[i * eb:(i + 1) * eb])
                for i in range(nb)]

    def lower(self, tv, ntv, batch, mean, std) -> Callable[[], None] | None:
        """Traces for these shapes; returns the XLA compile still to do (None if compiled)."""
        key = _shape_key((tv, ntv, batch, mean, std))
        if key in self._compiled:
            return None
        lowered = self._jitted.lower(tv, ntv, *batch, mean, std)
        return lambda: self._compiled.__setitem__(key, lowered.compile())

    def sums(self, tv, ntv, batches, mean, std) -> tuple[Any, Any]:
        """Device scalars (loss_sum, correct_sum) over `batches`; no host transfer."""
        fn = self._compiled.get(_shape_key((tv, ntv, batches[0], mean, std)), self._jitted)
        loss_sum = correct_sum = 0.0
        for xb, yb, mb in batches:
            l, c = fn(tv, ntv, xb, yb, mb, mean, std)
            loss_sum = loss_sum + l
            correct_sum = correct_sum + c
        return loss_sum, correct_sum


def compile_together(pending: list[Callable[[], None]]) -> None:
    """Runs XLA compiles (the callables `lower` returns) side by side in threads.

    Tracing holds the GIL but XLA's compiler releases it, so the evaluation function's compile
    overlaps the training epoch's instead of adding to it (experiments/compile_cost.py
    measures the difference). RESNET_NAS_SERIAL_COMPILE=1 compiles one after the other.
    """
    if len(pending) < 2 or os.environ.get("RESNET_NAS_SERIAL_COMPILE", "") not in ("", "0"):
        for job in pending:
            job()
        return
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(pending)) as pool:
        for future in [pool.submit(job) for job in pending]:
            future.result()


def _shape_key(tree: Any) -> str:
    import jax

    return str(jax.tree_util.tree_map(lambda a: (tuple(a.shape), str(a.dtype)), tree))


def _evaluator_for(model: Any, batch_size: int) -> _Evaluator:
    ev = _EVALUATORS.get(model)
    if ev is None or ev.batch_size != batch_size:
        ev = _Evaluator(model, batch_size)
        _EVALUATORS[model] = ev
    return ev


def evaluate_jax(model: Any, x_uint8: np.ndarray, y: np.ndarray, cfg: TrainConfig,
                 stats: tuple[np.ndarray, np.ndarray]) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of `model` on uint8 images, in jitted fixed-size batches.

    Args:
      model: a built Keras model (JAX backend).
      x_uint8: (N, H, W, C) uint8 images.
      y: (N,) int labels.
      cfg: gives eval_batch_size.
      stats: (mean, std) per channel, the training set's.
    """
    import jax
    import jax.numpy as jnp

    if len(x_uint8) == 0:
        raise ValueError("evaluate: expected at least one example, found 0")
    ev = _evaluator_for(model, eval_batch_size(cfg, len(x_uint8)))
    batches = ev.upload(np.asarray(x_uint8), np.asarray(y))
    tv = [v.value for v in model.trainable_variables]
    ntv = [v.value for v in model.non_trainable_variables]
    mean, std = (jnp.asarray(s, jnp.float32) for s in stats)
    loss_sum, correct = jax.device_get(ev.sums(tv, ntv, batches, mean, std))
    n = len(x_uint8)
    return float(loss_sum) / n, float(correct) / n


# ---------------------------------------------------------------------------------------------
# Training.
def epoch_mode(platform: str | None = None) -> str:
    """'scan' (one jitted lax.scan per epoch) or 'loop' (one jitted call per step).

    RESNET_NAS_JAX_EPOCH=scan|loop|auto picks; auto is scan on accelerators and loop on CPU,
    where XLA runs convolutions inside a while loop about 30x slower than outside one.
    """
    import jax

    mode = os.environ.get("RESNET_NAS_JAX_EPOCH", "auto").strip().lower() or "auto"
    if mode not in ("auto", "scan", "loop"):
        raise ValueError(f"RESNET_NAS_JAX_EPOCH: expected auto, scan or loop, found {mode!r}")
    if mode == "auto":
        platform = platform or jax.devices()[0].platform
        mode = "loop" if platform == "cpu" else "scan"
    return mode


class _EpochRunner:
    """Runs one training epoch on device-resident data, as a scan or as a loop of steps.

    Both modes share `_step` and the data order (permutation and per-step keys drawn from the
    epoch key), so they train identically; both return device scalars, never syncing.
    """

    def __init__(self, model: Any, optimizer: Any, cfg: TrainConfig, steps: int,
                 use_reg: bool, mode: str, donate: bool):
        import jax
        import keras

        self.model, self.optimizer, self.cfg = model, optimizer, cfg
        self.steps, self.use_reg, self.mode = steps, use_reg, mode
        self._scales_loss = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
        self._grad_fn = jax.value_and_grad(self._loss, has_aux=True)
        donate_state = (0,) if donate else ()
        if mode == "scan":
            self._epoch = jax.jit(self._scan_epoch, donate_argnums=donate_state)
        else:
            self._plan = jax.jit(self._plan_epoch, static_argnums=(1,))
            self._one = jax.jit(self._loop_step, donate_argnums=donate_state)
        self._compiled: dict[str, Any] = {}

    # -- traced pieces ---------------------------------------------------------------------
    def _loss(self, tv, ntv, ov, x, y):
        import jax.numpy as jnp
        import keras

        logits, ntv, losses = self.model.stateless_call(tv, ntv, x, training=True,
                                                        return_losses=True)
        loss = jnp.mean(cross_entropy(y, logits, self.cfg.label_smoothing))
        if self.use_reg and losses:
            loss = loss + sum(jnp.asarray(l, jnp.float32) for l in losses)
        scaled = loss
        if self._scales_loss:
            # The loss scale is an optimizer variable: read it from the traced state.
            mapping = list(zip(self.optimizer.variables, ov))
            with keras.StatelessScope(state_mapping=mapping):
                scaled = self.optimizer.scale_loss(loss)
        return scaled, (loss, logits, ntv)

    def _plan_epoch(self, key, n):
        import jax

        k_perm, k_aug = jax.random.split(key)
        batch = self.cfg.batch_size
        perm = jax.random.permutation(k_perm, n)[:self.steps * batch]
        return perm.reshape(self.steps, batch), jax.random.split(k_aug, self.steps)

    def _step(self, carry, idx, key, x_all, y_all, mean, std):
        import jax.numpy as jnp

        tv, ntv, ov, loss_sum, correct_sum = carry
        xb = _normalize(random_augment_jax(x_all[idx], key, self.cfg.augment), mean, std)
        yb = y_all[idx]
        (_, (loss, logits, ntv)), grads = self._grad_fn(tv, ntv, ov, xb, yb)
        tv, ov = self.optimizer.stateless_apply(ov, grads, tv)
        correct = jnp.sum(jnp.argmax(logits, axis=-1) == yb).astype(jnp.float32)
        return tv, ntv, ov, loss_sum + loss, correct_sum + correct

    def _scan_epoch(self, carry, x_all, y_all, key, mean, std):
        import jax

        perm, keys = self._plan_epoch(key, x_all.shape[0])

        def body(c, inputs):
            return self._step(c, *inputs, x_all, y_all, mean, std), None

        carry, _ = jax.lax.scan(body, carry, (perm, keys))
        return carry

    def _loop_step(self, carry, perm, keys, i, x_all, y_all, mean, std):
        return self._step(carry, perm[i], keys[i], x_all, y_all, mean, std)

    # -- host side -------------------------------------------------------------------------
    def lower(self, carry, x_all, y_all, key, mean, std) -> Callable[[], None]:
        """Traces for these shapes; returns the XLA compile still to do."""
        import jax.numpy as jnp

        if self.mode == "scan":
            lowered = self._epoch.lower(carry, x_all, y_all, key, mean, std)
            name = "epoch"
        else:
            perm, keys = self._plan(key, x_all.shape[0])
            lowered = self._one.lower(carry, perm, keys, jnp.int32(0), x_all, y_all, mean, std)
            name = "step"
        return lambda: self._compiled.__setitem__(name, lowered.compile())

    def run(self, carry, x_all, y_all, key, mean, std,
            on_step: Callable[[int], None] | None = None):
        """One epoch: returns the new carry (tv, ntv, ov, loss_sum, correct_sum).

        In loop mode `on_step(steps done)` is called every STEP_REPORT_SECONDS, after a wait
        for the steps dispatched so far (one wait every few seconds, not one per step). A
        scan is one compiled call: it reports nothing inside (a host callback would put its
        address into the executable's cache key, missing the persistent cache every process).
        """
        import jax
        import jax.numpy as jnp

        if self.mode == "scan":
            return self._compiled["epoch"](carry, x_all, y_all, key, mean, std)
        perm, keys = self._plan(key, x_all.shape[0])
        step = self._compiled["step"]
        last = time.perf_counter()
        for i in range(self.steps):
            carry = step(carry, perm, keys, jnp.int32(i), x_all, y_all, mean, std)
            if on_step is not None and time.perf_counter() - last >= STEP_REPORT_SECONDS:
                jax.block_until_ready(carry[3])
                on_step(i + 1)
                last = time.perf_counter()
        return carry


def train_jax(model: Any, data: Any, cfg: TrainConfig,
              on_epoch: Callable[[EpochMetrics], bool] | None = None,
              on_step: Callable[[StepProgress], None] | None = None) -> TrainResult:
    """Trains `model` on `data` with whole-epoch jitted scans (JAX backend only).

    Args:
      model: built Keras model returning logits; built under cfg.precision's policy.
      data: a resnet_nas.data.Dataset (x_train/y_train/x_val/y_val uint8 / int).
      cfg: the TrainConfig.
      on_epoch: called after each epoch with its EpochMetrics; returning False stops.
      on_step: progress inside long epochs, in loop mode (see _EpochRunner.run).

    Returns:
      TrainResult; the trained variables are in `model`.
    """
    import jax
    import jax.numpy as jnp
    import keras

    if keras.backend.backend() != "jax":
        raise ValueError(f"train.trainer: 'jax' needs the JAX backend (KERAS_BACKEND=jax), "
                         f"found backend {keras.backend.backend()!r}")
    cfg.validate()
    check_dataset(data, cfg)
    check_precision(model, cfg.precision)
    check_weight_decay(model, cfg)
    enable_compilation_cache()

    n_train = len(data.x_train)
    steps = steps_per_epoch(n_train, cfg.batch_size)
    images_per_epoch = steps * cfg.batch_size
    mean_np, std_np = normalization_stats(data)
    optimizer = make_optimizer(cfg, steps, model)
    optimizer.build(model.trainable_variables)
    platform = jax.devices()[0].platform
    runner = _EpochRunner(model, optimizer, cfg, steps, uses_model_regularization(cfg),
                          epoch_mode(platform), donate=platform != "cpu")

    x_train = jax.device_put(np.ascontiguousarray(data.x_train, np.uint8))
    y_train = jax.device_put(np.asarray(data.y_train, np.int32))
    mean = jnp.asarray(mean_np)
    std = jnp.asarray(std_np)
    # Copies: the donated state must not alias the Keras variables' buffers.
    state = tuple([jnp.array(v.value, copy=True) for v in vs] for vs in
                  (model.trainable_variables, model.non_trainable_variables,
                   optimizer.variables))

    def fresh_carry(state):  # new sums each epoch: donated buffers cannot be reused
        return (*state, jnp.zeros((), jnp.float32), jnp.zeros((), jnp.float32))

    evaluator = _evaluator_for(model, eval_batch_size(cfg, len(data.x_val)))
    val_batches = evaluator.upload(np.asarray(data.x_val), np.asarray(data.y_val))
    key = jax.random.PRNGKey(cfg.seed)

    t0 = time.perf_counter()
    pending = [runner.lower(fresh_carry(state), x_train, y_train, key, mean, std),
               evaluator.lower(state[0], state[1], val_batches[0], mean, std)]
    compile_together([p for p in pending if p is not None])
    compile_seconds = time.perf_counter() - t0

    history: list[EpochMetrics] = []
    stop: Stop | None = None
    train_seconds = compile_seconds  # one definition for every trainer: compile included
    eval_seconds = 0.0
    n_val = len(data.x_val)
    for epoch in range(1, cfg.epochs + 1):
        t_start = time.perf_counter()

        def report(done: int, epoch: int = epoch, t_start: float = t_start) -> None:
            on_step(StepProgress.after(epoch, done, steps, cfg.batch_size,
                                       time.perf_counter() - t_start))

        *new_state, loss_sum, correct_sum = runner.run(
            fresh_carry(state), x_train, y_train, jax.random.fold_in(key, epoch), mean, std,
            report if on_step is not None else None)
        state = tuple(new_state)
        jax.block_until_ready(loss_sum)  # a wait, not a transfer: times training alone
        t_trained = time.perf_counter()
        val_loss_sum, val_correct = evaluator.sums(state[0], state[1], val_batches, mean, std)
        host = jax.device_get((loss_sum, correct_sum, val_loss_sum, val_correct))
        t_end = time.perf_counter()
        train_seconds += t_end - t_start
        eval_seconds += t_end - t_trained
        metrics = EpochMetrics(
            epoch=epoch,
            train_loss=float(host[0]) / steps,
            train_accuracy=float(host[1]) / images_per_epoch,
            val_loss=float(host[2]) / n_val,
            val_accuracy=float(host[3]) / n_val,
            seconds=t_end - t_start,
            images_per_second=images_per_epoch / max(t_trained - t_start, 1e-9),
        )
        history.append(metrics)
        stop = stop_after(metrics, on_epoch)
        if stop is not None:
            break

    _write_back(model, optimizer, state)
    return TrainResult(history=history, epochs_run=len(history), **outcome(stop),
                       train_seconds=train_seconds,
                       compile_seconds=compile_seconds,
                       images_per_second=steady_images_per_second(history), trainer="jax",
                       backend="jax", device=device_description("jax"),
                       eval_seconds=eval_seconds)


def _write_back(model: Any, optimizer: Any, state: tuple[list, list, list]) -> None:
    tv, ntv, ov = state
    for var, value in zip(model.trainable_variables, tv):
        var.assign(value)
    for var, value in zip(model.non_trainable_variables, ntv):
        var.assign(value)
    for var, value in zip(optimizer.variables, ov):
        var.assign(value)
