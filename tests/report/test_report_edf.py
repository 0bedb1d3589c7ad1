"""EDFs, complexity normalization, bootstrap bands and KS statistics against hand values."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from resnet_nas import results
from resnet_nas.report import ReportError, add_derived
from resnet_nas.report.edf import (bootstrap_band, complexity_weights, default_group_column,
                                   edf_analysis, kish_n, ks_statistic, weighted_edf,
                                   weighted_median)
from resnet_nas.report.tables import study_summary


def test_plain_edf_at_known_points():
    values = np.array([0.3, 0.1, 0.2, 0.2])
    got = weighted_edf(values, None, [0.05, 0.1, 0.15, 0.2, 0.3, 1.0])
    np.testing.assert_allclose(got, [0, 0.25, 0.25, 0.75, 1.0, 1.0])


def test_ks_statistic_of_two_tiny_groups_by_hand():
    a, b = [1.0, 2.0, 3.0], [2.5, 4.0]
    # F_a: 1/3 at 1, 2/3 at 2, 1 at 3; F_b: .5 at 2.5, 1 at 4. Max gap: at x=2 (2/3 - 0).
    assert ks_statistic(a, b) == pytest.approx(2 / 3)
    assert stats.ks_2samp(a, b).statistic == pytest.approx(2 / 3)


def test_complexity_weights_uniform_over_shared_bins():
    groups = np.array(["A"] * 4 + ["B"] * 3)
    # log10: A: 1, 1, 1, 3; B: 1, 3, 3. Two bins over [1, 3]: [1, 2) and [2, 3].
    cplx = np.array([10, 10, 10, 1000, 10, 1000, 1000])
    w, idx = complexity_weights(groups, cplx, bins=2)
    assert idx.tolist() == [0, 0, 0, 1, 0, 1, 1]
    np.testing.assert_allclose(w, [1 / 6, 1 / 6, 1 / 6, 1 / 2, 1 / 2, 1 / 4, 1 / 4])


def test_complexity_weights_drop_bins_not_shared():
    groups = np.array(["A", "A", "B", "B"])
    cplx = np.array([10, 1000, 10, 10])  # only bin 0 is populated in both groups
    w, _ = complexity_weights(groups, cplx, bins=2)
    np.testing.assert_allclose(w, [1.0, 0.0, 0.5, 0.5])


def test_complexity_weights_errors():
    with pytest.raises(ReportError, match="share no complexity bin"):
        complexity_weights(np.array(["A", "B"]), np.array([10, 1000]), bins=2)
    with pytest.raises(ReportError, match="positive"):
        complexity_weights(np.array(["A", "B"]), np.array([10, 0]), bins=2)


def test_weighted_edf_and_weighted_ks_by_hand():
    ea, wa = np.array([.1, .2, .3, .4]), np.array([1 / 6, 1 / 6, 1 / 6, 1 / 2])
    eb, wb = np.array([.25, .05, .35]), np.array([1 / 2, 1 / 4, 1 / 4])
    np.testing.assert_allclose(weighted_edf(ea, wa, [.2, .3, .4]), [1 / 3, 1 / 2, 1])
    np.testing.assert_allclose(weighted_edf(eb, wb, [.05, .25, .35]), [1 / 4, 3 / 4, 1])
    # Gaps at .05 .1 .2 .25 .3 .35 .4: 1/4, 1/12, 1/12, 5/12, 1/4, 1/2, 0.
    assert ks_statistic(ea, eb, wa, wb) == pytest.approx(0.5)
    assert kish_n(wa) == pytest.approx(1 / (3 / 36 + 1 / 4))
    assert kish_n(np.full(5, 0.2)) == pytest.approx(5)


def test_bootstrap_band_matches_binomial_spread():
    values = np.arange(400) / 400.0
    x = values[199]  # F(x) = 0.5; bootstrap F*(x) ~ Binomial(400, .5) / 400, sd 0.025
    lo, hi = bootstrap_band(values, [-1.0, x, 2.0], n_boot=2000,
                            rng=np.random.default_rng(1))
    assert lo[1] == pytest.approx(0.5 - 1.96 * 0.025, abs=0.012)
    assert hi[1] == pytest.approx(0.5 + 1.96 * 0.025, abs=0.012)
    assert (lo[0], hi[0], lo[2], hi[2]) == (0.0, 0.0, 1.0, 1.0)


def test_normalized_bootstrap_with_one_bin_equals_plain():
    values = np.random.default_rng(0).uniform(size=30)
    grid = np.linspace(0, 1, 11)
    plain = bootstrap_band(values, grid, None, 200, rng=np.random.default_rng(5))
    binned = bootstrap_band(values, grid, np.zeros(30, int), 200, rng=np.random.default_rng(5))
    np.testing.assert_allclose(plain, binned)


def test_edf_analysis_on_hand_runs(hand_frame):
    assert default_group_column(hand_frame) == "space"  # spaces A and B
    res = edf_analysis(hand_frame, n_boot=200)
    assert res.by == "space"
    c = res.curves.set_index(["group", res.curves["error"].round(6)])["edf"]
    # A errors: .2, .1 (complete only); B errors: .15, .3.
    assert [c[("A", e)] for e in (.1, .15, .2, .3)] == [0.5, 0.5, 1.0, 1.0]
    assert [c[("B", e)] for e in (.1, .15, .2, .3)] == [0.0, 0.5, 0.5, 1.0]
    band = res.curves
    assert ((band["edf_lo"] <= band["edf"] + 1e-12) & (band["edf"] <= band["edf_hi"] + 1e-12)).all()
    ks = res.ks.iloc[0]
    assert (ks["group_a"], ks["group_b"], ks["n_a"], ks["n_b"]) == ("A", "B", 2, 2)
    assert ks["ks_statistic"] == pytest.approx(0.5)
    assert ks["p_value"] == pytest.approx(stats.ks_2samp([.2, .1], [.15, .3]).pvalue)
    s = res.summary.set_index("group")
    assert s.loc["A", "best_error"] == pytest.approx(0.1)
    # B errors .15 and .3: the median is their mean, not the lower one.
    assert s.loc["B", "median_error"] == pytest.approx(0.225)


def test_edf_analysis_by_sampler_and_bad_options(hand_frame):
    assert sorted(edf_analysis(hand_frame, by="sampler", n_boot=0).summary["group"]) \
        == ["random", "tpe"]
    with pytest.raises(ReportError, match="--normalize"):
        edf_analysis(hand_frame, normalize="macs")
    with pytest.raises(ReportError, match="group by"):
        edf_analysis(hand_frame, by="nope")


def test_normalized_edf_analysis_uses_weights(hand_frame):
    # params: A = 100, 300; B = 350, 50. With one bin, weights are plain 1/n.
    res = edf_analysis(hand_frame, normalize="params", bins=1, n_boot=0)
    assert res.ks["ks_statistic"].iloc[0] == pytest.approx(0.5)
    assert res.ks["method"].iloc[0].startswith("weighted")
    assert res.summary["n_eff"].tolist() == pytest.approx([2.0, 2.0])


def test_weighted_median_takes_the_midpoint_where_the_edf_is_one_half():
    assert weighted_median([0.4, 0.1, 0.3, 0.2]) == pytest.approx(0.25)  # not the lower 0.2
    assert weighted_median([0.3, 0.1, 0.2]) == pytest.approx(0.2)
    # Weights 1, 1, 2 are the sample 1, 2, 3, 3, whose median is 2.5.
    assert weighted_median([1.0, 2.0, 3.0], [0.25, 0.25, 0.5]) == pytest.approx(2.5)
    assert weighted_median([1.0, 2.0, 3.0], [0.2, 0.2, 0.6]) == pytest.approx(3.0)


def test_edf_median_agrees_with_the_study_summary():
    # Study s: 4 complete trials (even), plus a pruned trial with a high accuracy, a failed one
    # and a duplicate: only the complete trials count in both tables. Study t shares s's
    # sampler, so the default EDF (by sampler) pools the two; by study it must not.
    rows = [("s", "complete", .2), ("s", "complete", .6), ("s", "complete", .3),
            ("s", "complete", .5), ("s", "pruned", .9), ("s", "failed", None),
            ("s", "duplicate", .6), ("t", "complete", .8), ("t", "complete", .7)]
    frame = results.to_frame([{"study": st, "trial": i, "state": state, "sampler": "tpe",
                               "best_val_accuracy": acc}
                              for i, (st, state, acc) in enumerate(rows)])
    frame["run_dir"] = "r"
    frame = add_derived(frame)
    summary = study_summary(frame).set_index("study_label")
    edf = edf_analysis(frame, by="study_label", n_boot=0).summary.set_index("group")
    for study in ("s", "t"):
        assert edf.loc[study, "models"] == summary.loc[study, "complete"]
        assert edf.loc[study, "median_error"] == pytest.approx(
            1 - summary.loc[study, "median_val_accuracy"])
    assert summary.loc["s", "median_val_accuracy"] == pytest.approx(0.4)
