"""The head of slim's generators as the seed documents it: dense prediction, scoped layers,
slim's signatures (positional calls), and the module docstring's two examples."""

import inspect
import re
from pathlib import Path

import keras
import numpy as np
import pytest

from resnet_nas.nets import resnet_v1, resnet_v2
from resnet_nas.nets.config import ResNetConfig

GENERATORS = {1: resnet_v1, 2: resnet_v2}


def _tiny_blocks(version):
    mod = GENERATORS[version]
    block = mod.resnet_v1_block if version == 1 else mod.resnet_v2_block
    return [block("block1", 2, 1, 2), block("block2", 4, 1, 1)]


def _tiny(version, inputs, *args, **kwargs):
    fn = resnet_v1.resnet_v1 if version == 1 else resnet_v2.resnet_v2
    return fn(inputs, _tiny_blocks(version), *args, root_depth=4, **kwargs)


README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_python_blocks():
    text = README.read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


@pytest.mark.slow
def test_readme_slim_examples_run_as_written():
    """The README's copy of slim's two examples: v1 classification, v2 segmentation."""
    blocks = [b for b in _readme_python_blocks() if "resnet_v2_101" in b]
    assert len(blocks) == 1
    namespace: dict = {}
    exec(blocks[0], namespace)  # noqa: S102 - our own README
    net, end_points = namespace["net"], namespace["end_points"]
    assert net.shape[1:] == (33, 33, 21)
    assert end_points["predictions"].shape[1:] == (33, 33, 21)
    assert "resnet_v2_101/spatial_squeeze" not in end_points


@pytest.mark.parametrize("version, task", [
    (1, "segmentation"), pytest.param(2, "classification", marks=pytest.mark.slow)])
def test_seed_docstring_examples_run_as_written(version, task):
    """slim's module docstring: ResNet-101 classification (224) and segmentation (513, OS 16);
    the README test above runs the other two combinations."""
    fn = resnet_v1.resnet_v1_101 if version == 1 else resnet_v2.resnet_v2_101
    scope = f"resnet_v{version}_101"
    if task == "classification":
        inputs = keras.Input((224, 224, 3))
        net, end_points = fn(inputs, 1000, is_training=False, config=ResNetConfig())
        assert net.shape[1:] == (1000,) and end_points["predictions"].shape[1:] == (1000,)
        assert end_points[f"{scope}/spatial_squeeze"] is net
        return
    inputs = keras.Input((513, 513, 3))
    net, end_points = fn(inputs, 21, is_training=False, global_pool=False, output_stride=16,
                         config=ResNetConfig())
    assert net.shape[1:] == (33, 33, 21)
    assert end_points[f"{scope}/logits"].shape[1:] == (33, 33, 21)
    assert end_points["predictions"].shape[1:] == (33, 33, 21)
    assert f"{scope}/spatial_squeeze" not in end_points
    assert "global_pool" not in end_points


