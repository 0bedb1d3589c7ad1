"""Config generation: export a trial as YAML, load it back, rebuild it identically."""

import json

import pytest

from resnet_nas import results
from resnet_nas.arch_config import load_config
from resnet_nas.engines import SearchOptions, run_search
from resnet_nas.trial_export import export_config
from resnet_nas.nets import Architecture, build_model
from resnet_nas.validation import ConfigError
from tests.fakes import FakeRunner
from tests.helpers import tiny_space


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A finished run (its trials trained by the fake runner: export reads only rows)."""
    tmp = tmp_path_factory.mktemp("export")
    space = tiny_space(tmp, trials=2, epochs=1)
    run_search(SearchOptions(space=str(space), run_dir=str(tmp / "run"), progress=False),
               out=lambda line: None, runner_factory=FakeRunner)
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
        # the input normalisation its trial's model had: the model takes raw pixels
        assert cfg.normalization.to_dict() == json.loads(row["normalization"])
        assert cfg.data.name == "synthetic" and cfg.train.epochs == 1
    best = load_config(export_config(run_dir, "best", tmp_path / "best.yaml"))
    done = table[table["state"] == "complete"]
    assert best.origin.trial == int(done.loc[done["best_val_accuracy"].idxmax(), "trial"])


def test_an_exported_config_names_no_absolute_storage_and_keeps_the_run_settings(run_dir,
                                                                                 tmp_path):
    text = export_config(run_dir, 0, tmp_path / "t0.yaml").read_text()
    assert "study.db" not in text and "kind: resnet_nas/architecture" in text


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


def test_exported_configs_are_read_with_the_bounded_loader(tmp_path):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("a: &a [1, 2]\nb: [*a, *a]\n")
    with pytest.raises(ConfigError, match="aliases"):
        load_config(bomb)


def test_an_export_names_its_data_by_an_absolute_path(tmp_path, monkeypatch):
    """--data given relative to the search's directory: the export works from anywhere."""
    from tests.data.helpers import make_image_folder

    monkeypatch.chdir(tmp_path)
    make_image_folder(tmp_path / "imgs", size=(8, 8))
    space = tiny_space(tmp_path, trials=1, epochs=1)
    run_search(SearchOptions(space=str(space), run_dir="run", data="imgs", progress=False),
               out=lambda line: None, runner_factory=FakeRunner)
    out = export_config(tmp_path / "run", 0, tmp_path / "t0.yaml")
    monkeypatch.chdir(tmp_path / "run")
    cfg = load_config(out)
    assert cfg.data.name == "folder" and cfg.data.path == str((tmp_path / "imgs").resolve())
    row = results.load_table(tmp_path / "run").iloc[0]
    assert row["dataset"] == "imgs" and len(row["data_fingerprint"]) == 16
