"""Placing an architecture in a space: the parameter values that sample it, or what does not
fit."""

import optuna
import pytest

from resnet_nas.nets import Architecture, BlockSpec, cifar_resnet
from resnet_nas.nets.known import KNOWN_ARCHITECTURES, known_architecture
from resnet_nas.space import check_constraints, load_space, sample_architecture
from resnet_nas.space.locate import NotInSpace, locate
from tests.helpers import tiny_space


def test_every_sample_of_a_space_is_found_again(tmp_path):
    space = load_space(tiny_space(tmp_path))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    found = 0
    for _ in range(60):
        arch = sample_architecture(space, study.ask(), input_shape=(16, 16, 3), num_classes=4)
        if check_constraints(arch, space):
            continue
        where = locate(space, arch, (16, 16, 3), 4)
        assert where.arch.key() == arch.key()
        again = sample_architecture(space, optuna.trial.FixedTrial(where.params),
                                    input_shape=(16, 16, 3), num_classes=4)
        assert again.key() == arch.key()
        found += 1
    assert found > 20


@pytest.mark.parametrize("space_name", ["cifar_resnet", "slim_imagenet", "quickstart",
                                        "anynet", "photos"])
def test_shipped_baselines_are_points_of_their_spaces(space_name):
    space = load_space(space_name)
    for name in space.search.baselines:
        arch = known_architecture(name)
        where = locate(space, arch, arch.input_shape, 10)
        assert where.arch.blocks == arch.blocks and where.arch.unit == arch.unit


def test_he_et_al_nets_are_points_of_cifar_resnet_with_their_n():
    space = load_space("cifar_resnet")
    for depth, n in ((20, 3), (56, 9), (110, 18)):
        where = locate(space, cifar_resnet(depth), (32, 32, 3), 10)
        assert where.params == {"unit": "v1_basic", "shortcut": "A", "width_multiplier": 1.0,
                                "stage_units": n}


@pytest.mark.parametrize("arch, says", [
    (cifar_resnet(26), "block1 with 4 units is not one of [3, 5, 7, 9, 18]"),
    (cifar_resnet(20, widths=(16, 48, 64)), "block2 unit 1 depth 48 is not 32"),
    (known_architecture("resnet_v1_50"),
     "unit v1_bottleneck is not one of ['v1_basic', 'v2_basic']"),
])
def test_what_does_not_fit_is_said(arch, says):
    with pytest.raises(NotInSpace, match=says.replace("[", r"\[").replace("(", r"\(")):
        locate(load_space("cifar_resnet"), arch, (32, 32, 3), 10)


def test_a_choice_valued_depth_is_named_with_its_choices(tmp_path):
    path = tiny_space(tmp_path, fixed=True)
    space = load_space(path, overrides={"space.stages.depth": [16, 32]})
    arch = Architecture((BlockSpec("block1", ((16, 16, 2),)), BlockSpec("block2", ((48, 48, 2),))),
                        unit="v1_basic", root="cifar", root_depth=4, shortcut="B")
    with pytest.raises(NotInSpace, match=r"^block2 depth 48 is not one of \[16, 32\]$"):
        locate(space, arch, (16, 16, 3), 4)


def test_every_known_name_builds():
    for name in KNOWN_ARCHITECTURES:
        assert known_architecture(name).validate()
