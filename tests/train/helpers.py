"""Tiny stand-ins for the trainer tests: a learnable uint8 data set and a small Keras CNN."""

from __future__ import annotations

import numpy as np

from resnet_nas.data import Dataset


def make_data(n_train: int = 256, n_val: int = 96, size: int = 12, num_classes: int = 4,
              seed: int = 0) -> Dataset:
    """Each class is a distinct colour plus noise: learnable in a couple of epochs, and the
    label survives crops and flips."""
    rng = np.random.default_rng(seed)
    colours = rng.integers(40, 216, size=(num_classes, 3))

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, num_classes, size=n).astype(np.int32)
        noise = rng.normal(0, 30, size=(n, size, size, 3))
        x = np.clip(colours[y][:, None, None, :] + noise, 0, 255).astype(np.uint8)
        return x, y

    x_tr, y_tr = split(n_train)
    x_va, y_va = split(n_val)
    x_te, y_te = split(n_val)
    return Dataset("tiny", x_tr, y_tr, x_va, y_va, x_te, y_te, num_classes,
                   [f"colour{i}" for i in range(num_classes)])


def tiny_model(input_shape=(12, 12, 3), num_classes: int = 4, weight_decay: float = 1e-3):
    """Raw pixels scaled to [-1, 1] (the trainers feed raw pixels, as to every model of the
    search), Conv-BN-ReLU x2, global pool, dense; slim-style L2 (wd * sum(w^2) / 2) on
    kernels."""
    import keras
    from keras import layers

    reg = keras.regularizers.L2(weight_decay / 2) if weight_decay else None
    inp = keras.Input(input_shape)
    x = layers.Rescaling(1 / 127.5, offset=-1.0, dtype="float32")(inp)
    x = layers.Conv2D(8, 3, padding="same", use_bias=False, kernel_regularizer=reg)(x)
    x = layers.BatchNormalization(momentum=0.9)(x)
    x = layers.ReLU()(x)
    x = layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False, kernel_regularizer=reg)(x)
    x = layers.BatchNormalization(momentum=0.9)(x)
    x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling2D()(x)
    out = layers.Dense(num_classes, kernel_regularizer=reg, dtype="float32")(x)
    return keras.Model(inp, out)


def train_config(**kw):
    """The trainer tests' TrainConfig: 2 epochs of batch 32, warm-up, L2, label smoothing and
    crop+flip, so that every part of a trainer is exercised; `kw` overrides."""
    from resnet_nas.config import AugmentConfig, TrainConfig

    base = dict(epochs=2, batch_size=32, learning_rate=0.1, warmup_epochs=0.5, weight_decay=1e-3,
                eval_batch_size=64, label_smoothing=0.1,
                augment=AugmentConfig(crop_padding=2, flip=True, pad_mode="zero"))
    base.update(kw)
    return TrainConfig(**base)


def seeded_model(precision: str = "float32"):
    """tiny_model() with the same initial weights every time, under `precision`."""
    import keras

    from resnet_nas.train import precision_policy

    keras.utils.set_random_seed(0)
    with precision_policy(precision):
        return tiny_model()
