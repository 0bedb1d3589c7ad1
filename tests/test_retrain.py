"""`train --config` and `build --config`: an exported config retrained for real (in the trial
process, evaluated on the test split) and built as a loadable .keras file."""

import json

import keras
import numpy as np
import pytest

from resnet_nas.arch_config import load_config
from resnet_nas.nets import build_model, cifar_resnet
from resnet_nas.retrain import build_config
from tests.helpers import run_cli


@pytest.fixture
def config(tmp_path):
    arch = cifar_resnet(8, widths=(4, 4, 8), input_shape=(16, 16, 3), num_classes=4)
    doc = {"kind": "resnet_nas/architecture", "name": "tiny-trial0",
           "architecture": arch.to_dict(),
           "data": {"name": "synthetic", "validation_split": 0.25, "limit_train": 128},
           "train": {"epochs": 1, "batch_size": 64}}
    path = tmp_path / "tiny.yaml"
    path.write_text(json.dumps(doc))  # JSON is YAML
    return path


def test_build_saves_loadable_keras_model(config, tmp_path):
    info = build_config(config, tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.count_params() == info["params"] == info["analytic_params"]
    x = np.zeros((2, *load_config(config).arch.input_shape), "float32")
    assert loaded(x).shape == (2, 4)


def test_the_changes_of_a_retrain_are_listed(config):
    from resnet_nas.retrain import config_changes

    before = load_config(config)
    after = load_config(config, {"data.limit_train": None, "train.batch_size": 256,
                                 "normalization": {"mean": [1, 1, 1], "std": [2, 2, 2]}})
    assert config_changes(before, after) == {
        "data.limit_train": [128, None], "train.batch_size": [64, 256],
        "normalization.mean": [None, [1.0, 1.0, 1.0]],
        "normalization.std": [None, [2.0, 2.0, 2.0]]}
    assert config_changes(before, before) == {}


def test_build_takes_the_configs_normalisation_or_the_datas(config, tmp_path):
    from resnet_nas.input import open_input

    doc = json.loads(config.read_text())
    build_config(config, tmp_path / "a.keras")
    layer = keras.saving.load_model(tmp_path / "a.keras").get_layer("normalize")
    cfg = load_config(config)
    expected = open_input(cfg.data, cfg.train.seed, cfg.arch.input_shape).normalization
    np.testing.assert_allclose(np.ravel(layer.mean), expected.mean, rtol=1e-6)
    doc["normalization"] = {"mean": [1.0, 2.0, 3.0], "std": [2.0, 2.0, 2.0]}
    config.write_text(json.dumps(doc))
    info = build_config(config, tmp_path / "b.keras", sets=("train.weight_decay=0.001",))
    model = keras.saving.load_model(tmp_path / "b.keras")
    np.testing.assert_allclose(np.ravel(model.get_layer("normalize").variance), [4.0] * 3)
    assert info["params"] == info["analytic_params"]
    doc["normalization"] = {"mean": [1.0], "std": [2.0]}
    config.write_text(json.dumps(doc))
    with pytest.raises(Exception, match="normalization.mean: expected 3 value"):
        load_config(config)


def test_a_saved_model_takes_raw_pixels_and_gives_the_reported_accuracy(tmp_path):
    """What the trial process does with a job that saves its model (resnet_nas.job_runner),
    in this process: the inference copy's first layer normalises raw images."""
    from resnet_nas.config import DataConfig, TrainConfig
    from resnet_nas.input import open_input
    from resnet_nas.train import evaluate, train_model

    inp = open_input(DataConfig(name="digits"), 0)
    arch = cifar_resnet(8, widths=(8, 8, 16), input_shape=(8, 8, 1), num_classes=10)
    cfg = TrainConfig(epochs=2, batch_size=64, learning_rate=0.05)
    keras.utils.set_random_seed(0)
    model = build_model(arch, cfg.resnet_config(), normalization=inp.normalization)
    train_model(model, inp, cfg)
    _, reported = evaluate(model, inp.eval_feed("test", cfg))
    clean = build_model(arch, cfg.resnet_config(), normalization=inp.normalization)
    clean.set_weights(model.get_weights())
    clean.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    raw = inp.arrays.x_test  # uint8 pixels, 0-255, as read from the files
    predicted = loaded.predict(raw, verbose=0).argmax(-1)
    assert np.mean(predicted == inp.arrays.y_test) == pytest.approx(reported)
    assert reported > 0.5  # it learned, and the raw-pixel model shows it


@pytest.mark.slow  # trains for real in a trial process
def test_train_cli_round_trip_reports_test_accuracy(config, tmp_path):
    out = run_cli("train", "--config", str(config), "--epochs", "1", "--save",
                  str(tmp_path / "trained.keras"), "--set", "data.limit_train=96", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads(out.stdout[out.stdout.index("{"):])
    assert summary["epochs"] == 1 and 0.0 <= summary["test_accuracy"] <= 1.0
    assert summary["changed"] == {"data.limit_train": [128, 96]}
    assert summary["params"] == build_model(load_config(config).arch).count_params()
    assert keras.saving.load_model(tmp_path / "trained.keras").count_params() == summary["params"]
    # Strict JSON (no NaN) in both; a one-epoch run still shows its compile time.
    stored = json.loads((tmp_path / "tiny.yaml.result.json").read_text(),
                        parse_constant=lambda c: pytest.fail(f"{c} in the result file"))
    assert stored["compile_seconds"] is not None and stored["compile_seconds"] >= 0
    assert "NaN" not in out.stdout


def test_bad_flags_are_one_line_errors(config, tmp_path):
    out = run_cli("train", "--config", str(config), "--epochs", "0", cwd=tmp_path)
    assert out.returncode == 2 and "argument --epochs" in out.stderr
    for bad, says in ((["--set", "train.batch_size"], "--set: train.batch_size: expected "
                                                      "'dotted.key=value'"),
                      (["--set", "train.batch_sise=3"], "did you mean 'batch_size'"),
                      (["--set", "data.cache=disk"], "data.cache: expected one of")):
        out = run_cli("build", "--config", str(config), "--out", str(tmp_path / "x.keras"),
                      *bad, cwd=tmp_path)
        assert out.returncode == 2 and says in out.stderr and len(
            out.stderr.strip().splitlines()) == 1, out.stderr
        assert not (tmp_path / "x.keras").exists()
    out = run_cli("train", "--config", str(config), "--data", str(tmp_path / "nope"),
                  cwd=tmp_path)
    assert out.returncode == 2 and "argument --data" in out.stderr
    assert "Traceback" not in out.stderr


def test_an_exported_config_runs_from_any_directory(tmp_path):
    """A relative data path is relative to the config file; a missing one is a one-line error
    that names the config's key, found before any process starts or model is built."""
    images = tmp_path / "data" / "imgs"
    (images / "train" / "a").mkdir(parents=True)
    arch = cifar_resnet(8, widths=(4, 4, 8), input_shape=(8, 8, 3), num_classes=2)
    doc = {"kind": "resnet_nas/architecture", "architecture": arch.to_dict(),
           "data": {"name": "folder", "path": "data/imgs"}, "train": {"epochs": 1}}
    config = tmp_path / "cfg.yaml"
    config.write_text(json.dumps(doc))
    assert load_config(config).data.path == str(images.resolve())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    doc["data"]["path"] = "data/missing.tar.gz"
    config.write_text(json.dumps(doc))
    out = run_cli("train", "--config", str(config), cwd=elsewhere)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr[-2000:]
    assert out.stderr.count("\n") == 1 and f"{config}: data.path" in out.stderr
    assert "missing.tar.gz" in out.stderr and "relative to the config file" in out.stderr


@pytest.mark.parametrize("units, input_shape, says", [
    ([[8192, 8192, 1]], [32, 32, 3], "604,373,120 parameters (limit 500,000,000)"),
    ([[8, 2, 1]] * 1001, [32, 32, 3], "1,001 residual units (limit 1,000)"),
    ([[8, 2, 1]], [16384, 16384, 3], "GiB of activations per training example"),
])
def test_a_config_past_the_size_limits_is_refused_before_anything_is_built(
        config, tmp_path, units, input_shape, says):
    doc = json.loads(config.read_text())
    doc["architecture"].update(blocks=[{"scope": "block1", "units": units}],
                               input_shape=input_shape)
    big = tmp_path / "big.yaml"
    big.write_text(json.dumps(doc))
    for cmd in (["build", "--out", str(tmp_path / "big.keras")], ["train"]):
        out = run_cli(cmd[0], "--config", str(big), *cmd[1:], cwd=tmp_path)
        assert out.returncode == 2, out.stderr
        line, = out.stderr.strip().splitlines()
        assert str(big) in line and "architecture" in line and says in line
        assert f"pass --allow-large to {cmd[0]} it anyway" in line
    assert not (tmp_path / "big.keras").exists()
    assert not (tmp_path / "big.yaml.result.json").exists()


def test_allow_large_lifts_the_size_limits(config, tmp_path):
    doc = json.loads(config.read_text())
    doc["architecture"]["blocks"] = [{"scope": "block1", "units": [[4, 1, 1]] * 1001}]
    big = tmp_path / "big.yaml"
    big.write_text(json.dumps(doc))
    from resnet_nas.retrain import check_size
    from resnet_nas.validation import ConfigError

    cfg = load_config(big)
    with pytest.raises(ConfigError, match="1,001 residual units"):
        check_size(cfg.arch, cfg.train, str(big), False, "build")
    check_size(cfg.arch, cfg.train, str(big), True, "build")  # nothing raised
