"""Rank stability between fidelities against hand-computed Spearman/Kendall values."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from resnet_nas import results
from resnet_nas.report import ReportError, add_derived
from resnet_nas.report.fidelity import (curve_pairs, curve_rank_stability,
                                        epochs_rank_stability, rank_correlation)

# short ranks [2, 3, 4, 1], long ranks [2, 4, 3, 1]: sum d^2 = 2, so
# rho = 1 - 6*2 / (4*15) = 0.8; 5 concordant and 1 discordant pairs, so tau = 4/6.
SHORT = [.5, .6, .7, .3]
LONG = [.8, .9, .85, .7]


def test_rank_correlation_by_hand():
    r = rank_correlation(SHORT, LONG)
    assert r["n"] == 4
    assert r["spearman"] == pytest.approx(0.8)
    assert r["kendall"] == pytest.approx(2 / 3)
    assert 0 < r["spearman_p"] < 1 and 0 < r["kendall_p"] < 1


def test_rank_correlation_undefined_cases():
    assert math.isnan(rank_correlation([.1, .2], [.3, .4])["spearman"])  # < 3 pairs
    assert math.isnan(rank_correlation([.1, .1, .1], [.3, .4, .5])["kendall"])  # constant


def test_curve_rank_stability_on_hand_runs(hand_frame):
    pairs = curve_pairs(hand_frame, short_epoch=1)
    # pruned t2 (curve of 1 epoch) and the duplicate t3 are left out
    assert sorted(zip(pairs["study_label"], pairs["trial"])) == [("rnd", 0), ("rnd", 1),
                                                                 ("tpe", 0), ("tpe", 1)]
    table = curve_rank_stability(hand_frame, short_epoch=1).set_index("study_label")
    assert table.loc["tpe", "n"] == 2 and math.isnan(table.loc["tpe", "spearman"])
    pooled = table.loc["all"]   # short [.5, .6, .7, .3] vs long [.8, .9, .85, .7]
    assert (pooled["n"], pooled["long_epoch"]) == (4, 3)
    assert pooled["spearman"] == pytest.approx(0.8)
    assert pooled["kendall"] == pytest.approx(2 / 3)


def test_curve_rank_stability_explicit_long_epoch(hand_frame):
    # epoch 1 vs 2: short [.5, .6, .7, .3], long [.7, .85, .8, .6] -> same ranks as above
    pooled = curve_rank_stability(hand_frame, 1, 2).set_index("study_label").loc["all"]
    assert pooled["long_epoch"] == 2 and pooled["spearman"] == pytest.approx(0.8)
    # short epoch 2 vs final 3: [.7, .85, .8, .6] vs [.8, .9, .85, .7]: identical ranks
    assert curve_rank_stability(hand_frame, 2).set_index("study_label").loc["all", "kendall"] \
        == pytest.approx(1.0)


def test_bad_epochs(hand_frame):
    with pytest.raises(ReportError, match="--short-epoch"):
        curve_pairs(hand_frame, 0)
    with pytest.raises(ReportError, match="--long-epoch"):
        curve_pairs(hand_frame, 2, 2)


def _budget_frame() -> pd.DataFrame:
    rows = []
    for i, (arch, epochs, acc, state) in enumerate([
            ("a", 1, .5, "complete"), ("b", 1, .6, "complete"), ("c", 1, .7, "complete"),
            ("d", 1, .3, "complete"), ("e", 1, .99, "complete"),     # e: never long-trained
            ("a", 10, .8, "complete"), ("b", 10, .88, "complete"), ("b", 10, .92, "complete"),
            ("c", 10, .85, "complete"), ("d", 10, .7, "complete"),
            ("d", 10, .99, "duplicate")]):
        rows.append({"study": "s", "trial": i, "arch_key": arch, "epochs_planned": epochs,
                     "best_val_accuracy": acc, "state": state})
    frame = results.to_frame(rows)
    frame["run_dir"] = "r"
    return add_derived(frame)


def test_epochs_rank_stability_across_budgets():
    # b at 10 epochs averages .88 and .92 to .90; the duplicate and e are ignored, so this is
    # again short [.5, .6, .7, .3] vs long [.8, .9, .85, .7].
    t = epochs_rank_stability(_budget_frame())
    assert len(t) == 1
    row = t.iloc[0]
    assert (row["short_epochs"], row["long_epochs"], row["n"]) == (1, 10, 4)
    assert row["spearman"] == pytest.approx(0.8)
    assert row["kendall"] == pytest.approx(2 / 3)


def test_epochs_rank_stability_needs_shared_archs(hand_frame):
    assert epochs_rank_stability(hand_frame).empty  # every arch trained at one budget only
