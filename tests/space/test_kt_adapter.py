"""The Keras Tuner adapter (resnet_nas.space.kt_adapter)."""

import pytest

from resnet_nas.space import (KerasTunerTrial, check_constraints,
                              load_space, sample_architecture)


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
