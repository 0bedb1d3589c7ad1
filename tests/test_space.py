"""Search spaces: YAML parsing and errors, sampling, constraints, hashing, Keras Tuner adapter."""

import subprocess
import sys
import textwrap
from pathlib import Path

import optuna
import pytest

from resnet_nas.nets.arch import Architecture, BlockSpec
from resnet_nas.space import (Choice, Fixed, IntRange, KerasTunerTrial, check_constraints,
                              load_space, parse_override, parse_space, sample_architecture,
                              scale_depth, shipped_space_paths)
from resnet_nas.validation import ConfigError

optuna.logging.set_verbosity(optuna.logging.WARNING)

SHIPPED = ("quickstart", "cifar_resnet", "slim_imagenet", "anynet")

# A small space with every kind of conditional parameter.
CONDITIONAL = """\
name: conditional
space:
  unit: [v1_basic, v1_bottleneck]
  root: [cifar, none]
  root_depth: {low: 8, high: 16, step: 8}
  shortcut: [A, B]
  stages:
    count: {low: 1, high: 3}
    depth: {low: 8, high: 64, step: 8}
    units: {low: 1, high: 3}
    stride: [1, 2]
    bottleneck_ratio: [0.25, 0.5]
"""


def write(tmp_path: Path, text: str, name: str = "space.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def random_trials(seed: int = 0):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    while True:
        yield study.ask()


class RecordingTrial:
    """Optuna-like trial that records every suggestion and returns the lowest value."""

    def __init__(self):
        self.calls: list[str] = []

    def suggest_int(self, name, low, high, step=1, log=False):
        self.calls.append(name)
        return low

    def suggest_float(self, name, low, high, step=None, log=False):
        self.calls.append(name)
        return low

    def suggest_categorical(self, name, choices):
        self.calls.append(name)
        return choices[0]


def error_of(tmp_path: Path, text: str) -> ConfigError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_space(path)
    message = str(info.value)
    assert str(path) in message, message
    return info.value


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
    assert (space.search.trials, space.search.sampler, space.search.pruner) == (6, "tpe", "median")
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


# -- sampling ----------------------------------------------------------------------------------

def test_define_by_run_parameter_names(tmp_path):
    space = load_space(write(tmp_path, CONDITIONAL))
    seen_stage_counts = set()
    trials = random_trials(3)
    for _ in range(30):
        trial = next(trials)
        arch = sample_architecture(space, trial, input_shape=(8, 8, 1), num_classes=10)
        n = len(arch.blocks)
        seen_stage_counts.add(n)
        expected = {"unit", "root", "num_stages"}
        expected |= {"root_depth"} if arch.root != "none" else set()
        basic = arch.unit.endswith("_basic")
        expected |= {"shortcut"} if basic else set()
        for i in range(n):
            expected |= {f"stage{i}_depth", f"stage{i}_units", f"stage{i}_stride"}
            if not basic:
                expected.add(f"stage{i}_bottleneck_ratio")
        assert set(trial.params) == expected
        assert trial.params["num_stages"] == n
        for i, block in enumerate(arch.blocks):
            assert block.units[0][0] == trial.params[f"stage{i}_depth"]
            assert len(block.units) == trial.params[f"stage{i}_units"]
    assert seen_stage_counts == {1, 2, 3}


def test_fixed_values_are_not_suggested(tmp_path):
    path = write(tmp_path, """\
        space:
          unit: [v2_bottleneck]          # a one-element list is a fixed value
          root: cifar
          root_depth: {low: 24, high: 24}  # so is an empty range
          width_multiplier: 1
          output_stride: null
          stride_placement: first
          stages:
            count: 2
            depth: 64
            units: 2
            stride: 2
            bottleneck_ratio: 0.25
            per_stage: {0: {stride: 1, depth_bottleneck: 8}}
        """)
    space = load_space(path)
    assert space.unit == Fixed("v2_bottleneck") and space.root_depth == Fixed(24)
    trial = RecordingTrial()
    arch = sample_architecture(space, trial, input_shape=(8, 8, 3), num_classes=4)
    assert trial.calls == []
    assert arch.root_depth == 24 and arch.unit == "v2_bottleneck"
    assert arch.blocks[0].units == ((64, 8, 1), (64, 8, 1))  # per-stage depth_bottleneck wins
    assert arch.blocks[1].units == ((64, 16, 2), (64, 16, 1))


def test_shared_stage_parameter_is_drawn_once(tmp_path):
    space = load_space(write(tmp_path, """\
        space:
          unit: v1_basic
          stages:
            count: 3
            depth: 16
            units: {choices: [1, 2, 3], shared: true}
            stride: 1
            per_stage: {2: {units: 4}}
        """))
    trial = RecordingTrial()
    arch = sample_architecture(space, trial, input_shape=(8, 8, 3), num_classes=4)
    assert trial.calls == ["stage_units"]
    assert [len(b.units) for b in arch.blocks] == [1, 1, 4]


def test_depths_non_decreasing_by_construction(tmp_path):
    text = CONDITIONAL + "constraints: {depths_non_decreasing: true}\n"
    space = load_space(write(tmp_path, text.replace("count: {low: 1, high: 3}", "count: 4")))
    trials = random_trials(5)
    for _ in range(40):
        trial = next(trials)
        arch = sample_architecture(space, trial, input_shape=(32, 32, 3), num_classes=10)
        depths = [b.units[0][0] for b in arch.blocks]
        assert depths == sorted(depths)
        for i in range(1, 4):  # the range itself was narrowed, not the value clipped
            assert trial.distributions[f"stage{i}_depth"].low == depths[i - 1]
        assert not any("decrease" in r for r in check_constraints(arch, space))


def test_depths_non_decreasing_by_rejection_for_choices(tmp_path):
    text = CONDITIONAL.replace("depth: {low: 8, high: 64, step: 8}", "depth: [32, 16]")
    space = load_space(write(tmp_path, text + "constraints: {depths_non_decreasing: true}\n"))
    trial = optuna.trial.FixedTrial({"unit": "v1_basic", "root": "none", "shortcut": "A",
                                     "num_stages": 2, "stage0_depth": 32, "stage0_units": 1,
                                     "stage0_stride": 1, "stage1_depth": 16, "stage1_units": 1,
                                     "stage1_stride": 2})
    arch = sample_architecture(space, trial, input_shape=(8, 8, 3), num_classes=10)
    reasons = check_constraints(arch, space)
    assert len(reasons) == 1 and "decrease" in reasons[0]


@pytest.mark.parametrize("placement, strides", [("first", [2, 1, 1]), ("last", [1, 1, 2])])
def test_stride_placement(tmp_path, placement, strides):
    space = load_space(write(tmp_path, f"""\
        space:
          unit: v1_basic
          stride_placement: {placement}
          stages: {{count: 2, depth: 8, units: 3, stride: 2}}
        """))
    arch = sample_architecture(space, RecordingTrial(), input_shape=(8, 8, 3), num_classes=2)
    assert arch.unit_strides() == [strides, strides]


def test_scale_depth_rounding():
    assert scale_depth(20, 1.0, 8) == 20  # a multiplier of 1 keeps depths as written
    assert scale_depth(16, 1.5, 8) == 24
    assert scale_depth(16, 0.3, 8) == 8  # 4.8 -> 8 (at least one multiple)
    assert scale_depth(16, 0.1, 8) == 8
    assert scale_depth(100, 0.5, 16) == 48  # 50 -> 48
    assert scale_depth(40, 0.5, 8) == 24  # 20 = 2.5 multiples, halves round up
    assert scale_depth(10, 0.5, 1) == 5


def test_width_multiplier_in_sampling(tmp_path):
    text = """\
        space:
          unit: [v1_bottleneck]
          width_multiplier: [0.75, 1.0]
          {round_to}
          stages:
            count: 3
            depth: {{low: 16, high: 48, step: 16}}
            units: 1
            stride: 1
            bottleneck_ratio: 0.25
        """
    params = {"width_multiplier": 0.75, "stage0_depth": 16, "stage1_depth": 32,
              "stage2_depth": 48}
    # Default round_to is the depth step (16): 12 -> 16, 24 -> 32, 36 -> 32.
    space = load_space(write(tmp_path, text.format(round_to="")))
    arch = sample_architecture(space, optuna.trial.FixedTrial(params), input_shape=(8, 8, 3),
                               num_classes=2)
    assert [b.units[0][:2] for b in arch.blocks] == [(16, 4), (32, 8), (32, 8)]
    # An explicit round_to wins: 12, 24, 36 with round_to 4.
    space = load_space(write(tmp_path, text.format(round_to="round_to: 4"), "r4.yaml"))
    arch = sample_architecture(space, optuna.trial.FixedTrial(params), input_shape=(8, 8, 3),
                               num_classes=2)
    assert [b.units[0][:2] for b in arch.blocks] == [(12, 3), (24, 6), (36, 9)]


def test_fixed_trial_reproduces_a_sample():
    space = load_space("anynet")
    trial = next(random_trials(7))
    arch = sample_architecture(space, trial, input_shape=(32, 32, 3), num_classes=10)
    again = sample_architecture(space, optuna.trial.FixedTrial(trial.params),
                                input_shape=(32, 32, 3), num_classes=10)
    assert again.key() == arch.key()


def test_input_shape_and_classes_resolution(tmp_path):
    quick = load_space("quickstart")
    with pytest.raises(ValueError, match="input_shape"):
        sample_architecture(quick, RecordingTrial(), num_classes=10)
    with pytest.raises(ValueError, match="num_classes"):
        sample_architecture(quick, RecordingTrial(), input_shape=(8, 8, 1))
    slim = load_space("slim_imagenet")  # fixes input_shape 224x224x3
    with pytest.raises(ValueError, match=r"224, 224, 3.*32, 32, 3"):
        sample_architecture(slim, RecordingTrial(), input_shape=(32, 32, 3), num_classes=10)
    arch = sample_architecture(slim, RecordingTrial(), input_shape=(224, 224, 3), num_classes=7)
    assert arch.input_shape == (224, 224, 3) and arch.num_classes == 7


def test_space_module_does_not_import_keras():
    code = ("import sys, optuna; from resnet_nas.space import load_space, sample_architecture, "
            "check_constraints; s = load_space('anynet'); "
            "a = sample_architecture(s, optuna.create_study().ask(), input_shape=(32, 32, 3), "
            "num_classes=10); check_constraints(a, s); "
            "bad = [m for m in ('keras', 'tensorflow', 'jax', 'keras_tuner') if m in sys.modules]; "
            "assert not bad, bad")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 0, result.stderr


# -- constraints -------------------------------------------------------------------------------

class FakeComplexity:
    def __init__(self, params, flops):
        self.params, self.trainable_params, self.flops = params, params, flops


def _arch(strides=((1,), (2,)), depths=(16, 32), root="cifar", output_stride=None):
    blocks = tuple(BlockSpec(f"block{i + 1}", tuple((d, d, s) for s in unit_strides))
                   for i, (d, unit_strides) in enumerate(zip(depths, strides)))
    return Architecture(blocks=blocks, unit="v1_basic", root=root, root_depth=16,
                        output_stride=output_stride, num_classes=10, input_shape=(32, 32, 3))


def _space_with(tmp_path, constraints: str):
    return load_space(write(tmp_path, f"""\
        space:
          unit: v1_basic
          root: cifar
          stages: {{count: 2, depth: 16, units: 1, stride: [1, 2]}}
        constraints: {constraints}
        """))


def test_budget_constraints_with_injected_complexity(tmp_path):
    space = _space_with(tmp_path, "{max_params: 1000, min_flops: 500, max_flops: 10000}")
    arch = _arch()
    assert check_constraints(arch, space, complexity_fn=lambda a: FakeComplexity(999, 600)) == []
    reasons = check_constraints(arch, space, complexity_fn=lambda a: FakeComplexity(1001, 400))
    assert len(reasons) == 2
    assert "params 1,001 > max_params 1,000" in reasons[0]
    assert "flops 400 < min_flops 500" in reasons[1]


def test_budget_constraints_with_real_complexity(tmp_path):
    from resnet_nas.nets.complexity import complexity
    arch = _arch()
    params = complexity(arch).params
    assert check_constraints(arch, _space_with(tmp_path, f"{{max_params: {params}}}")) == []
    reasons = check_constraints(arch, _space_with(tmp_path, f"{{max_params: {params - 1}}}"))
    assert len(reasons) == 1 and "max_params" in reasons[0]


def test_budget_not_evaluated_without_budget(tmp_path):
    def boom(arch):
        raise AssertionError("complexity should not be computed")
    assert check_constraints(_arch(), _space_with(tmp_path, "{}"), complexity_fn=boom) == []


def test_total_stride_and_output_stride_constraints(tmp_path):
    space = _space_with(tmp_path, "{min_total_stride: 2, max_total_stride: 2}")
    assert check_constraints(_arch(strides=((1,), (2,))), space) == []
    too_big = check_constraints(_arch(strides=((2,), (2,))), space)
    assert too_big == ["total stride 4 > max_total_stride 2"]
    too_small = check_constraints(_arch(strides=((1,), (1,))), space)
    assert too_small == ["total stride 1 < min_total_stride 2"]
    unreachable = check_constraints(_arch(output_stride=4), _space_with(tmp_path, "{}"))
    assert len(unreachable) == 1 and "output_stride 4" in unreachable[0]
    assert check_constraints(_arch(output_stride=2), _space_with(tmp_path, "{}")) == []


def test_impossible_stride_bound_is_a_config_error(tmp_path):
    err = error_of(tmp_path, """\
        space:
          unit: v1_basic
          root: imagenet
          stages: {count: 2, depth: 16, units: 1, stride: 1}
        constraints: {max_total_stride: 2}
        """)
    assert "constraints.max_total_stride" in str(err) and "smallest total stride" in str(err)


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


@pytest.mark.parametrize("name", SHIPPED)
def test_to_dict_round_trips(name):
    space = load_space(name)
    again = parse_space(space.to_dict(), space.source)
    assert again == space and again.hash() == space.hash()


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


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    err = error_of(tmp_path, "space:\n  unit: v1_basic\n  stages: {count: 1\n  bad: [\n")
    assert "line " in str(err) and "YAML" in str(err)
    err = error_of(tmp_path, "space:\n  unit: v1_basic\n   stages: 3\n")
    assert "line 3" in str(err) and err.line == 3


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
    ("name: x\n", "space"),
])
def test_invalid_content(tmp_path, snippet, path):
    err = error_of(tmp_path, snippet)
    assert err.path == path, str(err)
    assert f": {path}:" in str(err)


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


