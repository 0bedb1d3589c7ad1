import keras
import numpy as np
import pytest

from resnet_nas.nets import resnet_utils, resnet_v1, resnet_v2
from resnet_nas.nets.resnet_utils import (Block, ResNetConfig, conv2d_same, plan_strides,
                                          stack_blocks_dense, subsample)

CFG = ResNetConfig(training=False)


def _model(fn, shape):
    x = keras.Input(shape)
    return keras.Model(x, fn(x))


def _copy_weights(src: keras.Model, dst: keras.Model) -> None:
    by_name = {layer.name: layer for layer in src.layers}
    copied = 0
    for layer in dst.layers:
        if layer.weights:
            layer.set_weights(by_name[layer.name].get_weights())
            copied += 1
    assert copied > 0


def _randomize_bn(model: keras.Model, rng) -> None:
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            ws = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype("float32") if i in (0, 3)
                               else rng.normal(0, 0.2, w.shape).astype("float32")
                               for i, w in enumerate(ws)])


def test_subsample():
    x = np.arange(2 * 5 * 5 * 1, dtype="float32").reshape(2, 5, 5, 1)
    m = _model(lambda t: subsample(t, 2), (5, 5, 1))
    np.testing.assert_array_equal(m(x), x[:, ::2, ::2, :])
    assert subsample(x, 1) is x


