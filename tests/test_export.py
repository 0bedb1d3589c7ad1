"""Config generation: export a trial, rebuild it identically, retrain it, save it."""

import json

import keras
import numpy as np
import pytest

from resnet_nas import results
from resnet_nas.export import build_config, export_config, load_config
from resnet_nas.nets import Architecture, build_model
from resnet_nas.search import SearchOptions, run_search
from resnet_nas.validation import ConfigError
from tests.helpers import run_cli, tiny_space


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("export")
    space = tiny_space(tmp, trials=2, epochs=1)
    run_search(SearchOptions(space=str(space), run_dir=str(tmp / "run"), progress=False))
    return tmp / "run"


def _structure(model):
    return [(type(layer).__name__, layer.name, [tuple(w.shape) for w in layer.weights])
            for layer in model.layers]


def test_export_rebuilds_identical_network(run_dir, tmp_path):
    table = results.load_table(run_dir)
    for trial in (0, 1):
        path = export_config(run_dir, trial, tmp_path / f"t{trial}.yaml")
        cfg = load_config(path)
        row = table[table["trial"] == trial].iloc[0]
        original = Architecture.from_dict(json.loads(row["arch"]))
        assert cfg.arch == original and cfg.arch.key() == row["arch_key"]
        rebuilt, reference = build_model(cfg.arch), build_model(original)
        assert _structure(rebuilt) == _structure(reference)
        assert rebuilt.count_params() == int(row["params"])
        assert cfg.data.name == "synthetic" and cfg.train.epochs == 1
    best = load_config(export_config(run_dir, "best", tmp_path / "best.yaml"))
    done = table[table["state"] == "complete"]
    assert best.origin["trial"] == int(done.loc[done["best_val_accuracy"].idxmax(), "trial"])


def test_build_saves_loadable_keras_model(run_dir, tmp_path):
    path = export_config(run_dir, 0, tmp_path / "t0.yaml")
    info = build_config(path, tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.count_params() == info["params"] == info["analytic_params"]
    x = np.zeros((2, *load_config(path).arch.input_shape), "float32")
    assert loaded(x).shape == (2, 4)


def test_train_cli_round_trip_reports_test_accuracy(run_dir, tmp_path):
    path = export_config(run_dir, "best", tmp_path / "best.yaml")
    out = run_cli("train", "--config", str(path), "--epochs", "2", "--save",
                  str(tmp_path / "trained.keras"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads(out.stdout[out.stdout.index("{"):])
    assert summary["epochs"] == 2 and 0.0 <= summary["test_accuracy"] <= 1.0
    assert summary["params"] == build_model(load_config(path).arch).count_params()
    assert keras.saving.load_model(tmp_path / "trained.keras").count_params() == summary["params"]
    assert (tmp_path / "best.yaml.result.json").exists()


def test_export_errors(run_dir, tmp_path):
    with pytest.raises(ValueError, match="trial 99 is not in this run"):
        export_config(run_dir, 99)
    with pytest.raises(ValueError, match="trial number or 'best'"):
        export_config(run_dir, "first")
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: resnet_nas/architecture\narchitecture:\n  unit: v1_basic\n  blocks:\n"
                   "  - units: [[8, 8, 3]]\n")
    with pytest.raises(ConfigError) as err:
        load_config(bad)
    assert "bad.yaml" in str(err.value) and "architecture.blocks[0].units[0].stride" in str(err.value)
