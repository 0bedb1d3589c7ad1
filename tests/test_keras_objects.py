"""`keras.saving.load_model` of a saved resnet_nas model after `import resnet_nas` only."""

import subprocess
import sys

import pytest

from resnet_nas.nets import build_model, cifar_resnet

LOAD = """
import sys
{imports}
model = keras.saving.load_model(sys.argv[1])
print(model.count_params())
"""


def _saved_shortcut_a_model(tmp_path):
    model = build_model(cifar_resnet(8, shortcut="A", input_shape=(8, 8, 3)))
    assert any(type(layer).__name__ == "ChannelPad" for layer in model.layers)
    path = tmp_path / "m.keras"
    model.save(path)
    return path, model.count_params()


def _load_in_fresh_process(imports, path):
    return subprocess.run([sys.executable, "-c", LOAD.format(imports=imports), str(path)],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow  # a fresh process importing TensorFlow: seconds
@pytest.mark.parametrize("imports", [
    "import resnet_nas\nimport keras",  # the hook: Keras imported after the package
    "import keras\nimport resnet_nas",
])
def test_load_model_after_import_resnet_nas(tmp_path, imports):
    path, params = _saved_shortcut_a_model(tmp_path)
    out = _load_in_fresh_process(imports, path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert int(out.stdout.split()[-1]) == params


def test_import_resnet_nas_imports_no_keras():
    code = "import sys, resnet_nas; print('keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.strip() == "False", out.stderr
