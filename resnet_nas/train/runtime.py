"""The trainers' runtime: the active Keras backend, the device, seeding, precision policies,
the XLA cache directory, and releasing a finished trial's memory.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from resnet_nas.config import TrainConfig


def active_backend() -> str:
    import keras

    return keras.backend.backend()


#: The trainer each backend runs for trainer 'auto' (its own fast one), and the backend that
#: each backend-specific trainer needs.
AUTO_TRAINERS = {"jax": "jax", "tensorflow": "tf"}


def resolve_trainer(cfg: TrainConfig, backend: str | None = None) -> str:
    """'jax', 'tf' or 'fit' for cfg.trainer ('auto' = the backend's own: jax on JAX, tf on
    TensorFlow, else fit)."""
    backend = backend or active_backend()
    if cfg.trainer == "auto":
        return AUTO_TRAINERS.get(backend, "fit")
    if cfg.trainer not in ("jax", "tf", "fit"):
        raise ValueError(f"train.trainer: expected one of auto, fit, jax, tf, found "
                         f"{cfg.trainer!r}")
    if cfg.trainer != "fit" and AUTO_TRAINERS.get(backend) != cfg.trainer:
        needed = {v: k for k, v in AUTO_TRAINERS.items()}[cfg.trainer]
        name = {"jax": "JAX", "tensorflow": "TensorFlow"}[needed]
        raise ValueError(f"train.trainer: {cfg.trainer!r} needs the {name} backend (set "
                         f"KERAS_BACKEND={needed} before importing keras), found backend "
                         f"{backend!r}")
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
    """Seeds Python, NumPy and Keras' global seed generator (model initialisers).

    On the TensorFlow backend this is keras.utils.set_random_seed. On the others that function
    would import TensorFlow whenever it is installed (seconds, and a GPU context), so instead:
    keras.backend.clear_session() drops Keras' global seed generator, whose replacement draws
    its seed from Python's `random`, which is seeded here (and torch, on its backend).
    """
    import random

    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        keras.utils.set_random_seed(seed)
        return
    keras.backend.clear_session()
    random.seed(seed)
    np.random.seed(seed)
    if backend == "torch":
        import torch

        torch.manual_seed(seed)


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


_RELEASE_HOOKS: list[Callable[[], None]] = []


def on_release(hook: Callable[[], None]) -> None:
    """Registers a cache clearer that release_memory runs (the JAX trainer's compiled
    evaluators), so that this module needs to know none of the trainers."""
    if hook not in _RELEASE_HOOKS:
        _RELEASE_HOOKS.append(hook)


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
    for hook in _RELEASE_HOOKS:
        hook()
    if backend == "jax":
        import jax

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
