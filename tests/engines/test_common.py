"""The shared trial flow: what state an outcome gives a row."""

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
