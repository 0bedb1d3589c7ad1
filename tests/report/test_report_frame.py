"""Loading runs into the report frame: schema, derived columns, clear errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from resnet_nas import results
from resnet_nas.report import (DERIVED_COLUMNS, REPORT_COLUMNS, ReportError, load_runs,
                               parse_curve)
from tests.helpers import write_row


def test_frame_has_schema_then_derived_columns(hand_frame):
    assert list(hand_frame.columns) == results.COLUMNS + list(DERIVED_COLUMNS)
    assert list(hand_frame.columns) == REPORT_COLUMNS
    assert len(hand_frame) == 7
    assert sorted(hand_frame["study"].unique()) == ["rnd", "tpe"]


def test_derived_columns(hand_frame):
    f = hand_frame.set_index(["study", "trial"])
    assert f.loc[("tpe", 1), "error"] == pytest.approx(0.10)
    assert pd.isna(f.loc[("rnd", 2), "error"])
    assert f.loc[("tpe", 0), "train_hours"] == pytest.approx(1.0)
    assert bool(f.loc[("tpe", 0), "is_gpu"]) and f.loc[("tpe", 0), "gpu_hours"] == 1.0
    assert not bool(f.loc[("rnd", 0), "is_gpu"]) and f.loc[("rnd", 0), "gpu_hours"] == 0.0
    assert f.loc[("rnd", 1), "gpu_hours"] == pytest.approx(1.0)   # A100 row of the cpu study
    assert f.loc[("tpe", 1), "finished_ts"] == pd.Timestamp("2025-01-01T09:00:00Z")
    assert sorted(f["study_label"].unique()) == ["rnd", "tpe"]  # unambiguous: no prefix


def test_device_variants_and_missing_device():
    frame = results.to_frame([{"study": "s", "trial": i, "state": "complete", "device": d,
                               "train_seconds": 3600} for i, d in
                              enumerate(["CPU:0", "TFRT_CPU_0", None, "cuda:0", ""])])
    frame["run_dir"] = "x"
    from resnet_nas.report import add_derived
    out = add_derived(frame)
    assert out["gpu_hours"].tolist() == [0.0, 0.0, 0.0, 1.0, 0.0]


def test_same_study_name_in_two_runs_gets_run_prefix(tmp_path):
    for run in ("a", "b"):
        write_row(tmp_path / run, **{"study": "s", "trial": 0, "state": "complete",
                                      "best_val_accuracy": 0.5})
    frame = load_runs([tmp_path / "a", tmp_path / "b"])
    assert sorted(frame["study_label"]) == ["a/s", "b/s"]


def test_missing_run_dir_is_a_clear_error(tmp_path):
    with pytest.raises(ReportError, match="run directory .*nope.* does not exist"):
        load_runs([tmp_path / "nope"])


def test_a_run_dir_without_rows_yet_is_left_out_with_a_note(tmp_path, hand_runs):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "run.json").write_text("{}")  # a run whose first trial has not finished
    notes: list[str] = []
    frame = load_runs([hand_runs[0], empty], notes)
    assert len(frame) == len(load_runs([hand_runs[0]]))
    assert notes == [f"no trials recorded yet in {str(empty)!r}; left out"]
    with pytest.raises(ReportError, match="no trials recorded yet in .*empty"):
        load_runs([empty])


def test_a_directory_that_is_not_a_run_is_said_so(tmp_path, hand_runs):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text("root:x:0:0")
    with pytest.raises(ReportError, match="'.*etc' is not a run directory"):
        load_runs([hand_runs[0], tmp_path / "etc"])


def test_a_trial_with_rows_in_two_run_dirs_of_one_storage_is_counted_once(tmp_path):
    """A stale trial whose worker came back: a failed row in both workers' directories."""
    import json

    storage = f"journal://{tmp_path / 'study.journal'}"
    for run, state, acc in (("wA", "failed", None), ("wB", "failed", None)):
        (tmp_path / run).mkdir()
        (tmp_path / run / "run.json").write_text(json.dumps({"storage": storage}))
        write_row(tmp_path / run, study="s", trial=4, state=state, best_val_accuracy=acc)
    write_row(tmp_path / "wB", study="s", trial=5, state="complete", best_val_accuracy=0.5)
    notes: list[str] = []
    frame = load_runs([tmp_path / "wA", tmp_path / "wB"], notes)
    assert sorted(frame["trial"]) == [4, 5]
    assert len(notes) == 1 and "trial 4 of study 's' has rows in 2 run directories" in notes[0]
    # two runs of one study name with their own storages are two studies
    other = tmp_path / "other"
    other.mkdir()
    (other / "run.json").write_text(json.dumps({"storage": "sqlite:///{RUN_DIR}/study.db"}))
    write_row(other, study="s", trial=4, state="complete", best_val_accuracy=0.7)
    assert len(load_runs([tmp_path / "wA", other])) == 2


def test_file_instead_of_dir_and_no_dirs(tmp_path):
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(ReportError, match="found a file"):
        load_runs([tmp_path / "f.txt"])
    with pytest.raises(ReportError, match="at least one run directory"):
        load_runs([])


def test_parse_curve():
    assert parse_curve(json.dumps([0.1, 0.2])) == [0.1, 0.2]
    assert parse_curve(pd.NA) == [] and parse_curve(None) == [] and parse_curve("oops") == []
    assert np.isnan(parse_curve("[0.1, null]")[1])
