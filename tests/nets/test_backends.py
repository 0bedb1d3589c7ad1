"""The same model on the JAX backend (CPU), in a subprocess: the backend is fixed at import."""

import json
import os
import subprocess
import sys

import pytest

from resnet_nas.nets import cifar_resnet, complexity

SCRIPT = r"""
import json, numpy as np, keras
from resnet_nas.nets import build_model, cifar_resnet
arch = cifar_resnet(20, version=%d, input_shape=(16, 16, 3))
model = build_model(arch)
y = model(np.random.default_rng(0).normal(size=(2, 16, 16, 3)).astype("float32"), training=True)
print(json.dumps({"backend": keras.backend.backend(), "params": model.count_params(),
                  "shape": list(y.shape), "finite": bool(np.isfinite(np.asarray(y)).all())}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("version", [1, 2])
def test_jax_backend_smoke(version):
    pytest.importorskip("jax")
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, "-c", SCRIPT % version], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["backend"] == "jax"
    assert result["params"] == complexity(cifar_resnet(20, version=version,
                                                       input_shape=(16, 16, 3))).params
    assert result["shape"] == [2, 10] and result["finite"]


BN_SCRIPT = r"""
import json, numpy as np, keras
from resnet_nas.nets.resnet_utils import SlimBatchNormalization
x = np.random.default_rng(0).normal(1.0, 2.0, size=(2, 7, 7, 3)).astype("float32")
layer = SlimBatchNormalization(momentum=0.5)
layer.build(x.shape)
# The JAX trainer's way: a jitted stateless call returns the updated moving statistics.
import jax
fn = jax.jit(lambda tv, ntv, x: layer.stateless_call(tv, ntv, x, training=True))
_, ntv = fn([v.value for v in layer.trainable_variables],
            [v.value for v in layer.non_trainable_variables], x)
names = [v.name for v in layer.non_trainable_variables]
print(json.dumps({"moving_variance": np.asarray(ntv[names.index("moving_variance")]).tolist(),
                  "var": x.var(axis=(0, 1, 2)).tolist()}))
"""


@pytest.mark.slow
def test_slim_batch_norm_under_jax_jit():
    pytest.importorskip("jax")
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, "-c", BN_SCRIPT], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    expected = [0.5 + 0.5 * v * 98 / 97 for v in result["var"]]
    assert result["moving_variance"] == pytest.approx(expected, rel=1e-5)
