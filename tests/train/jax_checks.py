"""Checks of the JAX trainer, run in a subprocess with KERAS_BACKEND=jax.

Usage: python tests/train/jax_checks.py CHECK [CHECK ...]   (prints one JSON object)

The pytest file test_jax_scan.py runs this once (the Keras/JAX import is paid once) and
asserts on the returned numbers. Every check returns plain JSON data.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path

os.environ["KERAS_BACKEND"] = "jax"
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402

from helpers import make_data, tiny_model  # noqa: E402

import importlib.util  # noqa: E402

_spec = importlib.util.spec_from_file_location("helpers_data", HERE.parent / "data" /
                                               "helpers.py")
sys.modules["helpers_data"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sys.modules["helpers_data"])
from resnet_nas.config import AugmentConfig, TrainConfig  # noqa: E402


def _cfg(**kw) -> TrainConfig:
    base = dict(epochs=2, batch_size=32, learning_rate=0.1, warmup_epochs=0.5, weight_decay=1e-3,
                eval_batch_size=64, label_smoothing=0.1, trainer="jax", backend="jax",
                augment=AugmentConfig(crop_padding=2, flip=True))
    base.update(kw)
    return TrainConfig(**base)


def _model(seed: int = 0, precision: str = "float32", **kw):
    from resnet_nas.train import precision_policy
    from resnet_nas.train.runtime import seed_all

    seed_all(seed)
    with precision_policy(precision):
        return tiny_model(**kw)


def check_train() -> dict:
    """Two epochs: history, on_epoch, write-back, evaluate() agreement, no TensorFlow."""
    from resnet_nas.input import ArrayEvalFeed
    from resnet_nas.train import evaluate, jax_scan, train_model

    data = make_data()
    model = _model()
    before = [np.array(v.value) for v in model.trainable_variables]
    seen, steps = [], []
    jax_scan.STEP_REPORT_SECONDS = 0.0  # every step counts as a long epoch's report point
    result = train_model(model, data, _cfg(), on_epoch=lambda m: seen.append(m.epoch) or True,
                         on_step=lambda p: steps.append([p.epoch, p.step, p.steps]))
    after = [np.array(v.value) for v in model.trainable_variables]
    changed = sum(not np.allclose(a, b) for a, b in zip(before, after))
    loss, acc = evaluate(model, ArrayEvalFeed(data.x_val, data.y_val, _cfg()))
    return {"result": result.to_dict(), "seen": seen, "changed": changed, "steps": steps,
            "mode": jax_scan.epoch_mode(),
            "n_vars": len(before), "eval": [loss, acc],
            "tensorflow_imported": "tensorflow" in sys.modules}


def check_stream() -> dict:
    """Two epochs on streamed photos (host mode: tf.data batches, double-buffered on the
    device); the validation metric equals evaluate() on the same feed."""
    import tempfile

    from helpers_data import make_photo_folder
    from resnet_nas.config import DataConfig
    from resnet_nas.input import open_input
    from resnet_nas.train import evaluate, train_model

    with tempfile.TemporaryDirectory() as tmp:
        root = make_photo_folder(Path(tmp) / "p", n_train=12, n_test=2)
        cfg = DataConfig(name="folder", path=str(root), cache_dir=str(Path(tmp) / "c"),
                         cache="none", validation_split=0.25)
        inp = open_input(cfg, 0, (12, 12, 3))
        model = _model()
        train_cfg = _cfg(batch_size=8, eval_batch_size=8)
        result = train_model(model, inp, train_cfg)
        loss, acc = evaluate(model, inp.eval_feed("val", train_cfg))
        return {"result": result.to_dict(), "eval": [loss, acc],
                "streamed": type(inp).__name__}


def check_modes() -> dict:
    """scan and loop epochs train identically from the same initial weights."""
    from resnet_nas.train import train_model

    data = make_data()
    out = {}
    for mode in ("scan", "loop"):
        os.environ["RESNET_NAS_JAX_EPOCH"] = mode
        model = _model(seed=3)
        result = train_model(model, data, _cfg())
        out[mode] = [[m.train_loss, m.val_loss, m.val_accuracy] for m in result.history]
    os.environ.pop("RESNET_NAS_JAX_EPOCH")
    return out


def check_donation() -> dict:
    """The GPU path donates the training state to each step/epoch (off on CPU by default):
    forced on here, both epoch modes train exactly as without donation."""
    from resnet_nas.train import jax_scan, train_model

    data = make_data()
    original = jax_scan._EpochRunner.__init__
    out = {}
    try:
        for donate in (False, True):
            def init(self, *args, _donate=donate, **kwargs):
                kwargs["donate"] = _donate
                original(self, *args, **kwargs)

            jax_scan._EpochRunner.__init__ = init
            for mode in ("scan", "loop"):
                os.environ["RESNET_NAS_JAX_EPOCH"] = mode
                model = _model(seed=3)
                result = train_model(model, data, _cfg())
                weights = float(sum(np.abs(np.asarray(v.value)).sum()
                                    for v in model.trainable_variables))
                out[f"{mode}_{'donated' if donate else 'kept'}"] = [
                    [m.train_loss, m.val_loss] for m in result.history] + [[weights]]
    finally:
        jax_scan._EpochRunner.__init__ = original
        os.environ.pop("RESNET_NAS_JAX_EPOCH", None)
    return out


def check_bf16() -> dict:
    """mixed_bfloat16: bf16 compute, float32 master weights and BN statistics."""
    from resnet_nas.train import train_model

    data = make_data()
    model = _model(precision="mixed_bfloat16")
    result = train_model(model, data, _cfg(precision="mixed_bfloat16"))
    bn = [(v.path, str(v.dtype)) for v in model.non_trainable_variables]
    trainable = sorted({str(v.dtype) for v in model.trainable_variables})
    compute = sorted({layer.compute_dtype for layer in model.layers if layer.weights})
    mismatch = None
    try:
        train_model(_model(), data, _cfg(precision="mixed_bfloat16"))
    except ValueError as exc:
        mismatch = str(exc)
    return {"history": [m.to_dict() for m in result.history], "bn": bn,
            "trainable_dtypes": trainable, "compute_dtypes": compute, "mismatch": mismatch}


def check_stop_and_diverge() -> dict:
    """on_epoch returning False stops; an exploding loss is reported as diverged."""
    from resnet_nas.train import train_model

    data = make_data()
    stopped = train_model(_model(), data, _cfg(epochs=3), on_epoch=lambda m: False)
    calls = []
    diverged = train_model(_model(), data,
                           _cfg(epochs=3, learning_rate=1e6, warmup_epochs=0.0,
                                optimizer="sgd", momentum=0.0),
                           on_epoch=lambda m: calls.append(m.epoch) or True)
    return {"stopped": stopped.to_dict(), "diverged": diverged.to_dict(), "calls": calls}


def check_augment() -> dict:
    """Device augmentation equals the numpy reference; offsets and flips are per example."""
    import jax
    import jax.numpy as jnp

    from resnet_nas.input.augment import crop_flip_numpy
    from resnet_nas.train.jax_scan import crop_flip_jax, random_augment_jax

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(16, 10, 9, 3), dtype=np.uint8)
    out = {}
    for mode in ("reflect", "zero"):
        offsets = rng.integers(0, 7, size=(16, 2)).astype(np.int32)
        flips = rng.random(16) < 0.5
        ref = crop_flip_numpy(x, offsets, flips, 3, mode)
        got = np.asarray(crop_flip_jax(jnp.asarray(x), jnp.asarray(offsets), jnp.asarray(flips),
                                       3, mode))
        out[f"equal_{mode}"] = bool(np.array_equal(ref, got))
    # One image repeated: distinct outputs across the batch mean per-example randomness.
    same = np.repeat(x[:1], 32, axis=0)
    aug = np.asarray(random_augment_jax(jnp.asarray(same), jax.random.PRNGKey(1),
                                        AugmentConfig(crop_padding=3, flip=True)))
    out["distinct_in_batch"] = len({a.tobytes() for a in aug})
    # per_example=False: one draw for the batch, so every copy of the image stays equal.
    shared = np.asarray(random_augment_jax(
        jnp.asarray(same), jax.random.PRNGKey(1),
        AugmentConfig(crop_padding=3, flip=True, per_example=False)))
    out["distinct_per_batch"] = len({a.tobytes() for a in shared})
    out["per_batch_moved"] = not np.array_equal(shared[0], same[0]) or not np.array_equal(
        np.asarray(random_augment_jax(jnp.asarray(same), jax.random.PRNGKey(2),
                                      AugmentConfig(3, True, per_example=False)))[0], same[0])
    return out


def check_regularization() -> dict:
    """stateless_call(return_losses=True) computes L2 from the variables passed in, and the
    trainer's loss adds it (and leaves it out for AdamW)."""
    import jax.numpy as jnp

    from resnet_nas.train.optim import cross_entropy, make_optimizer
    from resnet_nas.train.jax_scan import _EpochRunner

    wd = 0.05
    model = _model(weight_decay=wd)
    tv = [v.value * 3.0 for v in model.trainable_variables]
    ntv = [v.value for v in model.non_trainable_variables]
    x = jnp.asarray(np.random.default_rng(0).normal(size=(4, 12, 12, 3)), jnp.float32)
    y = jnp.asarray([0, 1, 2, 3], jnp.int32)
    logits, _, losses = model.stateless_call(tv, ntv, x, training=True, return_losses=True)
    expected = sum(wd * float(jnp.sum(t ** 2)) / 2 for t, v in
                   zip(tv, model.trainable_variables) if v.regularizer is not None)
    ce = float(jnp.mean(cross_entropy(y, logits)))
    out = {"losses_sum": float(sum(losses)), "expected_l2": expected, "ce": ce}
    for opt in ("nesterov", "adamw"):
        cfg = _cfg(optimizer=opt, label_smoothing=0.0, weight_decay=wd)
        optimizer = make_optimizer(cfg, 4, model)
        optimizer.build(model.trainable_variables)
        runner = _EpochRunner(model, optimizer, cfg, 4, opt != "adamw", "loop", False)
        ov = [v.value for v in optimizer.variables]
        _, (loss, _, _) = runner._loss(tv, ntv, ov, x, y)
        out[f"loss_{opt}"] = float(loss)
    return out


