"""Define-by-run sampling (resnet_nas.space.sample) and the constraint checks."""

import optuna
import pytest

from resnet_nas.nets.arch import Architecture, BlockSpec
from resnet_nas.space import (Fixed, check_constraints,
                              load_space, sample_architecture,
                              scale_depth)
from tests.space.helpers import (CONDITIONAL, RecordingTrial, error_of, random_trials,
                                 write)


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


def test_depths_non_decreasing_by_construction_for_choices(tmp_path):
    """A choice-valued depth after the first stage is drawn as its index in the sorted
    choices, from the first at least the previous stage's depth: never a decrease."""
    text = CONDITIONAL.replace("depth: {low: 8, high: 64, step: 8}", "depth: [32, 16, 64]")
    space = load_space(write(tmp_path, text + "constraints: {depths_non_decreasing: true}\n"))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(40):
        trial = study.ask()
        arch = sample_architecture(space, trial, input_shape=(8, 8, 3), num_classes=10)
        depths = [b.units[-1][0] for b in arch.blocks]
        assert depths == sorted(depths) and check_constraints(arch, space) == []
        if len(depths) > 1:
            low = trial.distributions["stage1_depth_index"].low
            assert [16, 32, 64][low] == depths[0]  # the range starts at the previous depth
        seen.add(tuple(depths))
        study.tell(trial, 0.0)
    assert len(seen) > 3

    class FixedRanges(RecordingTrial):  # Keras Tuner: a range is fixed at first use
        dynamic_ranges = False
        params: dict = {}

        def suggest_int(self, name, low, high, step=1, log=False):
            self.calls.append(name)
            return 2 if name == "num_stages" else low

        def suggest_categorical(self, name, choices):
            self.calls.append(name)
            return max(choices) if name == "stage0_depth" else min(choices)

    trial = FixedRanges()
    arch = sample_architecture(space, trial, input_shape=(8, 8, 3), num_classes=10)
    assert [b.units[-1][0] for b in arch.blocks] == [64, 64]  # lifted to the floor
    assert "stage1_depth" in trial.calls and trial.params["stage1_depth"] == 64


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


