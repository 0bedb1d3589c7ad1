"""Searches that train for real, end to end, on tiny synthetic data (CPU): the TensorFlow
default, the JAX trainer, and (slow) the shipped quickstart as the README runs it."""

import json

import pytest

from resnet_nas.engines import SearchOptions, run_search
from tests.helpers import run_cli, tiny_space


def test_a_search_trains_in_the_trial_process(tmp_path):
    space = tiny_space(tmp_path, trials=1, epochs=2)
    summary = run_search(SearchOptions(space=str(space), run_dir=str(tmp_path / "run"),
                                       progress=False), out=lambda line: None)
    table = summary.table
    assert len(table) == 1 and set(table["state"]) == {"complete"}
    done = table[table["state"] == "complete"]
    assert (done["epochs_run"] == 2).all()
    assert (table["backend"] == "tensorflow").all() and (table["trainer"] == "tf").all()
    assert (table["images_per_second"] > 0).all() and table["device"].notna().all()
    assert not summary.all_failed


@pytest.mark.slow
def test_search_with_the_jax_trainer(tmp_path):
    pytest.importorskip("jax")
    space = tiny_space(tmp_path, trials=1, epochs=2)
    table = run_search(SearchOptions(space=str(space), run_dir=str(tmp_path / "run"),
                                     backend="jax", progress=False), out=lambda line: None).table
    assert len(table) == 1
    trained = table[table["state"] == "complete"]
    assert len(trained) == 1
    assert (trained["backend"] == "jax").all() and (trained["trainer"] == "jax").all()
    assert (trained["compile_seconds"] > 0).all() and (trained["images_per_second"] > 0).all()
    assert all(len(json.loads(c)) == 2 for c in trained["val_accuracy_curve"])


@pytest.mark.slow
def test_the_quickstart_runs_as_the_readme_says(tmp_path):
    out = run_cli("search", "--trials", "3", "--epochs", "2", "--no-progress", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "leaderboard" in out.stdout and "3 trained trials" in out.stdout
    assert len(list((tmp_path / "runs").glob("quickstart-*/rows/*.json"))) >= 3
