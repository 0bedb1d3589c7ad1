"""The search on the JAX backend: every trial trains with the jitted JAX trainer (CPU here)."""

import json

import pytest

from resnet_nas.search import SearchOptions, run_search
from tests.helpers import tiny_space


def test_search_with_jax_trainer(tmp_path):
    pytest.importorskip("jax")
    space = tiny_space(tmp_path, trials=2, epochs=2)
    table = run_search(SearchOptions(space=str(space), run_dir=str(tmp_path / "run"),
                                     backend="jax", progress=False)).table
    assert len(table) == 2
    trained = table[table["state"] == "complete"]
    assert len(trained) >= 1
    assert (trained["backend"] == "jax").all() and (trained["trainer"] == "jax").all()
    assert (trained["compile_seconds"] > 0).all() and (trained["images_per_second"] > 0).all()
    assert all(len(json.loads(c)) == 2 for c in trained["val_accuracy_curve"])