def check_schedule() -> dict:
    """The optimizer's per-step learning rate (inside jit) is learning_rate_at(step)."""
    import jax
    import jax.numpy as jnp

    from resnet_nas.train.optim import learning_rate_at, make_optimizer, schedule_spec

    model = _model()
    out = {}
    for kind in ("cosine", "onecycle", "step", "constant"):
        cfg = _cfg(optimizer="sgd", momentum=0.0, schedule=kind, epochs=4, warmup_epochs=1.0)
        steps = 5
        opt = make_optimizer(cfg, steps, model)
        opt.build(model.trainable_variables)
        tv = [v.value for v in model.trainable_variables]
        ov = [v.value for v in opt.variables]
        apply = jax.jit(opt.stateless_apply)
        got = []
        for _ in range(cfg.epochs * steps):
            grads = [jnp.ones_like(t) for t in tv]
            new_tv, ov = apply(ov, grads, tv)
            got.append(float(tv[0].ravel()[0] - new_tv[0].ravel()[0]))
            tv = new_tv
        want = learning_rate_at(np.arange(cfg.epochs * steps), schedule_spec(cfg, steps))
        out[kind] = {"got": got, "want": [float(w) for w in want]}
    return out


def check_optimizers() -> dict:
    """Every optimizer and float16 loss scaling trains to a finite loss."""
    from resnet_nas.train import train_model

    data = make_data()
    out = {}
    for opt in ("sgd", "nesterov", "adam", "adamw"):
        lr = 0.1 if opt in ("sgd", "nesterov") else 3e-3
        r = train_model(_model(), data, _cfg(optimizer=opt, learning_rate=lr, epochs=1))
        out[opt] = r.history[-1].to_dict()
    r = train_model(_model(precision="mixed_float16"), data,
                    _cfg(precision="mixed_float16", epochs=1))
    out["mixed_float16"] = r.history[-1].to_dict()
    return out


