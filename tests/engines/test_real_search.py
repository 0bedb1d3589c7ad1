"""Searches that train for real, end to end, on tiny synthetic data (CPU): the TensorFlow
default, the JAX trainer, and (slow) the shipped quickstart as the README runs it."""

import json

import pandas as pd
import pytest

from resnet_nas.engines import SearchOptions, run_search
from tests.helpers import run_cli, tiny_space


def test_a_search_trains_in_the_trial_process_setting_the_next_trial_up_ahead(tmp_path):
    space = tiny_space(tmp_path, trials=2, epochs=2)
    summary = run_search(SearchOptions(space=str(space), run_dir=str(tmp_path / "run"),
                                       progress=False), out=lambda line: None)
    table = summary.table
    done = table[table["state"] == "complete"]
    assert len(done) == 2 and set(table["state"]) <= {"complete", "duplicate"}
    assert (done["epochs_run"] == 2).all()
    assert (done["backend"] == "tensorflow").all() and (done["trainer"] == "tf").all()
    assert (done["images_per_second"] > 0).all() and done["device"].notna().all()
    assert not summary.all_failed
    # the first trial compiled in its turn; the second was built and compiled ahead, by the
    # other trial process, while the first trained
    first, second = done.iloc[0], done.iloc[1]
    assert pd.isna(first["ahead_seconds"]) and first["compile_seconds"] > 0
    assert second["ahead_seconds"] > second["compile_seconds"] > 0


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