@pytest.mark.parametrize("version", [1, 2])
def test_dense_logits_and_predictions_keep_their_map(version):
    x = keras.Input((33, 33, 3))
    net, end_points = _tiny(version, x, 5, global_pool=False, scope="seg")
    assert net.shape[1:] == (5, 5, 5)  # 33 -> 17 (root conv) -> 9 (pool) -> 5 (block1)
    model = keras.Model(x, [net, end_points["predictions"]])
    logits, probs = (np.asarray(t) for t in model(np.random.default_rng(0).normal(
        size=(2, 33, 33, 3)).astype("float32")))
    assert logits.shape == probs.shape == (2, 5, 5, 5)
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(probs, np.exp(logits) / np.exp(logits).sum(-1, keepdims=True),
                               rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("shape, global_pool, squeezed", [
    ((32, 32, 3), True, True),      # global pool: always 1x1
    ((8, 8, 3), False, True),       # a static 1x1 map: slim's squeeze
    ((None, None, 3), False, False),  # unknown size: cannot be known to be 1x1, kept rank 4
    ((65, 65, 3), False, False),    # a dense map
])
def test_spatial_squeeze_only_on_a_known_1x1_map(shape, global_pool, squeezed):
    x = keras.Input(shape)
    net, end_points = _tiny(1, x, 7, global_pool=global_pool, scope="r")
    assert (net.shape[1:] == (7,)) is squeezed
    assert ("r/spatial_squeeze" in end_points) is squeezed
    assert end_points["r/logits"].shape.__len__() == 4


def test_spatial_squeeze_false_keeps_1x1():
    x = keras.Input((32, 32, 3))
    net, end_points = _tiny(2, x, 7, spatial_squeeze=False, scope="r")
    assert net.shape[1:] == (1, 1, 7) and end_points["predictions"].shape[1:] == (1, 1, 7)


def test_two_networks_of_different_scopes_share_one_model():
    """A teacher and a student (or two towers) in one functional model: every layer is scoped."""
    x = keras.Input((32, 32, 3))
    teacher, t_eps = _tiny(1, x, 10, scope="teacher")
    student, s_eps = _tiny(2, x, 10, scope="student")
    model = keras.Model(x, [teacher, student, t_eps["predictions"], s_eps["predictions"]])
    names = [layer.name for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    assert len(names) == len(set(names))
    assert all(n.startswith(("teacher__", "student__")) for n in names), names
    for scope in ("teacher", "student"):
        for head in ("pool5", "logits", "SpatialSqueeze", "predictions"):
            model.get_layer(f"{scope}__{head}")  # raises if missing
    outs = model(np.zeros((1, 32, 32, 3), "float32"))
    assert [tuple(o.shape) for o in outs] == [(1, 10)] * 4


SLIM_V1 = ["inputs", "blocks", "num_classes", "is_training", "global_pool", "output_stride",
           "include_root_block", "spatial_squeeze", "store_non_strided_activations", "reuse",
           "scope"]
SLIM_V1_50 = ["inputs", "num_classes", "is_training", "global_pool", "output_stride",
              "spatial_squeeze", "store_non_strided_activations", "min_base_depth",
              "depth_multiplier", "reuse", "scope"]
SLIM_V1_152 = ["inputs", "num_classes", "is_training", "global_pool", "output_stride",
               "store_non_strided_activations", "spatial_squeeze", "min_base_depth",
               "depth_multiplier", "reuse", "scope"]
SLIM_V2 = ["inputs", "blocks", "num_classes", "is_training", "global_pool", "output_stride",
           "include_root_block", "spatial_squeeze", "reuse", "scope"]
SLIM_V2_50 = ["inputs", "num_classes", "is_training", "global_pool", "output_stride",
              "spatial_squeeze", "reuse", "scope"]


def _positional(fn):
    return [p.name for p in inspect.signature(fn).parameters.values()
            if p.kind is p.POSITIONAL_OR_KEYWORD]


@pytest.mark.parametrize("fn, expected", [
    (resnet_v1.resnet_v1, SLIM_V1), (resnet_v1.resnet_v1_50, SLIM_V1_50),
    (resnet_v1.resnet_v1_101, SLIM_V1_50), (resnet_v1.resnet_v1_152, SLIM_V1_152),
    (resnet_v1.resnet_v1_200, SLIM_V1_152), (resnet_v2.resnet_v2, SLIM_V2),
    (resnet_v2.resnet_v2_50, SLIM_V2_50), (resnet_v2.resnet_v2_200, SLIM_V2_50),
])
def test_positional_order_is_slims(fn, expected):
    assert _positional(fn)[:len(expected)] == expected


def test_positional_calls():
    x = keras.Input((32, 32, 3))
    blocks = _tiny_blocks(1)
    net, eps = resnet_v1.resnet_v1(x, blocks, 10, True, True, None, True, False, False, None,
                                   "pos1", root_depth=4)
    assert net.shape[1:] == (1, 1, 10) and "pos1/logits" in eps  # spatial_squeeze=False
    net, eps = resnet_v2.resnet_v2(x, _tiny_blocks(2), 10, True, True, None, True, True, None,
                                   "pos2", root_depth=4)
    assert net.shape[1:] == (10,) and "pos2/spatial_squeeze" in eps
    x = keras.Input((64, 64, 3))
    # resnet_v1_50(inputs, num_classes, is_training, global_pool, output_stride, spatial_squeeze,
    #              store_non_strided_activations, min_base_depth, depth_multiplier, reuse, scope)
    net, eps = resnet_v1.resnet_v1_50(x, 10, False, False, None, True, False, 8, 0.125, None,
                                      "pos50")
    assert net.shape[1:] == (2, 2, 10) and "pos50/block4" in eps
    assert eps["pos50/block1"].shape[-1] == 32  # 4 * max(int(64 * 0.125), 8)


@pytest.mark.parametrize("version", [1, 2])
def test_reuse_true_is_refused_with_the_keras_way(version):
    with pytest.raises(ValueError, match="call that model again"):
        _tiny(version, keras.Input((32, 32, 3)), 10, reuse=True)


@pytest.mark.slow
@pytest.mark.parametrize("version", [1, 2])
def test_seed_segmentation_example_forward_pass(version):
    fn = resnet_v1.resnet_v1_101 if version == 1 else resnet_v2.resnet_v2_101
    inputs = keras.Input((513, 513, 3))
    net, end_points = fn(inputs, 21, is_training=False, global_pool=False, output_stride=16,
                         config=ResNetConfig())
    model = keras.Model(inputs, [net, end_points["predictions"]])
    logits, probs = model(np.random.default_rng(0).uniform(size=(1, 513, 513, 3)).astype(
        "float32"))
    assert tuple(logits.shape) == tuple(probs.shape) == (1, 33, 33, 21)
    np.testing.assert_allclose(np.asarray(probs).sum(-1), 1.0, rtol=1e-4)