# -- Keras Tuner -------------------------------------------------------------------------------

def test_keras_tuner_adapter():
    kt = pytest.importorskip("keras_tuner")
    space = load_space("slim_imagenet")
    hp = kt.HyperParameters()
    trial = KerasTunerTrial(hp)
    arch = sample_architecture(space, trial, num_classes=10)
    arch.validate()
    assert set(hp.values) == {"unit", "width_multiplier", "output_stride", "stage1_units",
                              "stage2_units"}
    assert trial.params["output_stride"] is None  # registered as the string 'null'
    os_hp = next(h for h in hp.space if h.name == "output_stride")
    assert list(os_hp.values) == ["null", "16", "8"]
    # The oracle sets values by name; the adapter decodes them back.
    hp.values.update({"output_stride": "8", "unit": "v2_bottleneck", "stage2_units": 23})
    arch = sample_architecture(space, KerasTunerTrial(hp), num_classes=10)
    assert arch.output_stride == 8 and arch.unit == "v2_bottleneck"
    assert [len(b.units) for b in arch.blocks] == [3, 4, 23, 3]
    assert check_constraints(arch, space) == []

    # Keras Tuner fixes ranges at first registration: full ranges are registered, and
    # non-decreasing depths are imposed by lifting values.
    anynet = load_space("anynet")
    hp = kt.HyperParameters()
    sample_architecture(anynet, KerasTunerTrial(hp), input_shape=(32, 32, 3), num_classes=10)
    depth_hps = {h.name: h for h in hp.space
                 if h.name.startswith("stage") and h.name.endswith("_depth")}
    assert len(depth_hps) == 4
    assert {(h.min_value, h.max_value, h.step) for h in depth_hps.values()} == {(16, 256, 8)}
    hp.values.update({"stage0_depth": 64, "stage1_depth": 32, "stage2_depth": 128,
                      "stage3_depth": 96, "stage0_bottleneck_ratio": 0.5})
    trial = KerasTunerTrial(hp)
    arch = sample_architecture(anynet, trial, input_shape=(32, 32, 3), num_classes=10)
    assert [b.units[0][0] for b in arch.blocks] == [64, 64, 128, 128]
    assert arch.blocks[0].units[0][1] == 32
    assert trial.params["stage1_depth"] == 64
