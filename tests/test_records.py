"""Trial records: rows and back, what counts towards the target, duplicates."""

import json

from resnet_nas.nets import cifar_resnet
from resnet_nas.records import TrialRecord, new_record
from resnet_nas.train.metrics import EpochMetrics, TrainResult
from tests.test_run import _run


def _result(accs):
    history = [EpochMetrics(i + 1, 1.0, a, 1.0 / (i + 1), a, 0.1, 100.0)
               for i, a in enumerate(accs)]
    return TrainResult(history, len(history), False, False, "completed", 1.0, 0.1, 100.0,
                       "fit", "tensorflow", "cpu")


def test_a_record_is_a_row_and_back():
    arch = cifar_resnet(8, widths=(4, 4, 8), input_shape=(16, 16, 3), num_classes=4)
    rec = new_record(_run(), 3, arch, 2, 0, "tensorflow").with_result(_result([0.3, 0.5]))
    row = rec.to_row()
    assert json.loads(row["val_accuracy_curve"]) == [0.3, 0.5] and row["best_val_accuracy"] == 0.5
    assert json.loads(row["arch"])["unit"] == arch.unit and row["params"] > 0
    assert TrialRecord.from_row(row) == rec


def test_what_counts_towards_the_target():
    base = dict(study="s", space="s", space_hash="h", trial=0, engine="optuna", sampler="tpe",
                pruner="none")
    assert TrialRecord(**base, state="complete").counts
    assert TrialRecord(**base, state="pruned").counts
    assert TrialRecord(**base, state="failed", reason="diverged").counts
    assert not TrialRecord(**base, state="failed", reason="interrupted: stopped").counts
    assert not TrialRecord(**base, state="duplicate").counts


def test_non_finite_numbers_become_null():
    rec = TrialRecord(study="s", space="s", space_hash="h", trial=0, engine="optuna",
                      sampler="tpe", pruner="none", final_val_loss=float("nan"))
    assert rec.to_row()["final_val_loss"] is None
