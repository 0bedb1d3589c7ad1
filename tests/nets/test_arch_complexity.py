import math
import random

import keras
import numpy as np
import pytest

from resnet_nas.nets import (Architecture, BlockSpec, ResNetConfig, build_model, cifar_resnet,
                             complexity)
from resnet_nas.validation import ConfigError


def _conv_macs(model: keras.Model) -> int:
    """FLOPs of the built model: walk its conv layers and their output shapes."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            _, h, w, c_out = layer.output.shape
            kh, kw = layer.kernel_size
            total += h * w * kh * kw * layer.kernel.shape[2] * c_out
    return total


def _conv_outputs(model: keras.Model) -> int:
    """Values of every conv output of the built model, for one example."""
    return sum(int(np.prod(layer.output.shape[1:])) for layer in model.layers
               if isinstance(layer, keras.layers.Conv2D))


def _random_arch(rng: random.Random) -> Architecture:
    unit = rng.choice(["v1_bottleneck", "v2_bottleneck", "v1_basic", "v2_basic"])
    root = rng.choice(["imagenet", "cifar", "none"])
    blocks, depth = [], rng.choice([4, 8])
    for i in range(rng.randint(1, 3)):
        depth = depth * rng.choice([1, 2])
        n = rng.randint(1, 2)
        units = [(depth, max(1, depth // 4), 1)] * (n - 1) + [(depth, max(1, depth // 4),
                                                             rng.choice([1, 2]))]
        blocks.append(BlockSpec(f"block{i + 1}", tuple(units)))
    return Architecture(tuple(blocks), unit=unit, root=root, root_depth=rng.choice([4, 8]),
                        shortcut=rng.choice("AB"), num_classes=rng.randint(2, 7),
                        input_shape=(rng.choice([15, 16, 17]), 16, rng.choice([1, 3])))


@pytest.mark.parametrize("seed", range(8))
def test_complexity_matches_built_model(seed):
    arch = _random_arch(random.Random(seed)).validate()
    cfg = ResNetConfig(batch_norm_scale=seed % 2 == 0)
    model = build_model(arch, cfg)
    c = complexity(arch, cfg)
    assert c.params == model.count_params()
    assert c.trainable_params == sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert c.flops == _conv_macs(model)
    assert c.activations == _conv_outputs(model)


def test_complexity_with_output_stride_and_no_bn():
    arch = Architecture((BlockSpec("block1", ((16, 4, 2),)), BlockSpec("block2", ((32, 8, 2),))),
                        unit="v1_bottleneck", root="imagenet", root_depth=8, output_stride=8,
                        input_shape=(32, 32, 3))
    cfg = ResNetConfig(use_batch_norm=False)
    model = build_model(arch, cfg)
    c = complexity(arch, cfg)
    assert c.params == model.count_params() and c.flops == _conv_macs(model)
    dense = complexity(Architecture(**{**arch.__dict__, "output_stride": None}), cfg)
    assert c.flops > dense.flops  # the atrous block runs at 2x resolution


def test_cifar_resnets():
    assert round(complexity(cifar_resnet(20)).trainable_params / 1e6, 2) == 0.27
    assert round(complexity(cifar_resnet(56)).trainable_params / 1e6, 2) == 0.85
    arch = cifar_resnet(110, version=2, shortcut="B")
    assert sum(len(b.units) for b in arch.blocks) == 54
    assert [b.units[0][2] for b in arch.blocks] == [1, 2, 2]
    with pytest.raises(ValueError, match="6n\\+2"):
        cifar_resnet(21)
    model = build_model(cifar_resnet(20))
    y = model(np.zeros((2, 32, 32, 3), "float32"))
    assert y.shape == (2, 10)
    assert math.isclose(float(np.asarray(y).std()), float(np.asarray(y).std()))


def test_arch_dict_round_trip_and_key():
    arch = cifar_resnet(20, shortcut="B")
    again = Architecture.from_dict(arch.to_dict())
    assert again == arch and again.key() == arch.key()
    renamed = Architecture.from_dict({**arch.to_dict(), "blocks": [
        {"scope": f"stage{i}", "units": b["units"]} for i, b in enumerate(arch.to_dict()["blocks"])]})
    assert renamed.key() == arch.key()  # scope names do not change the network
    assert cifar_resnet(20, shortcut="A").key() != arch.key()
    assert cifar_resnet(32).key() != cifar_resnet(20).key()
    assert "v1_basic" in arch.describe()


@pytest.mark.parametrize("mutate, path", [
    (lambda d: d.update(unit="v3_basic"), "architecture.unit"),
    (lambda d: d["blocks"][1]["units"][0].__setitem__(2, 3), "architecture.blocks[1].units[0].stride"),
    (lambda d: d["blocks"][0]["units"][0].__setitem__(0, 0), "architecture.blocks[0].units[0].depth"),
    (lambda d: d.update(blocks=[]), "architecture.blocks"),
    (lambda d: d.update(output_stride=3), "architecture.output_stride"),
    (lambda d: d.update(unitt="v1_basic"), "architecture.unitt"),
])
def test_arch_validation_errors(mutate, path):
    d = cifar_resnet(20).to_dict()
    mutate(d)
    with pytest.raises(ConfigError) as err:
        Architecture.from_dict(d, source="arch.yaml")
    assert "arch.yaml" in str(err.value) and path in str(err.value)


def test_did_you_mean():
    d = cifar_resnet(20).to_dict()
    d["shortcutt"] = "A"
    with pytest.raises(ConfigError, match="did you mean 'shortcut'"):
        Architecture.from_dict(d)
