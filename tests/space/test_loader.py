"""Reading space files (resnet_nas.space.loader): line numbers, duplicate keys, names,
overrides."""

import pytest

from resnet_nas.space import (Fixed, load_space, parse_override)
from resnet_nas.validation import ConfigError
from tests.space.helpers import (CONDITIONAL, error_of)


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    """Syntax errors use the 'file:line:' format of every other error in a space file."""
    err = error_of(tmp_path, "space:\n  unit: v1_basic\n  stages: {count: 1\n  bad: [\n")
    assert str(err).startswith(f"{tmp_path / 'space.yaml'}:4: column ") and "YAML" in str(err)
    err = error_of(tmp_path, "space:\n  unit: v1_basic\n   stages: 3\n")
    assert str(err).startswith(f"{tmp_path / 'space.yaml'}:3: ") and err.line == 3


def test_every_problem_is_reported_in_line_order(tmp_path):
    text = ("space:\n  unit: bogus_unit\n  stages: {count: 2, depth: 16, units: 1, stride: 1}\n"
            "train:\n  learning_rate: .nan\n  epochs: 0\n  optimizer: sgdd\n"
            "data:\n  name: bogus\n  validation_split: 2\n")
    err = error_of(tmp_path, text)
    lines = str(err).splitlines()
    assert [line.split(":")[1] for line in lines] == ["2", "5", "6", "7", "9", "10"]
    assert ["space.unit" in lines[0], "train.learning_rate" in lines[1],
            "train.epochs" in lines[2], "train.optimizer" in lines[3]] == [True] * 4
    assert isinstance(err, ConfigError) and err.path == "space.unit"  # the first one


def test_duplicate_key(tmp_path):
    err = error_of(tmp_path, CONDITIONAL + "  unit: v2_basic\n")
    assert "space.unit" in str(err) and "duplicate key: also on line 3" in str(err)


def test_missing_file_and_unknown_name(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        load_space(missing)
    assert str(missing) in str(info.value) and "not found" in str(info.value)
    with pytest.raises(ConfigError) as info:
        load_space("quickstrat")
    assert "quickstrat" in str(info.value) and "did you mean 'quickstart'?" in str(info.value)


def test_overrides_are_applied_and_validated():
    base = load_space("slim_imagenet")
    space = load_space("slim_imagenet", overrides=dict([parse_override("data.path=/x/imagenet"),
                                                        parse_override("train.epochs=2")]))
    assert space.data.path == "/x/imagenet" and space.train.epochs == 2
    assert space.hash() != base.hash()
    space = load_space("quickstart", overrides={"space.stages.per_stage.0.stride": 2})
    assert space.stages.for_stage(0)["stride"][0] == Fixed(2)
    with pytest.raises(ConfigError) as info:
        load_space("quickstart", overrides={"train.epochs": 0})
    assert "train.epochs" in str(info.value) and "override" in str(info.value)
    with pytest.raises(ConfigError, match="did you mean 'epochs'"):
        load_space("quickstart", overrides={"train.epoch": 2})
    # other tools' abbreviations are too short to be misspellings
    for short, key in (("lr", "learning_rate"), ("bs", "batch_size"), ("wd", "weight_decay")):
        with pytest.raises(ConfigError, match=f"did you mean '{key}'"):
            load_space("quickstart", overrides={f"train.{short}": 1})


