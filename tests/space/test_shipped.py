"""The shipped search spaces: found by name, valid, and what they promise."""

import optuna
import pytest

from resnet_nas.nets.arch import Architecture
from resnet_nas.space import (check_constraints,
                              load_space, parse_space, sample_architecture,
                              shipped_space_paths)
from tests.space.helpers import (SHIPPED, random_trials)


# -- shipped spaces ----------------------------------------------------------------------------

def test_shipped_spaces_are_found():
    paths = shipped_space_paths()
    assert set(SHIPPED) <= set(paths)
    assert all(p.suffix == ".yaml" and p.is_file() for p in paths.values())


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_space_samples_valid_architectures(name):
    space = load_space(name)
    assert space.name == name and space.description
    shape = None if space.input_shape else (32, 32, 3)
    trials = random_trials()
    keys = set()
    for _ in range(20):
        arch = sample_architecture(space, next(trials), input_shape=shape, num_classes=10)
        arch.validate()
        assert Architecture.from_dict(arch.to_dict()) == arch
        assert [b.scope for b in arch.blocks] == [f"block{i + 1}" for i in range(len(arch.blocks))]
        reasons = check_constraints(arch, space)
        assert all(isinstance(r, str) for r in reasons)
        if space.constraints.depths_non_decreasing:
            depths = [b.units[0][0] for b in arch.blocks]
            assert depths == sorted(depths)
        keys.add(arch.key())
    assert len(keys) > 5  # the space really is searched


def test_quickstart_settings():
    space = load_space("quickstart")
    assert space.data.name == "digits"
    assert (space.train.epochs, space.train.batch_size) == (10, 64)
    assert space.train.weight_decay == 1e-4  # '1e-4' is a float, not YAML 1.1's string
    assert (space.search.trials, space.search.sampler, space.search.pruner) == (6, "tpe", "hyperband")
    trials = random_trials(1)
    for _ in range(20):
        arch = sample_architecture(space, next(trials), input_shape=(8, 8, 1), num_classes=10)
        assert arch.unit in ("v1_basic", "v2_basic") and arch.root == "cifar"
        assert 8 <= arch.root_depth <= 16 and 2 <= len(arch.blocks) <= 3
        for block in arch.blocks:
            assert 1 <= len(block.units) <= 2
            assert all(8 <= d <= 32 and d == db for d, db, _ in block.units)


def test_cifar_resnet_is_he_et_al():
    space = load_space("cifar_resnet")
    trial = optuna.trial.FixedTrial({"unit": "v1_basic", "shortcut": "A",
                                     "width_multiplier": 1.0, "stage_units": 9})
    arch = sample_architecture(space, trial, input_shape=(32, 32, 3), num_classes=10)
    assert [len(b.units) for b in arch.blocks] == [9, 9, 9]  # ResNet-56
    assert arch.unit_strides() == [[1] * 9, [2] + [1] * 8, [2] + [1] * 8]
    assert [b.units[0][0] for b in arch.blocks] == [16, 32, 64]
    assert arch.root_depth == 16


def test_slim_imagenet_is_resnet_v1_50_at_its_low_end():
    space = load_space("slim_imagenet")
    assert space.data.name == "folder" and space.data.path
    trial = optuna.trial.FixedTrial({"unit": "v1_bottleneck", "width_multiplier": 1.0,
                                     "output_stride": None, "stage1_units": 4,
                                     "stage2_units": 6})
    arch = sample_architecture(space, trial, num_classes=1000)
    assert arch.input_shape == (224, 224, 3)
    assert [len(b.units) for b in arch.blocks] == [3, 4, 6, 3]
    assert [b.units[-1][:2] for b in arch.blocks] == [(256, 64), (512, 128), (1024, 256),
                                                      (2048, 512)]
    assert arch.unit_strides() == [[1, 1, 2], [1, 1, 1, 2], [1] * 5 + [2], [1, 1, 1]]


@pytest.mark.parametrize("name", SHIPPED)
def test_to_dict_round_trips(name):
    space = load_space(name)
    again = parse_space(space.to_dict(), space.source)
    assert again == space and again.hash() == space.hash()


