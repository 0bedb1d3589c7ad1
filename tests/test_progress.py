"""The terminal's per-trial line (where the time went) and the progress inside long epochs."""

from dataclasses import replace

from resnet_nas.progress import Progress, time_split
from resnet_nas.records import TrialRecord
from resnet_nas.train.metrics import StepProgress

REC = TrialRecord(study="s", space="x", space_hash="h", trial=3, engine="optuna",
                  sampler="tpe", pruner="none", state="complete", best_val_accuracy=0.5,
                  params=100)


def test_time_split_names_every_measured_part():
    rec = replace(REC, wall_seconds=12.0, train_seconds=9.0, compile_seconds=4.0,
                  eval_seconds=1.0)
    assert time_split(rec) == ("12.0 s = start-up 3.0 + compile 4.0 + train 4.0 + eval 1.0")
    unknown = replace(rec, compile_seconds=None)
    assert time_split(unknown) == "12.0 s = start-up 3.0 + train+compile 8.0 + eval 1.0"
    assert time_split(REC) == ""  # trained nothing (a duplicate, a failed start)


def test_a_trial_set_up_ahead_shows_what_its_wall_time_does_not_hold():
    rec = replace(REC, wall_seconds=5.1, train_seconds=5.0, compile_seconds=0.9,
                  eval_seconds=0.7, ahead_seconds=1.2)
    assert time_split(rec) == ("5.1 s = start-up 0.1 + train 4.3 + eval 0.7 "
                               "(set up ahead 1.2 s, compile 0.9)")


def test_the_trial_line_carries_the_split(capsys):
    progress = Progress(total=1, done=0, enabled=False)
    progress.trial_end(replace(REC, wall_seconds=2.0, train_seconds=1.5, compile_seconds=0.5,
                               eval_seconds=0.25), None)
    line = capsys.readouterr().err
    assert "trial   3 complete" in line and "| 2.0 s = start-up 0.5 + compile 0.5" in line


def test_step_progress_eta():
    p = StepProgress(epoch=1, step=100, steps=400, seconds=50.0, images_per_second=256.0)
    assert p.eta_seconds == 150.0
    assert StepProgress(1, 0, 400, 0.0, 0.0).eta_seconds != StepProgress(1, 0, 400, 0.0,
                                                                          0.0).eta_seconds


def test_step_progress_from_its_counts_and_how_it_reads():
    p = StepProgress.after(epoch=2, step=120, steps=390, batch_size=128, seconds=20.0)
    assert p.images_per_second == 768.0 and p.eta_seconds == 45.0
    assert p.describe() == "epoch 2: step 120/390, 768 img/s, 0:45 left"
