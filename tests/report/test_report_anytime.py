"""Best-so-far sequences against hand values (see conftest.py)."""

from __future__ import annotations

import numpy as np
import pytest

from resnet_nas.report import ReportError, ReportOptions, build_report
from resnet_nas.report.anytime import best_so_far


def test_best_so_far_by_trial(hand_frame):
    t = best_so_far(hand_frame, "trial")
    tpe = t[t["study_label"] == "tpe"]
    assert tpe["trial"].tolist() == [0, 1, 2, 3]
    assert tpe["n_trials"].tolist() == [1, 2, 3, 4]
    # pruned (.40) and duplicate rows never raise the best
    assert tpe["best_so_far"].tolist() == [0.80, 0.90, 0.90, 0.90]
    rnd = t[t["study_label"] == "rnd"]
    assert rnd["best_so_far"].tolist() == [0.85, 0.85, 0.85]


def test_best_so_far_by_time_orders_by_finish_and_skips_duplicate_time(hand_frame):
    t = best_so_far(hand_frame, "time")
    tpe = t[t["study_label"] == "tpe"]
    assert tpe["trial"].tolist() == [1, 0, 2, 3]  # t1 finished at 09:00, before t0
    np.testing.assert_allclose(tpe["cum_train_hours"], [0.5, 1.5, 6000 / 3600, 6000 / 3600])
    assert tpe["best_so_far"].tolist() == [0.90] * 4
    rnd = t[t["study_label"] == "rnd"]
    np.testing.assert_allclose(rnd["cum_train_hours"], [2.0, 3.0, 10900 / 3600])


def test_best_so_far_nan_before_first_complete(hand_frame):
    f = hand_frame.copy()
    f.loc[(f["study"] == "tpe") & (f["trial"] == 0), "state"] = "failed"
    tpe = best_so_far(f, "trial").query("study_label == 'tpe'")
    assert np.isnan(tpe["best_so_far"].iloc[0])
    assert tpe["best_so_far"].tolist()[1:] == [0.90, 0.90, 0.90]


def test_anytime_summary_hours_to_best(hand_frame):
    s = build_report(hand_frame, ReportOptions(n_boot=0)).section("anytime_summary").table
    s = s.set_index("study_label")
    assert s.loc["tpe", "best"] == 0.90 and s.loc["tpe", "hours_to_best"] == pytest.approx(0.5)
    assert s.loc["rnd", "best"] == 0.85 and s.loc["rnd", "hours_to_best"] == pytest.approx(2.0)
    assert s.loc["tpe", "trials"] == 4


def test_bad_axis(hand_frame):
    with pytest.raises(ReportError, match="anytime axis"):
        best_so_far(hand_frame, "epochs")