def check_fit_on_jax() -> dict:
    """trainer='fit' on the JAX backend: Keras model.fit, same result format."""
    from resnet_nas.train import train_model

    r = train_model(_model(), make_data(), _cfg(trainer="fit"))
    return r.to_dict()


def check_compile() -> dict:
    """Reports compile_seconds and the persistent cache's files (env set by the caller)."""
    from resnet_nas.train import train_model
    from resnet_nas.train.jax_scan import enable_compilation_cache

    data = make_data()
    r = train_model(_model(), data, _cfg(epochs=1))
    cache = enable_compilation_cache()
    files = sorted(os.listdir(cache)) if cache else []
    return {"compile_seconds": r.compile_seconds, "cache_dir": cache, "n_files": len(files)}


def check_resnet() -> dict:
    """The real builder: a CIFAR ResNet-8 trains one epoch under bf16."""
    from resnet_nas.nets import ResNetConfig, build_model, cifar_resnet
    from resnet_nas.train import precision_policy, train_model

    data = make_data(size=8, num_classes=10)
    with precision_policy("mixed_bfloat16"):
        model = build_model(cifar_resnet(depth=8, num_classes=10, input_shape=(8, 8, 3)),
                            config=ResNetConfig(weight_decay=5e-4, batch_norm_decay=0.9))
    r = train_model(model, data, _cfg(epochs=1, precision="mixed_bfloat16"))
    return {"history": [m.to_dict() for m in r.history], "compile_seconds": r.compile_seconds,
            "bn_dtypes": sorted({str(v.dtype) for v in model.non_trainable_variables})}


def check_release() -> dict:
    """release_memory(delete_device_arrays=True) leaves no live device arrays."""
    import jax

    from resnet_nas.train import release_memory, train_model

    model = _model()
    train_model(model, make_data(), _cfg(epochs=1))
    before = len(jax.live_arrays())
    del model
    release_memory(delete_device_arrays=True)
    return {"before": before, "after": len(jax.live_arrays())}


CHECKS = {name[len("check_"):]: fn for name, fn in globals().items()
          if name.startswith("check_")}


def main(names: list[str]) -> int:
    import time

    out = {}
    for name in names:
        t0 = time.perf_counter()
        try:
            out[name] = {"ok": True, "value": CHECKS[name]()}
        except Exception:
            out[name] = {"ok": False, "error": traceback.format_exc()}
        out[name]["seconds"] = time.perf_counter() - t0
        out[name]["tensorflow_imported"] = "tensorflow" in sys.modules
    print("JSON:" + json.dumps(out, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or list(CHECKS)))
