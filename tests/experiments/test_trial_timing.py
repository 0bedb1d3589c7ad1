"""experiments/trial_timing.py: a run's per-trial time split from its rows."""

from __future__ import annotations

import importlib.util

from resnet_nas.engines import SearchOptions, run_search
from tests.fakes import FakeRunner
from tests.helpers import REPO, tiny_space

spec = importlib.util.spec_from_file_location("trial_timing",
                                              REPO / "experiments" / "trial_timing.py")
trial_timing = importlib.util.module_from_spec(spec)
spec.loader.exec_module(trial_timing)


def test_every_trained_trial_is_split_into_its_parts(tmp_path):
    space = tiny_space(tmp_path, trials=3, epochs=2)
    run_search(SearchOptions(space=str(space), run_dir=str(tmp_path / "run"), progress=False),
               out=lambda line: None, runner_factory=FakeRunner)
    rows = trial_timing.timing(tmp_path / "run")
    assert [r["trial"] for r in rows] == [0, 1, 2]
    for r in rows:
        # 360 training images, 5 full batches of 64 (320 images) an epoch, at the fake's 1e4
        # img/s; its train_seconds (0.01 an epoch) leave no time for evaluation
        assert abs(r["training"] - 2 * 320 / 1e4) < 1e-9
        assert r["evaluation"] == 0.0
        assert r["compile"] == 0.001 and r["start_up"] >= 0 and r["wall"] >= 0


def test_a_one_epoch_trial_counts_its_compile_once():
    """Epoch 1 holds the compile; with no later epoch its img/s is not a steady rate, so the
    steps' time is what train_seconds leaves after compile and evaluation."""
    row = {"trial": 4, "state": "pruned", "epochs_run": 1, "wall_seconds": 1.0,
           "train_seconds": 0.8, "compile_seconds": 0.5, "eval_seconds": 0.1,
           "images_per_second": 320 / 0.7}
    parts = trial_timing.split_row(row, 320)
    assert abs(parts["training"] - 0.2) < 1e-9 and parts["compile"] == 0.5
    assert abs(parts["training"] + parts["compile"] + parts["evaluation"]
               + parts["start_up"] - parts["wall"]) < 1e-9
