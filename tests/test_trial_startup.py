"""A trial process's start-up imports its backend and builders, keeps out the optional
integrations TensorFlow and Keras would import because they are installed, and freezes what
it imported out of the garbage collector."""

import json
import subprocess
import sys

import numpy as np
import pytest

from resnet_nas.trial_startup import collector_paused, keep_out, unused_modules
from tests.helpers import REPO, cli_env


def test_each_backend_keeps_its_own_modules():
    assert "jax" in unused_modules("tensorflow")
    assert "jax" not in unused_modules("jax")
    assert "tensorflow" not in unused_modules("jax")
    for backend in ("tensorflow", "jax", "torch"):
        assert {"sklearn", "pandas", "matplotlib"} <= set(unused_modules(backend))


def test_a_module_kept_out_cannot_be_imported(monkeypatch):
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    monkeypatch.setattr(sys, "modules", dict(sys.modules))  # restored after the test
    keep_out(("colorsys",))
    with pytest.raises(ImportError):
        import colorsys  # noqa: F401


def test_digits_load_with_scikit_learn_kept_out(monkeypatch):
    from resnet_nas.data import digits

    expected = digits.read_digits()
    monkeypatch.setitem(sys.modules, "sklearn", None)
    assert digits.digits_file() is not None
    images, target = digits.read_digits()
    np.testing.assert_array_equal(images, expected[0])
    np.testing.assert_array_equal(target, expected[1])


def test_the_collector_is_paused_inside_and_as_it_was_after():
    import gc

    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        with collector_paused():
            assert not gc.isenabled()
            raise RuntimeError("an import failed")
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # a caller's own pause is not ended by this one
    finally:
        gc.enable()


START = """
import gc, json, os, sys
os.environ["KERAS_BACKEND"] = "tensorflow"
from resnet_nas.trial_startup import start_trial_process, unused_modules
during = []
gc.callbacks.append(lambda phase, info: during.append(info["generation"])
                    if phase == "start" else None)
start_trial_process("tensorflow")
gc.callbacks.clear()
frozen = gc.get_freeze_count()
gc_on = gc.isenabled()
import tensorflow as tf
grappler_off = tf.config.optimizer.get_experimental_options().get("disable_meta_optimizer")
gpus = len(tf.config.list_physical_devices("GPU"))
growth = os.environ.get("TF_FORCE_GPU_ALLOW_GROWTH")
from resnet_nas.config import DataConfig, TrainConfig
from resnet_nas.data import load_dataset
from resnet_nas.nets import cifar_resnet
from resnet_nas.nets.build import build_model
from resnet_nas.train import train_model
data = load_dataset(DataConfig(name="digits", validation_split=0.2), seed=0)
model = build_model(cifar_resnet(8, widths=(4, 4, 8), input_shape=(8, 8, 1), num_classes=10))
result = train_model(model, data, TrainConfig(epochs=1, batch_size=64))
print(json.dumps({"loaded": [m for m in unused_modules("tensorflow") if sys.modules.get(m)],
                  "frozen": frozen, "gc_on": gc_on, "collections_during": during,
                  "epochs": result.epochs_run,
                  "grappler_off": bool(grappler_off), "gpus": gpus, "growth": growth,
                  "loss": result.history[0].train_loss}))
"""


def test_a_tensorflow_trial_process_starts_lean_and_trains():
    out = subprocess.run([sys.executable, "-c", START], cwd=REPO, env=cli_env(),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["loaded"] == []  # nor did training import them later
    assert got["frozen"] > 10_000  # the backend's objects, out of every collection
    assert got["gc_on"]  # paused for the imports only
    # none while importing, nor when the collector came back on (the imports were frozen
    # first: otherwise its first collection walks them all)
    assert got["collections_during"] == []
    assert got["epochs"] == 1 and np.isfinite(got["loss"])
    assert got["grappler_off"] == (got["gpus"] == 0)  # on a CPU it only costs compile time
    assert got["growth"] == "true"  # two trial processes can share one GPU
