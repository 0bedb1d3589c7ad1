"""The validated form of a space file (resnet_nas.space.schema): hashing, round trip, errors."""

import pytest

from resnet_nas.space import (Choice, Fixed, IntRange, load_space)
from tests.space.helpers import (CONDITIONAL, error_of, write)


# -- hashing and round trip --------------------------------------------------------------------

def test_hash_ignores_formatting_and_key_order(tmp_path):
    a = load_space(write(tmp_path, CONDITIONAL, "a.yaml"))
    reordered = """\
        # the same space, written differently
        space:
          stages:
            bottleneck_ratio: [0.25, 0.5]
            stride: [1, 2]
            units: {high: 3, low: 1}
            depth: {step: 8, high: 64, low: 8}
            count: {low: 1, high: 3, step: 1}
          shortcut: [A, B]
          root_depth: {low: 8, high: 16, step: 8}   # comment
          root: [cifar, none]
          unit: [v1_basic, v1_bottleneck]
          width_multiplier: [1]
        name: conditional
        """
    b = load_space(write(tmp_path, reordered, "b.yaml"))
    assert a.hash() == b.hash()
    assert len(a.hash()) == 16
    changed = load_space(write(tmp_path, CONDITIONAL.replace("high: 64", "high: 72"), "c.yaml"))
    assert changed.hash() != a.hash()
    trained = load_space(write(tmp_path, CONDITIONAL + "train: {epochs: 4}\n", "d.yaml"))
    assert trained.hash() != a.hash()
    # Study defaults and the description do not change what a trial is.
    studied = load_space(write(tmp_path, CONDITIONAL + "search: {trials: 99}\n"
                               "description: other\n", "e.yaml"))
    assert studied.hash() == a.hash()


def test_parsed_specs(tmp_path):
    space = load_space(write(tmp_path, CONDITIONAL))
    assert space.unit == Choice(("v1_basic", "v1_bottleneck"))
    assert space.stages.depth == IntRange(8, 64, 8)
    assert space.stages.bottleneck_ratio == Choice((0.25, 0.5))
    assert space.width_multiplier == Fixed(1.0)


# -- errors ------------------------------------------------------------------------------------

def test_unknown_key_did_you_mean(tmp_path):
    err = error_of(tmp_path, """\
        space:
          unit: v1_basic
          stagse: {count: 1, depth: 8, units: 1, stride: 1}
        """)
    message = str(err)
    assert "space.stagse" in message and "did you mean 'stages'?" in message
    assert f"{err.source}:3:" in message  # the line of the offending key
    assert err.line == 3


def test_unknown_nested_keys_did_you_mean(tmp_path):
    err = error_of(tmp_path, CONDITIONAL.replace("step: 8}", "stpe: 8}"))
    assert "space.root_depth.stpe" in str(err) and "did you mean 'step'?" in str(err)
    err = error_of(tmp_path, CONDITIONAL + "train: {epoch: 3}\n")
    assert "train.epoch" in str(err) and "did you mean 'epochs'?" in str(err)
    err = error_of(tmp_path, CONDITIONAL.replace("unit: [v1_basic,", "unit: [v1_basc,"))
    assert "space.unit[0]" in str(err) and "did you mean 'v1_basic'?" in str(err)


def test_wrong_type(tmp_path):
    err = error_of(tmp_path, CONDITIONAL.replace("units: {low: 1, high: 3}",
                                                 "units: {low: one, high: 3}"))
    assert "space.stages.units.low" in str(err) and "expected an integer" in str(err)
    err = error_of(tmp_path, CONDITIONAL.replace("stride: [1, 2]", "stride: [1, 3]"))
    assert "space.stages.stride[1]" in str(err)
    err = error_of(tmp_path, CONDITIONAL.replace("root: [cifar, none]",
                                                 "root: {low: 1, high: 2}"))
    assert "space.root" in str(err) and "ranges" in str(err)


def test_low_greater_than_high(tmp_path):
    err = error_of(tmp_path, CONDITIONAL.replace("depth: {low: 8, high: 64, step: 8}",
                                                 "depth: {low: 64, high: 8, step: 8}"))
    assert "space.stages.depth.high" in str(err) and "low (64)" in str(err)


def test_step_must_divide_range(tmp_path):
    err = error_of(tmp_path, CONDITIONAL.replace("depth: {low: 8, high: 64, step: 8}",
                                                 "depth: {low: 8, high: 60, step: 8}"))
    assert "space.stages.depth.step" in str(err) and "divides high - low = 52" in str(err)
    assert err.line == 9
    err = error_of(tmp_path, CONDITIONAL + "  width_multiplier: {low: 0.5, high: 1.0, step: 0.3}\n")
    assert "space.width_multiplier.step" in str(err)


@pytest.mark.parametrize("snippet, path", [
    # a bottleneck unit needs a bottleneck depth
    ("space:\n  unit: v1_bottleneck\n  stages: {count: 1, depth: 8, units: 1, stride: 1}\n",
     "space.stages.bottleneck_ratio"),
    # but not both ways of giving it
    ("space:\n  unit: v1_bottleneck\n  stages: {count: 1, depth: 8, units: 1, stride: 1,\n"
     "    bottleneck_ratio: 0.25, depth_bottleneck: 4}\n", "space.stages.depth_bottleneck"),
    ("space:\n  unit: v1_basic\n  stages: {count: 2, depth: 8, units: 1, stride: 1,\n"
     "    per_stage: {2: {stride: 2}}}\n", "space.stages.per_stage.2"),
    ("space:\n  unit: v1_basic\n  output_stride: [null, 12]\n"
     "  stages: {count: 1, depth: 8, units: 1, stride: 1}\n", "space.output_stride[1]"),
    ("space:\n  unit: v1_basic\n  stages: {count: 1, depth: 8, units: 1, stride: 1}\n"
     "search: {objectives: [val_accuracy, params]}\n", "search.pruner"),
    ("space:\n  unit: v1_basic\n  stages: {count: 1, depth: 8, units: 1, stride: 1}\n"
     "search: {objectives: [accuracy]}\n", "search.objectives[0]"),
    ("space:\n  unit: v1_basic\n  stages: {count: 1, depth: 8, units: 1, stride: 1}\n"
     "constraints: {min_params: 10, max_params: 5}\n", "constraints.max_params"),
    ("space:\n  unit: v1_basic\n  stages: {count: 1, depth: 8, units: 1, stride: 1}\n"
     "data: {name: folder}\n", "data.path"),
    ("space:\n  unit: v1_basic\n  input_shape: [32, 32]\n"
     "  stages: {count: 1, depth: 8, units: 1, stride: 1}\n", "space.input_shape"),
    ("space:\n  unit: v1_basic\n", "space.stages"),
    # TPE's bounded history: at least its start-up trials, and for TPE only
    ("space:\n  unit: v1_basic\n  stages: {count: 1, depth: 8, units: 1, stride: 1}\n"
     "search: {sampler_history: 5}\n", "search.sampler_history"),
    ("space:\n  unit: v1_basic\n  stages: {count: 1, depth: 8, units: 1, stride: 1}\n"
     "search: {sampler: random, sampler_history: 50}\n", "search.sampler_history"),
    ("name: x\n", "space"),
])
def test_invalid_content(tmp_path, snippet, path):
    err = error_of(tmp_path, snippet)
    assert err.path == path, str(err)
    assert f": {path}:" in str(err)


