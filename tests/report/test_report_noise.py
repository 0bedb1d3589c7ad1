"""Accuracies with their uncertainty: the binomial standard error on n validation images in
the leaderboard and on the figures, the leaderboard entries within noise of the best, accuracy
axes no narrower than the noise, and figures whose legends and titles a reader can see."""

from __future__ import annotations

import math

import pytest

from resnet_nas.report import build_report, load_runs
from resnet_nas.report.build import ReportOptions
from resnet_nas.report.formatting import to_text
from resnet_nas.report.tables import accuracy_text
from tests.helpers import write_row

ARCH = '{"num_classes": 10}'


def _noisy_run(root, n=222):
    """Four complete trials on n validation images: 0.21, 0.19, 0.17 within noise of each
    other, 0.05 not."""
    for t, acc in enumerate([0.21, 0.19, 0.17, 0.05]):
        write_row(root, study="s", trial=t, state="complete", best_val_accuracy=acc,
                  val_images=n, params=100 * (t + 1), flops=1000 * (t + 1),
                  val_accuracy_curve=(acc / 2, acc), epochs_planned=2, epochs_run=2,
                  arch=ARCH, dataset="cifar10", data_fingerprint="f" * 16,
                  started_at="2025-01-01T08:00:00+00:00",
                  finished_at=f"2025-01-01T0{8 + t}:30:00+00:00", train_seconds=60.0)
    return root


def test_the_leaderboard_gives_the_standard_error_and_what_is_within_noise(tmp_path):
    frame = load_runs([_noisy_run(tmp_path / "r")])
    report = build_report(frame, ReportOptions(n_boot=0))
    board = report.section("leaderboard").table
    se = [math.sqrt(p * (1 - p) / 222) for p in (0.21, 0.19, 0.17, 0.05)]
    assert board["val_accuracy_se"].tolist() == pytest.approx(se)
    assert board["val_images"].tolist() == [222] * 4
    # 0.21 - 0.17 = 0.04 < 1.96 * sqrt(se0^2 + se2^2) = 0.074; 0.21 - 0.05 = 0.16 is not
    assert board["within_noise"].tolist() == [True, True, True, False]
    shown = to_text(report.section("leaderboard").shown())
    assert "0.210 ± 0.027" in shown and "within noise of #1" in shown
    assert accuracy_text(0.979, float("nan")) == "0.979"


def test_figures_show_intervals_on_axes_no_narrower_than_the_noise(tmp_path, monkeypatch):
    from resnet_nas.report import plots

    drawn = []
    real = plots._png
    monkeypatch.setattr(plots, "_png", lambda fig: drawn.append(fig) or real(fig))
    frame = load_runs([_noisy_run(tmp_path / "r")])
    report = build_report(frame, ReportOptions(n_boot=20))
    figures = plots.report_figures(report)
    assert {f.key for f in figures} >= {"pareto_params", "anytime", "edf"}
    pareto = drawn[0]
    ax = pareto.axes[0]
    low, high = ax.get_ylim()
    assert high - low >= plots.MIN_AXIS_SE * math.sqrt(0.19 * 0.81 / 222)
    assert "n = 222 validation images" in ax.get_title().replace("\n", " ")
    for fig in drawn:
        assert plots.layout_problems(fig) == []


def test_the_hand_made_report_has_no_hidden_legend_or_cut_title(hand_frame, monkeypatch):
    from resnet_nas.report import plots

    drawn = []
    real = plots._png
    monkeypatch.setattr(plots, "_png", lambda fig: drawn.append(fig) or real(fig))
    plots.report_figures(build_report(hand_frame, ReportOptions(n_boot=20)))
    assert len(drawn) >= 4
    for fig in drawn:
        assert plots.layout_problems(fig) == []
