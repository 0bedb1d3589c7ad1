import keras
import numpy as np
import pytest

from resnet_nas.nets import resnet_utils, resnet_v1, resnet_v2
from resnet_nas.nets.resnet_utils import ResNetConfig


def _trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


@pytest.mark.parametrize("fn, trainable, total", [
    (resnet_v1.resnet_v1_50, 25_557_032, 25_610_152),
    (resnet_v2.resnet_v2_50, 25_568_360, 25_613_800),
])
def test_resnet_50_param_counts_equal_slim(fn, trainable, total):
    x = keras.Input((224, 224, 3))
    net, _ = fn(x, 1000)
    model = keras.Model(x, net)
    assert _trainable(model) == trainable
    assert model.count_params() == total


def test_resnet_v1_end_points_and_shapes():
    x = keras.Input((224, 224, 3))
    net, eps = resnet_v1.resnet_v1_50(x, 1000, scope="resnet")
    assert net.shape[1:] == (1000,)
    assert eps["resnet/conv1"].shape[1:] == (112, 112, 64)
    for block, (hw, depth) in {"block1": (28, 256), "block2": (14, 512), "block3": (7, 1024),
                               "block4": (7, 2048)}.items():
        assert eps[f"resnet/{block}"].shape[1:] == (hw, hw, depth)
    assert "resnet/block1/unit_1/bottleneck_v1/shortcut" in eps
    assert "resnet/block1/unit_2/bottleneck_v1/shortcut" not in eps  # subsample: no end point
    assert "resnet/block2/unit_4/bottleneck_v1/conv3" in eps
    assert eps["global_pool"].shape[1:] == (1, 1, 2048)
    assert eps["resnet/logits"].shape[1:] == (1, 1, 1000)
    assert eps["resnet/spatial_squeeze"].shape[1:] == (1000,)
    assert eps["predictions"].shape[1:] == (1000,)
    assert not any("pool1" in k for k in eps)
    assert list(eps)[-4:] == ["global_pool", "resnet/logits", "resnet/spatial_squeeze",
                              "predictions"]


@pytest.mark.parametrize("size, output_stride, expected", [
    (224, None, (28, 14, 7, 7)), (224, 16, (28, 14, 14, 14)), (224, 8, (28, 28, 28, 28)),
    (225, None, (29, 15, 8, 8)), (321, 16, (41, 21, 21, 21)),
])
@pytest.mark.parametrize("version", [1, 2])
def test_block_sizes(size, output_stride, expected, version):
    fn = resnet_v1.resnet_v1_50 if version == 1 else resnet_v2.resnet_v2_50
    x = keras.Input((size, size, 3))
    _, eps = fn(x, None, global_pool=False, output_stride=output_stride, scope="r")
    assert tuple(eps[f"r/block{i + 1}"].shape[1] for i in range(4)) == expected


@pytest.mark.parametrize("output_stride, message", [(6, "multiple of 4"),
                                                    (64, "cannot be reached"),
                                                    (12, "cannot be reached")])
def test_invalid_output_stride(output_stride, message):
    with pytest.raises(ValueError, match=message):
        resnet_v1.resnet_v1_50(keras.Input((64, 64, 3)), output_stride=output_stride)


def test_unknown_batch_height_width_and_no_logits():
    x = keras.Input((None, None, 3))
    blocks = [resnet_v1.resnet_v1_block("block1", 4, 2, 2),
              resnet_v1.resnet_v1_block("block2", 8, 2, 1)]
    net, eps = resnet_v1.resnet_v1(x, blocks, None, global_pool=False, scope="r",
                                   root_depth=8)
    assert net.shape[-1] == 32 and net.shape[1] is None
    model = keras.Model(x, net)
    y = model(np.zeros((3, 33, 33, 3), "float32"))
    assert y.shape == (3, 5, 5, 32)  # 33 -> 17 -> 9 -> 5
    assert "predictions" not in eps


def test_v2_structure_and_quirks():
    x = keras.Input((32, 32, 3))
    cfg = ResNetConfig(use_batch_norm=False)
    net, eps = resnet_v2.resnet_v2(x, [resnet_v2.resnet_v2_block("block1", 4, 2, 1)], 10,
                                   scope="r", root="cifar", root_depth=8, config=cfg)
    model = keras.Model(x, net)
    names = [layer.name for layer in model.layers]
    # preact and postnorm BN stay even without use_batch_norm (slim)
    assert "r__block1__unit_1__bottleneck_v2__preact" in names
    assert "r__postnorm" in names
    assert not any(n.endswith("BatchNorm") for n in names)
    assert model.get_layer("r__block1__unit_1__bottleneck_v2__conv3").use_bias
    assert model.get_layer("r__conv1").use_bias  # v2 root: biased conv, no BN


def test_v1_root_and_projection_rules():
    x = keras.Input((32, 32, 3))
    blocks = [resnet_v1.resnet_v1_block("block1", 4, 2, 2)]
    _, eps = resnet_v1.resnet_v1(x, blocks, 10, scope="r")
    assert "r/block1/unit_1/bottleneck_v1/shortcut" in eps  # 64 -> 16: projection
    assert "r/block1/unit_2/bottleneck_v1/shortcut" not in eps


def test_is_training_false_pins_bn():
    x = keras.Input((16, 16, 3))
    net, _ = resnet_v1.resnet_v1(x, [resnet_v1.resnet_v1_block("block1", 2, 1, 1)], 3,
                                 is_training=False, root="cifar", root_depth=4)
    model = keras.Model(x, net)
    data = np.random.default_rng(0).normal(size=(4, 16, 16, 3)).astype("float32")
    np.testing.assert_allclose(model(data, training=True), model(data, training=False),
                               rtol=1e-5, atol=1e-5)


def test_block_helper_puts_stride_on_last_unit():
    block = resnet_v2.resnet_v2_block("block1", 64, 3, 2)
    assert block.args == [(256, 64, 1), (256, 64, 1), (256, 64, 2)]
    assert block.unit_fn is resnet_v2.bottleneck
    dict_block = resnet_utils.Block("b", resnet_v1.bottleneck,
                                    [{"depth": 8, "depth_bottleneck": 2, "stride": 2}])
    net = resnet_utils.stack_blocks_dense(keras.Input((8, 8, 4)), [dict_block])
    assert net.shape[1:] == (4, 4, 8)


def test_deeper_slim_configs_and_positional_order():
    import inspect
    params = list(inspect.signature(resnet_v1.resnet_v1_152).parameters)
    assert params.index("store_non_strided_activations") < params.index("spatial_squeeze")
    params = list(inspect.signature(resnet_v1.resnet_v1_101).parameters)
    assert params.index("spatial_squeeze") < params.index("store_non_strided_activations")
    assert [len(b.args) for b in resnet_v1.resnet_v1_blocks(200)] == [3, 24, 36, 3]
    assert [len(b.args) for b in resnet_v2.resnet_v2_blocks(152)] == [3, 8, 36, 3]
    # depth_multiplier and min_base_depth act on the bottleneck base depth
    blocks = resnet_v1.resnet_v1_blocks(50, min_base_depth=16, depth_multiplier=0.125)
    assert [b.args[0][1] for b in blocks] == [16, 16, 32, 64]
