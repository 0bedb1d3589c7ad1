"""The input normalisation as a model's first layer (resnet_nas.nets.normalization)."""

from __future__ import annotations

import numpy as np
import pytest

from resnet_nas.nets import build_model, cifar_resnet
from resnet_nas.nets.normalization import InputNormalization
from resnet_nas.validation import ConfigError


def test_the_first_layer_normalises_raw_pixels_and_adds_no_weights(tmp_path):
    import keras

    arch = cifar_resnet(8, widths=(4, 4, 8), input_shape=(8, 8, 3), num_classes=3)
    norm = InputNormalization.of([100.0, 110.0, 120.0], [50.0, 55.0, 60.0])
    keras.utils.set_random_seed(0)
    with_norm = build_model(arch, normalization=norm)
    keras.utils.set_random_seed(0)
    plain = build_model(arch)
    assert with_norm.count_params() == plain.count_params()
    raw = np.random.default_rng(0).integers(0, 256, (4, 8, 8, 3)).astype(np.float32)
    normalised = (raw - np.array(norm.mean)) / np.array(norm.std)
    np.testing.assert_allclose(with_norm(raw), plain(normalised), rtol=1e-4, atol=1e-5)
    with_norm.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded(raw), with_norm(raw), rtol=1e-5, atol=1e-6)


def test_it_stays_float32_under_a_mixed_policy():
    from resnet_nas.train import precision_policy

    arch = cifar_resnet(8, widths=(4, 4, 8), input_shape=(8, 8, 3), num_classes=3)
    with precision_policy("mixed_bfloat16"):
        model = build_model(arch, normalization=InputNormalization.for_preprocessing(
            "inception", 3))
    assert model.get_layer("normalize").compute_dtype == "float32"


def test_families_scalings_and_bad_values():
    assert InputNormalization.for_preprocessing("inception", 1) == InputNormalization(
        (127.5,), (127.5,))
    assert InputNormalization.for_preprocessing("vgg", 3).mean == (123.68, 116.78, 103.94)
    assert InputNormalization.for_preprocessing("cifar", 3) is None
    arch = cifar_resnet(8, widths=(4, 4, 8), input_shape=(8, 8, 1), num_classes=3)
    with pytest.raises(ValueError, match="normalization has 3 channel"):
        build_model(arch, normalization=InputNormalization.of([1, 2, 3], [1, 1, 1]))
    for bad in ({"mean": [1.0]}, {"mean": [float("nan")], "std": [1.0]},
                {"mean": [1.0], "std": [0.0]}, {"mean": [1.0, 2.0], "std": [1.0]}):
        with pytest.raises(ConfigError):
            InputNormalization.from_dict(bad, "cfg.yaml")
