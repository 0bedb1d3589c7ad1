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
