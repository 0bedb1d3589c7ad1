"""The shared trial flow: what state an outcome gives a row."""

import pytest

from resnet_nas.engines.common import trial_state
from resnet_nas.train.metrics import EpochMetrics, TrainResult
from resnet_nas.trial_process import JobResult


def _outcome(epochs_run: int, diverged: bool = False, stopped: bool = False) -> JobResult:
    history = [EpochMetrics(i + 1, 1.0, 0.5, 1.0, 0.5, 0.1, 10.0) for i in range(epochs_run)]
    reason = "diverged: train loss nan at epoch 1" if diverged else "completed"
    return JobResult(True, TrainResult(history, epochs_run, stopped, diverged, reason, 1.0, 0.1,
                                       10.0, "fit", "tensorflow", "cpu"))


def test_a_trial_that_ran_all_its_epochs_is_complete_even_if_the_pruner_said_stop():
    assert trial_state(_outcome(3), 3, pruned=False) == ("complete", "")
    assert trial_state(_outcome(3, stopped=True), 3, pruned=True) == ("complete", "")


def test_pruned_means_stopped_early_by_the_pruner():
    state, reason = trial_state(_outcome(1, stopped=True), 3, pruned=True,
                                pruner_name="MedianPruner")
    assert state == "pruned" and reason == "pruned by MedianPruner after epoch 1 of 3"


def test_failures():
    assert trial_state(JobResult(False, error="RuntimeError: OOM\ntb"), 3, False) == \
        ("failed", "RuntimeError: OOM")
    assert trial_state(_outcome(1, diverged=True), 3, False)[0] == "failed"
    assert trial_state(_outcome(0), 3, False) == ("failed", "no validation accuracy reported")
    state, reason = trial_state(_outcome(2), 3, pruned=False)
    assert state == "failed" and "stopped after epoch 2 of 3" in reason


@pytest.mark.parametrize("lookahead", [False, True])
def test_each_trial_process_is_warmed_once_with_the_run_data_and_not_for_a_finished_run(
        tmp_path, fake_runner, lookahead):
    from resnet_nas.engines import SearchOptions, run_search
    from tests.helpers import tiny_space

    from resnet_nas.lookahead import LookaheadRunner

    processes = 2 if lookahead else 1
    factory = ((lambda *a, **kw: LookaheadRunner(lambda: fake_runner(*a, **kw))) if lookahead
               else fake_runner)
    space = tiny_space(tmp_path, trials=2, epochs=1)
    run_dir = tmp_path / "run"
    run_search(SearchOptions(space=str(space), run_dir=str(run_dir), progress=False),
               out=lambda line: None, runner_factory=factory)
    assert len(fake_runner.warmed) == processes
    for data, seed in fake_runner.warmed:
        assert data == fake_runner.jobs[0].data and seed == fake_runner.jobs[0].train.seed
    # started before the search opens its study, warmed with the data once it knows them
    assert fake_runner.events[:2 * processes] == ["start"] * processes + ["warm"] * processes
    assert fake_runner.events[-processes:] == ["close"] * processes
    fake_runner.events.clear()
    run_search(SearchOptions(space=None, run_dir=str(run_dir), resume=True, progress=False),
               out=lambda line: None, runner_factory=factory)
    assert len(fake_runner.warmed) == processes  # at its target: nothing to train or start
    assert "start" not in fake_runner.events and "run" not in fake_runner.events


def test_a_search_refused_after_its_trial_process_started_stops_it(tmp_path, fake_runner,
                                                                     monkeypatch):
    import resnet_nas.engines as engines
    from resnet_nas.data.dataset import DataError
    from tests.helpers import tiny_space

    def unreadable(*args, **kw):
        raise DataError("data: the data set cannot be read")

    monkeypatch.setattr(engines, "data_info", unreadable)
    space = tiny_space(tmp_path, trials=2, epochs=1)
    with pytest.raises(DataError):
        engines.run_search(engines.SearchOptions(space=str(space), run_dir=str(tmp_path / "run"),
                                                 progress=False),
                           out=lambda line: None, runner_factory=fake_runner)
    assert fake_runner.events == ["start", "close"]
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("limits", [{}, {"limit_train": 5, "limit_test": 3}])
def test_the_data_fingerprint_is_the_one_earlier_runs_recorded(tmp_path, limits):
    """Runs record the fingerprint of their data (run.json) and a resume compares it: it is
    computed without the pixels now, and must not change for the same data."""
    import hashlib

    from resnet_nas.config import DataConfig
    from resnet_nas.data import load_dataset
    from resnet_nas.engines.common import data_info
    from tests.data.helpers import make_image_folder

    folder = DataConfig(name="folder", path=str(make_image_folder(tmp_path / "imgs")),
                        cache_dir=str(tmp_path / "cache"), **limits)
    for cfg in (folder, DataConfig(name="digits", **limits)):
        data = load_dataset(cfg, seed=1)  # as data_info computed it before (whole data set)
        h = hashlib.sha256()
        h.update(repr((tuple(data.input_shape), int(data.num_classes),
                       list(data.class_names))).encode())
        for y in (data.y_train, data.y_val, data.y_test):
            h.update(y.tobytes())
        info = data_info(cfg, 1)
        assert info.fingerprint == h.hexdigest()[:16], cfg.name
        assert info.input_shape == data.input_shape and info.num_classes == data.num_classes
