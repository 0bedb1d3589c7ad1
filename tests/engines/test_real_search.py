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
    assert all(len(c) == 2 for c in trained["val_accuracy_curve"])


@pytest.mark.slow
def test_the_quickstart_runs_as_the_readme_says(tmp_path):
    out = run_cli("search", "--trials", "3", "--epochs", "2", "--no-progress", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "leaderboard" in out.stdout and "3 trained trials" in out.stdout
    assert len(list((tmp_path / "runs").glob("quickstart-*/rows/*.json"))) >= 3


def test_the_photos_space_streams_a_folder_of_mixed_sizes_end_to_end(tmp_path):
    """`search photos --data FOLDER`: photos of mixed sizes streamed at the input size the
    space (here --set) asks for; the row records the model's normalisation; the exported
    config builds a model that takes raw pixels."""
    import keras
    import numpy as np

    from resnet_nas.config import DataConfig
    from resnet_nas.input import open_input
    from tests.data.helpers import make_photo_folder

    photos = make_photo_folder(tmp_path / "photos", n_train=8, n_test=2)
    out = run_cli("search", "photos", "--data", str(photos), "--run-dir", str(tmp_path / "run"),
                  "--trials", "1", "--epochs", "1", "--no-progress",
                  "--set", "space.input_shape=[32,32,3]", "--set", "train.batch_size=8",
                  "--set", "data.cache=none", "--set", f"data.cache_dir={tmp_path / 'cache'}",
                  cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = [json.loads(p.read_text()) for p in (tmp_path / "run" / "rows").glob("*.json")]
    (row,) = [r for r in rows if r["state"] == "complete"]
    assert row["skipped_images"] == 0 and row["dataset"] == "photos"
    assert json.loads(row["normalization"]) == {"mean": [127.5] * 3, "std": [127.5] * 3}
    assert json.loads(row["arch"])["input_shape"] == [32, 32, 3]
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["overrides"]["sets"][0] == "space.input_shape=[32,32,3]"
    exported = run_cli("export", "--run", str(tmp_path / "run"), cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    config = exported.stdout.strip().splitlines()[-1]
    built = run_cli("build", "--config", config, "--out", str(tmp_path / "m.keras"),
                    cwd=tmp_path)
    assert built.returncode == 0, built.stderr[-2000:]
    model = keras.saving.load_model(tmp_path / "m.keras")
    inp = open_input(DataConfig(name="folder", path=str(photos), cache="none",
                                cache_dir=str(tmp_path / "cache")), 0, (32, 32, 3))
    x, _, k = next(inp.eval_feed("test", __import__("resnet_nas.config").config.TrainConfig())
                   .batches())
    assert model.predict(x[:k], verbose=0).shape == (k, 3)
    assert np.allclose(np.ravel(model.get_layer("normalize").mean), 127.5)
    # a resumed run keeps its --set values, and refuses others
    again = run_cli("search", "--resume", "--run-dir", str(tmp_path / "run"), "--set",
                    "train.batch_size=16", "--no-progress", cwd=tmp_path)
    assert again.returncode == 2 and "argument --set" in again.stderr


@pytest.mark.slow
def test_a_search_on_tfrecord_shards_with_the_jax_trainer(tmp_path):
    pytest.importorskip("jax")
    from tests.data.helpers import encoded_image, write_tfrecords

    items = [(encoded_image((40 * c + 10, 0, 200), (24 + c, 20), "JPEG"), c + 1)
             for c in range(3) for _ in range(16)]
    shards = write_tfrecords(tmp_path / "shards", {"train": items, "validation": items[::4]})
    space = tiny_space(tmp_path, trials=1, epochs=2)
    table = run_search(SearchOptions(space=str(space), run_dir=str(tmp_path / "run"),
                                     backend="jax", data=str(shards), progress=False,
                                     sets=("data.labels_offset=1", "data.cache=none",
                                           "train.batch_size=8",
                                           "space.input_shape=[16,16,3]",
                                           f"data.cache_dir={tmp_path / 'cache'}")),
                       out=lambda line: None).table
    trained = table[table["state"] == "complete"]
    assert len(trained) == 1 and (trained["trainer"] == "jax").all()
    assert trained["dataset"].iloc[0] == "shards" and trained["skipped_images"].iloc[0] == 0
