"""Fast trainer for the JAX backend: whole epochs in one jitted `jax.lax.scan`.

Data in memory: the uint8 training set lives on the device. Each epoch is one call of an
ahead-of-time compiled function that draws a permutation, gathers each step's batch, augments
it per example (random crop after reflect/zero padding, horizontal flip), and runs
`model.stateless_call` (the model normalises its raw-pixel input) +
`optimizer.stateless_apply`. Metrics come back with one device-to-host transfer per epoch
(train sums and validation sums together). The state buffers are donated on accelerators. At
the end the trained variables are written back into the Keras model, so the caller can save or
evaluate it.

Streamed data (resnet_nas.input.stream): the batches come preprocessed from the host's
tf.data pipeline; a helper thread puts the next two on the device while a step runs (double
buffering), and each step is one jitted call.

On CPU the epoch runs as a Python loop of one jitted step per batch instead (same step, same
data order, still no host transfer per step): XLA:CPU runs convolutions inside a while loop
far slower than outside one (no figure in experiments/RESULTS.md yet).
RESNET_NAS_JAX_EPOCH=scan|loop overrides the choice.

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
from resnet_nas.input import EvalFeed, ahead, as_input
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


def _pixels(x_uint8: Any) -> Any:
    import jax.numpy as jnp

    return x_uint8.astype(jnp.float32)


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

    def _batch_sums(self, tv, ntv, xb, yb, mask):
        import jax.numpy as jnp

        logits, _ = self.model.stateless_call(tv, ntv, _pixels(xb), training=False)
        ce = cross_entropy(yb, logits)
        correct = (jnp.argmax(logits, axis=-1) == yb).astype(jnp.float32)
        return jnp.sum(ce * mask), jnp.sum(correct * mask)

    @staticmethod
    def device_batch(xb: np.ndarray, yb: np.ndarray, k: int) -> tuple[Any, Any, Any]:
        """A feed's batch on the device, with the mask of its k real rows."""
        import jax

        mask = np.zeros(len(xb), np.float32)
        mask[:k] = 1.0
        return jax.device_put((xb, yb, mask))

    def upload(self, feed: EvalFeed) -> list[tuple[Any, Any, Any]]:
        """A feed's batches (x, y, mask) on the device, kept for every evaluation."""
        return [self.device_batch(*b) for b in feed.batches()]

    def lower(self, tv, ntv, batch) -> Callable[[], None] | None:
        """Traces for these shapes; returns the XLA compile still to do (None if compiled)."""
        key = _shape_key((tv, ntv, batch))
        if key in self._compiled:
            return None
        lowered = self._jitted.lower(tv, ntv, *batch)
        return lambda: self._compiled.__setitem__(key, lowered.compile())

    def sums(self, tv, ntv, batches) -> tuple[Any, Any, Any]:
        """Device scalars (loss_sum, correct_sum, count) over `batches` (a list, or any
        iterable of device batches); no host transfer."""
        fn = None
        loss_sum = correct_sum = count = 0.0
        for xb, yb, mb in batches:
            if fn is None:
                fn = self._compiled.get(_shape_key((tv, ntv, (xb, yb, mb))), self._jitted)
            l, c = fn(tv, ntv, xb, yb, mb)
            loss_sum = loss_sum + l
            correct_sum = correct_sum + c
            count = count + mb.sum()
        return loss_sum, correct_sum, count


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