@pytest.mark.parametrize("n", [4, 5])  # slim's testConv2DSameEven / testConv2DSameOdd
def test_conv2d_same_equals_conv_then_subsample(n):
    x = np.random.default_rng(0).normal(size=(1, n, n, 1)).astype("float32")
    strided = _model(lambda t: conv2d_same(t, 1, 3, stride=2, name="Conv", config=CFG,
                                           activation=None, normalize=False), (n, n, 1))
    dense = _model(lambda t: conv2d_same(t, 1, 3, stride=1, name="Conv", config=CFG,
                                         activation=None, normalize=False), (n, n, 1))
    w = np.arange(1, 10, dtype="float32").reshape(3, 3, 1, 1)
    for m in (strided, dense):
        m.get_layer("Conv").set_weights([w, np.zeros(1, "float32")])
    y_strided = np.asarray(strided(x))
    expected = np.asarray(dense(x))[:, ::2, ::2, :]
    assert y_strided.shape == (1, (n + 1) // 2, (n + 1) // 2, 1)
    np.testing.assert_allclose(y_strided, expected, rtol=1e-5, atol=1e-5)


def test_conv2d_same_padding_values():
    assert resnet_utils.same_padding(1) == (0, 0)
    assert resnet_utils.same_padding(3) == (1, 1)
    assert resnet_utils.same_padding(4) == (1, 2)
    assert resnet_utils.same_padding(7) == (3, 3)
    assert resnet_utils.same_padding(3, rate=2) == (2, 2)


def test_plan_strides_docstring_example():
    strides = [[1, 2], [1, 3], [4, 1]]  # units with strides 1, 2, 1, 3, 4, 1
    for ok in (1, 2, 6, 24, None):
        plan_strides(strides, ok)
    for bad in (3, 4, 12, 48):
        with pytest.raises(ValueError, match="The target output_stride cannot be reached."):
            plan_strides(strides, bad)
    plan = plan_strides(strides, 2)
    # once stride 2 is reached, later strides become rates: 3 then 3*4
    assert [u.rate for b in plan for u in b.units] == [1, 1, 1, 1, 3, 12]
    assert all(u.stride == 1 for b in plan[1:] for u in b.units)


def _blocks(unit_fn, depths=(8, 16, 16, 32)):
    return [Block("block1", unit_fn, [(depths[0], 4, 1), (depths[0], 4, 2)]),
            Block("block2", unit_fn, [(depths[1], 4, 1), (depths[1], 4, 2)]),
            Block("block3", unit_fn, [(depths[2], 8, 2), (depths[2], 8, 1)]),
            Block("block4", unit_fn, [(depths[3], 8, 1)])]


@pytest.mark.parametrize("unit_fn", [resnet_v1.bottleneck, resnet_v2.bottleneck,
                                     resnet_v1.basic, resnet_v2.basic])
@pytest.mark.parametrize("output_stride", [1, 2, 4])
def test_atrous_equals_dense_subsampled(unit_fn, output_stride):
    """slim's atrous tests: same weights, output_stride output == dense output subsampled."""
    rng = np.random.default_rng(1)
    shape = (17, 17, 3)
    x = rng.normal(size=(2, *shape)).astype("float32")
    blocks = _blocks(unit_fn)

    def net(t, os_):
        return stack_blocks_dense(t, blocks, os_, config=CFG, scope="resnet")

    dense = _model(lambda t: net(t, None), shape)
    atrous = _model(lambda t: net(t, output_stride), shape)
    _randomize_bn(dense, rng)
    _copy_weights(dense, atrous)
    nominal = 8
    y_dense = np.asarray(dense(x, training=False))
    y_atrous = np.asarray(atrous(x, training=False))
    factor = nominal // output_stride
    expected = y_dense if factor == 1 else y_dense  # dense is already at nominal stride
    # the atrous net is at output_stride: subsample it to the nominal resolution
    np.testing.assert_allclose(y_atrous[:, ::factor, ::factor, :], expected, rtol=1e-4,
                               atol=1e-4)
    assert y_atrous.shape[1] == -(-17 // output_stride)


def test_store_non_strided_activations_same_output():
    rng = np.random.default_rng(2)
    shape = (9, 9, 3)
    x = rng.normal(size=(1, *shape)).astype("float32")
    blocks = _blocks(resnet_v1.bottleneck)
    eps = {}

    def net(t, store, end_points=None):
        return stack_blocks_dense(t, blocks, None, store, config=CFG, scope="r",
                                  end_points=end_points)

    plain = _model(lambda t: net(t, False), shape)
    x_in = keras.Input(shape)
    out = net(x_in, True, eps)
    stored = keras.Model(x_in, [out, eps["r/block1"]])
    _copy_weights(plain, stored)
    y_stored, block1 = stored(x, training=False)
    np.testing.assert_allclose(np.asarray(y_stored), np.asarray(plain(x, training=False)),
                               rtol=1e-4, atol=1e-4)
    assert block1.shape[1] == 9  # block1's end point is non-strided


@pytest.mark.parametrize("blocks, message", [
    ([], "non-empty"),
    ([Block("b", resnet_v1.basic, [(0, 1, 1)])], "depth must be a positive integer"),
    ([Block("b", resnet_v1.basic, [(8, -1, 1)])], "depth_bottleneck must be a positive"),
    ([Block("b", resnet_v1.basic, [(8, 8, 3)])], "stride must be 1 or 2"),
    ([Block("b", resnet_v1.basic, [])], "has no units"),
])
def test_invalid_blocks(blocks, message):
    with pytest.raises(ValueError, match=message):
        stack_blocks_dense(keras.Input((8, 8, 3)), blocks)


def test_bad_output_stride_in_stack():
    with pytest.raises(ValueError, match="cannot be reached"):
        stack_blocks_dense(keras.Input((8, 8, 3)), _blocks(resnet_v1.basic), output_stride=3)


def test_weight_decay_is_slim_l2():
    cfg = ResNetConfig(weight_decay=0.01)
    x = keras.Input((5, 5, 2))
    y = resnet_utils.conv2d(x, 3, 3, config=cfg, scope="c")
    m = keras.Model(x, y)
    kernel = m.get_layer("c").kernel
    expected = 0.01 * np.sum(np.square(np.asarray(kernel))) / 2
    assert len(m.losses) == 1  # only the kernel: no bias, BN variables unregularised
    np.testing.assert_allclose(float(m.losses[0]), expected, rtol=1e-5)
    bn = m.get_layer("c__BatchNorm")
    assert bn.momentum == 0.997 and bn.epsilon == 1e-5 and bn.scale and bn.center
    assert not m.get_layer("c").use_bias


def test_initializer_matches_slim_stddev():
    x = keras.Input((1, 1, 400))
    m = keras.Model(x, resnet_utils.conv2d(x, 400, 1, config=CFG, scope="c"))
    w = np.asarray(m.get_layer("c").kernel)
    # slim: truncated_normal(0, sqrt(2.6/fan_in)) truncated at 2 sigma -> std 0.8796 * sigma
    expected = np.sqrt(2.6 / 400) * 0.87962566
    assert abs(w.std() / expected - 1) < 0.02
    assert np.abs(w).max() <= 2 * np.sqrt(2.6 / 400) + 1e-6


def test_conv2d_same_takes_slims_scope_and_keeps_name_as_alias():
    x = keras.Input((5, 5, 1))
    by_scope = conv2d_same(x, 2, 3, 2, 1, "s1", config=CFG)   # slim's positional scope
    by_name = conv2d_same(x, 2, 3, 2, name="s2", config=CFG)
    both = conv2d_same(x, 2, 3, 1, scope="s3", name="s3", config=CFG)
    model = keras.Model(x, [by_scope, by_name, both])
    for scope in ("s1", "s2", "s3"):
        assert isinstance(model.get_layer(scope), keras.layers.Conv2D)
    with pytest.raises(TypeError, match="disagree"):
        conv2d_same(x, 2, 3, 1, scope="a", name="b", config=CFG)


def _bn_update(cls, x, momentum=0.5):
    layer = cls(momentum=momentum, epsilon=1e-3)
    y = np.asarray(layer(x, training=True))
    return layer, y


def test_slim_batch_norm_updates_moving_variance_with_the_unbiased_batch_variance():
    """slim's fused batch norm: moving_var <- d * moving_var + (1 - d) * var * n / (n - 1)."""
    x = np.random.default_rng(0).normal(2.0, 3.0, size=(2, 7, 7, 3)).astype("float32")
    n = 2 * 7 * 7  # 98 values per channel
    slim_bn, y_slim = _bn_update(resnet_utils.SlimBatchNormalization, x)
    keras_bn, y_keras = _bn_update(keras.layers.BatchNormalization, x)
    mean = x.mean(axis=(0, 1, 2))
    var = x.var(axis=(0, 1, 2))  # biased
    value = keras.ops.convert_to_numpy
    np.testing.assert_allclose(value(slim_bn.moving_mean), 0.5 * 0 + 0.5 * mean, rtol=1e-5)
    np.testing.assert_allclose(value(slim_bn.moving_variance), 0.5 * 1 + 0.5 * var * n / (n - 1),
                               rtol=1e-5)
    np.testing.assert_allclose(value(keras_bn.moving_variance), 0.5 * 1 + 0.5 * var, rtol=1e-5)
    ratio = ((keras.ops.convert_to_numpy(slim_bn.moving_variance) - 0.5)
             / (keras.ops.convert_to_numpy(keras_bn.moving_variance) - 0.5))
    np.testing.assert_allclose(ratio, 98 / 97, rtol=1e-5)
    # Both normalise the training batch with its biased variance.
    np.testing.assert_allclose(y_slim, (x - mean) / np.sqrt(var + 1e-3), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(y_slim, y_keras, rtol=1e-5, atol=1e-5)
    # Inference uses the moving statistics, as Keras' does.
    keras_bn.moving_variance.assign(value(slim_bn.moving_variance))
    np.testing.assert_allclose(value(slim_bn(x, training=False)),
                               value(keras_bn(x, training=False)), rtol=1e-5, atol=1e-5)


def _bn_classes(model):
    return {type(layer).__name__ for layer in model.layers
            if isinstance(layer, keras.layers.BatchNormalization)}


def test_slim_builders_default_to_slims_rule_and_the_search_keeps_keras():
    from resnet_nas.nets import build_model, cifar_resnet
    x = keras.Input((32, 32, 3))
    blocks = [resnet_v1.resnet_v1_block("block1", 2, 1, 2)]
    net, _ = resnet_v1.resnet_v1(x, blocks, 10, root_depth=4)
    assert _bn_classes(keras.Model(x, net)) == {"SlimBatchNormalization"}
    net, _ = resnet_v1.resnet_v1(x, blocks, 10, root_depth=4, scope="b",
                                 config=ResNetConfig(batch_norm_moving_variance="biased"))
    assert _bn_classes(keras.Model(x, net)) == {"BatchNormalization"}
    net, _ = resnet_v2.resnet_v2(x, blocks, 10, root_depth=4, is_training=False)
    assert _bn_classes(keras.Model(x, net)) == {"InferenceBatchNormalization"}
    arch = cifar_resnet(8, input_shape=(8, 8, 3))
    assert _bn_classes(build_model(arch)) == {"BatchNormalization"}
    assert _bn_classes(build_model(arch, ResNetConfig(batch_norm_moving_variance="unbiased"))) \
        == {"SlimBatchNormalization"}
    with pytest.raises(ValueError, match="batch_norm_moving_variance must be one of"):
        ResNetConfig(batch_norm_moving_variance="fused")


def test_slim_batch_norm_model_saves_and_loads(tmp_path):
    x = keras.Input((8, 8, 3))
    net, _ = resnet_v1.resnet_v1(x, [resnet_v1.resnet_v1_block("block1", 2, 1, 2)], 4,
                                 root_depth=4)
    model = keras.Model(x, net)
    model(np.ones((2, 8, 8, 3), "float32"), training=True)  # move the moving statistics
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert _bn_classes(loaded) == {"SlimBatchNormalization"}
    data = np.random.default_rng(1).normal(size=(2, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(data)),
                               keras.ops.convert_to_numpy(model(data)), rtol=1e-5, atol=1e-6)
