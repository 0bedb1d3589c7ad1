"""Named training recipes are valid plain data."""

from __future__ import annotations

import pytest

from resnet_nas.train.recipes import (DEFAULT_CIFAR_RECIPE, RECIPES, get_recipe,
                                      recipe_for_depth)
from resnet_nas.validation import ConfigError


def test_every_recipe_is_a_valid_cifar_recipe():
    assert DEFAULT_CIFAR_RECIPE in RECIPES
    for name, recipe in RECIPES.items():
        assert get_recipe(name) is recipe and recipe.name == name
        t = recipe.train
        assert t.optimizer == "nesterov" and t.momentum == 0.9 and t.schedule == "cosine"
        assert t.augment.crop_padding == 4 and t.augment.flip and t.augment.pad_mode == "reflect"
        # The model applies the decay: the ResNetConfig value must equal the TrainConfig one.
        rc = recipe.resnet_config()
        assert rc.weight_decay == t.weight_decay == 5e-4
        assert rc.batch_norm_decay == t.batch_norm_decay == 0.9
        assert not recipe.verified


def test_targets_and_depths():
    assert get_recipe("cifar_resnet20").target_test_accuracy == pytest.approx(0.90)
    assert get_recipe("cifar_resnet56").target_test_accuracy == pytest.approx(0.915)
    assert recipe_for_depth(56).name == "cifar_resnet56"
    deep = recipe_for_depth(110)
    assert deep.depth == 110 and deep.train == get_recipe("cifar_resnet56").train


def test_unknown_recipe_and_invalid_override_raise():
    with pytest.raises(ValueError, match="recipe: expected one of"):
        get_recipe("cifar_resnet21")
    assert get_recipe("cifar_resnet20").with_train(epochs=5).train.epochs == 5
    with pytest.raises(ConfigError, match="train.epochs"):
        get_recipe("cifar_resnet20").with_train(epochs=0)