def evaluate_jax(model: Any, feed: EvalFeed) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of `model` over an evaluation feed, in jitted
    fixed-size batches (JAX backend)."""
    import jax

    ev = _evaluator_for(model, feed.batch_size)
    tv = [v.value for v in model.trainable_variables]
    ntv = [v.value for v in model.non_trainable_variables]
    batches = ahead(ev.device_batch(*b) for b in feed.batches())
    loss_sum, correct, n = jax.device_get(ev.sums(tv, ntv, batches))
    if n == 0:
        raise ValueError("evaluate: no readable image in the split")
    return float(loss_sum) / float(n), float(correct) / float(n)


# ---------------------------------------------------------------------------------------------
# Training.
def epoch_mode(platform: str | None = None) -> str:
    """'scan' (one jitted lax.scan per epoch) or 'loop' (one jitted call per step).

    RESNET_NAS_JAX_EPOCH=scan|loop|auto picks; auto is scan on accelerators and loop on CPU,
    where XLA runs convolutions inside a while loop far slower than outside one.
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
    """Runs one training epoch: on device-resident data as a scan or as a loop of steps, or
    on batches from the host ('host' mode: streamed data, preprocessed already).

    The scan and loop modes share `_step` and the data order (permutation and per-step keys
    drawn from the epoch key), so they train identically; every mode returns device scalars,
    never syncing.
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
        elif mode == "loop":
            self._plan = jax.jit(self._plan_epoch, static_argnums=(1,))
            self._one = jax.jit(self._loop_step, donate_argnums=donate_state)
        else:
            self._one = jax.jit(self._host_step, donate_argnums=donate_state)
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

    def _train_on(self, carry, xb, yb):
        import jax.numpy as jnp

        tv, ntv, ov, loss_sum, correct_sum = carry
        (_, (loss, logits, ntv)), grads = self._grad_fn(tv, ntv, ov, _pixels(xb), yb)
        tv, ov = self.optimizer.stateless_apply(ov, grads, tv)
        correct = jnp.sum(jnp.argmax(logits, axis=-1) == yb).astype(jnp.float32)
        return tv, ntv, ov, loss_sum + loss, correct_sum + correct

    def _step(self, carry, idx, key, x_all, y_all):
        xb = random_augment_jax(x_all[idx], key, self.cfg.augment)
        return self._train_on(carry, xb, y_all[idx])

    def _scan_epoch(self, carry, x_all, y_all, key):
        import jax

        perm, keys = self._plan_epoch(key, x_all.shape[0])

        def body(c, inputs):
            return self._step(c, *inputs, x_all, y_all), None

        carry, _ = jax.lax.scan(body, carry, (perm, keys))
        return carry

    def _loop_step(self, carry, perm, keys, i, x_all, y_all):
        return self._step(carry, perm[i], keys[i], x_all, y_all)

    def _host_step(self, carry, xb, yb):
        return self._train_on(carry, xb, yb)

    # -- host side -------------------------------------------------------------------------
    def lower(self, carry, x_all, y_all, key) -> Callable[[], None]:
        """Traces for these shapes (host mode: x_all, y_all are one batch's shapes); returns
        the XLA compile still to do."""
        import jax.numpy as jnp

        if self.mode == "scan":
            lowered = self._epoch.lower(carry, x_all, y_all, key)
        elif self.mode == "loop":
            perm, keys = self._plan(key, x_all.shape[0])
            lowered = self._one.lower(carry, perm, keys, jnp.int32(0), x_all, y_all)
        else:
            lowered = self._one.lower(carry, x_all, y_all)
        return lambda: self._compiled.__setitem__("step", lowered.compile())

    def run(self, carry, x_all, y_all, key, on_step: Callable[[int], None] | None = None,
            batches: Any = None):
        """One epoch: returns the new carry (tv, ntv, ov, loss_sum, correct_sum).

        In loop and host modes `on_step(steps done)` is called every STEP_REPORT_SECONDS,
        after a wait for the steps dispatched so far (one wait every few seconds, not one per
        step). A scan is one compiled call: it reports nothing inside (a host callback would
        put its address into the executable's cache key, missing the persistent cache every
        process). Host mode trains on `batches` (device batches) instead of x_all, y_all.
        """
        import jax
        import jax.numpy as jnp

        step = self._compiled["step"]
        if self.mode == "scan":
            return step(carry, x_all, y_all, key)
        last = time.perf_counter()
        if self.mode == "host":
            calls = ((xb, yb) for xb, yb in batches)
        else:
            perm, keys = self._plan(key, x_all.shape[0])
            calls = ((perm, keys, jnp.int32(i), x_all, y_all) for i in range(self.steps))
        for i, args in enumerate(calls):
            carry = step(carry, *args)
            if on_step is not None and time.perf_counter() - last >= STEP_REPORT_SECONDS:
                jax.block_until_ready(carry[3])
                on_step(i + 1)
                last = time.perf_counter()
        return carry


def train_jax(model: Any, data: Any, cfg: TrainConfig,
              on_epoch: Callable[[EpochMetrics], bool] | None = None,
              on_step: Callable[[StepProgress], None] | None = None) -> TrainResult:
    """Trains `model` on `data` with jitted steps (JAX backend only): whole-epoch scans (or a
    loop of steps, on CPU) over device-resident data, or steps over streamed batches.

    Args:
      model: built Keras model (raw pixels in, logits out); built under cfg.precision's
        policy.
      data: the trainers' input (resnet_nas.input) or a resnet_nas.data.Dataset.
      cfg: the TrainConfig.
      on_epoch: called after each epoch with its EpochMetrics; returning False stops.
      on_step: progress inside long epochs, in loop and host modes (see _EpochRunner.run).

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
    inp = as_input(data)
    inp.check(cfg)
    check_precision(model, cfg.precision)
    check_weight_decay(model, cfg)
    enable_compilation_cache()

    feed = inp.train_feed(cfg)
    steps = feed.steps
    images_per_epoch = steps * cfg.batch_size
    optimizer = make_optimizer(cfg, steps, model)
    optimizer.build(model.trainable_variables)
    platform = jax.devices()[0].platform
    arrays = inp.arrays
    mode = epoch_mode(platform) if arrays is not None else "host"
    runner = _EpochRunner(model, optimizer, cfg, steps, uses_model_regularization(cfg), mode,
                          donate=platform != "cpu")

    if arrays is not None:
        x_train = jax.device_put(np.ascontiguousarray(arrays.x_train, np.uint8))
        y_train = jax.device_put(np.asarray(arrays.y_train, np.int32))
    else:  # the shapes of one streamed batch, for the compile
        x_train = jax.ShapeDtypeStruct((cfg.batch_size, *feed.image_shape), jnp.uint8)
        y_train = jax.ShapeDtypeStruct((cfg.batch_size,), jnp.int32)
    # Copies: the donated state must not alias the Keras variables' buffers.
    state = tuple([jnp.array(v.value, copy=True) for v in vs] for vs in
                  (model.trainable_variables, model.non_trainable_variables,
                   optimizer.variables))

    def fresh_carry(state):  # new sums each epoch: donated buffers cannot be reused
        return (*state, jnp.zeros((), jnp.float32), jnp.zeros((), jnp.float32))

    val_feed = inp.eval_feed("val", cfg)
    evaluator = _evaluator_for(model, val_feed.batch_size)
    # In memory: the validation batches stay on the device; streamed: read every epoch.
    val_batches = evaluator.upload(val_feed) if arrays is not None else None
    key = jax.random.PRNGKey(cfg.seed)
    eb = val_feed.batch_size
    val_shape = (val_batches[0] if val_batches else
                 (jax.ShapeDtypeStruct((eb, *val_feed.image_shape), jnp.uint8),
                  jax.ShapeDtypeStruct((eb,), jnp.int32), jax.ShapeDtypeStruct((eb,),
                                                                               jnp.float32)))

    t0 = time.perf_counter()
    pending = [runner.lower(fresh_carry(state), x_train, y_train, key),
               evaluator.lower(state[0], state[1], val_shape)]
    compile_together([p for p in pending if p is not None])
    compile_seconds = time.perf_counter() - t0

    history: list[EpochMetrics] = []
    stop: Stop | None = None
    train_seconds = compile_seconds  # one definition for every trainer: compile included
    eval_seconds = 0.0
    for epoch in range(1, cfg.epochs + 1):
        t_start = time.perf_counter()

        def report(done: int, epoch: int = epoch, t_start: float = t_start) -> None:
            on_step(StepProgress.after(epoch, done, steps, cfg.batch_size,
                                       time.perf_counter() - t_start))

        # Streamed: a helper thread puts the next two batches on the device while a step runs.
        batches = (None if arrays is not None else
                   ahead((jax.device_put(b) for b in feed.epoch(epoch)), depth=2))
        *new_state, loss_sum, correct_sum = runner.run(
            fresh_carry(state), x_train, y_train, jax.random.fold_in(key, epoch),
            report if on_step is not None else None, batches)
        state = tuple(new_state)
        jax.block_until_ready(loss_sum)  # a wait, not a transfer: times training alone
        t_trained = time.perf_counter()
        val_loss_sum, val_correct, n_val = evaluator.sums(
            state[0], state[1], val_batches if val_batches is not None else
            ahead(evaluator.device_batch(*b) for b in val_feed.batches()))
        host = jax.device_get((loss_sum, correct_sum, val_loss_sum, val_correct, n_val))
        t_end = time.perf_counter()
        train_seconds += t_end - t_start
        eval_seconds += t_end - t_trained
        n_val = max(float(host[4]), 1.0)
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
