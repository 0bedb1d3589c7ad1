"""Report figures, rendered off-screen with Matplotlib's Agg canvas (no display needed).

Figures are built on `matplotlib.figure.Figure` with an explicit `FigureCanvasAgg`, never via
pyplot, so the report neither needs nor changes the process-wide Matplotlib backend.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from resnet_nas.report.build import Report
from resnet_nas.report.edf import group_labels
from resnet_nas.report.frame import complete


@dataclass
class Figure:
    """One rendered figure: `key` names its file, `png` is the image."""

    key: str
    title: str
    png: bytes


def _new_figure(ncols: int = 1):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(6.4 * ncols, 4.6), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    return fig, axes


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _colors(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def pareto_figure(report: Report) -> Figure | None:
    """Accuracy vs params and vs FLOPs, one colour per EDF group, fronts as step lines."""
    rows = complete(report.frame)
    rows = rows[rows["best_val_accuracy"].notna()]
    if rows.empty:
        return None
    by = report.edf.by
    labels = group_labels(rows, by)
    groups = sorted(labels.unique())
    fig, axes = _new_figure(2)
    for ax, cost, name in zip(axes, ("params", "flops"), ("params", "FLOPs (multiply-adds)")):
        have = rows[cost].notna() & (rows[cost].astype("float64") > 0)
        for g, color in zip(groups, _colors(len(groups))):
            sel = have & (labels == g)
            ax.scatter(rows.loc[sel, cost].astype(float), rows.loc[sel, "best_val_accuracy"],
                       s=18, alpha=0.75, color=color, label=f"{by}={g}")
        front = report.section(f"pareto_{cost}").table
        front = front[front[cost].astype("float64") > 0]
        if len(front):
            ax.step(front[cost].astype(float), front["best_val_accuracy"], where="post",
                    color="black", lw=1.2, label="Pareto front")
        if have.any():
            ax.set_xscale("log")
        ax.set_xlabel(name)
        ax.set_ylabel("best val accuracy")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_title(f"accuracy vs {name}")
    return Figure("pareto", "Accuracy vs complexity", _png(fig))


def edf_figure(report: Report) -> Figure | None:
    """Error EDF per group with its bootstrap band."""
    curves = report.edf.curves
    if curves.empty:
        return None
    fig, (ax,) = _new_figure(1)
    groups = sorted(curves["group"].unique())
    summary = report.edf.summary.set_index("group")
    for g, color in zip(groups, _colors(len(groups))):
        c = curves[curves["group"] == g]
        x = np.r_[c["error"].iloc[0], c["error"].to_numpy()]
        ax.step(x, np.r_[0.0, c["edf"].to_numpy()], where="post", color=color,
                label=f"{g} (n={summary.loc[g, 'models']})")
        if c["edf_lo"].notna().any():
            ax.fill_between(c["error"], c["edf_lo"], c["edf_hi"], step="post", color=color,
                            alpha=0.2, lw=0)
    norm = "" if report.edf.normalize == "none" else f", normalized for {report.edf.normalize}"
    ax.set_title(f"error EDF by {report.edf.by}{norm}")
    ax.set_xlabel("error = 1 - best val accuracy")
    ax.set_ylabel("cumulative prob.")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return Figure("edf", "Error EDF", _png(fig))


def anytime_figure(report: Report) -> Figure | None:
    """Best-so-far accuracy vs trial number and vs cumulative training hours, per study."""
    by_trial = report.section("anytime_trials").table
    by_time = report.section("anytime_time").table
    if by_trial["best_so_far"].notna().sum() == 0:
        return None
    fig, axes = _new_figure(2)
    studies = sorted(by_trial["study_label"].unique())
    for s, color in zip(studies, _colors(len(studies))):
        a = by_trial[by_trial["study_label"] == s]
        t = by_time[by_time["study_label"] == s]
        label = f"{s} ({a['engine'].iloc[0]}/{a['sampler'].iloc[0]})"
        axes[0].step(a["n_trials"], a["best_so_far"], where="post", color=color, label=label)
        axes[1].step(t["cum_train_hours"], t["best_so_far"], where="post", color=color,
                     label=label)
    axes[0].set_xlabel("trials")
    axes[1].set_xlabel("cumulative training hours (in order of finish)")
    for ax in axes:
        ax.set_ylabel("best val accuracy so far")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_title("anytime performance by trial")
    axes[1].set_title("anytime performance by compute")
    return Figure("anytime", "Anytime performance", _png(fig))


def rank_figure(report: Report) -> Figure | None:
    """Short- vs long-fidelity accuracy: within trials per study, and across epoch budgets."""
    pairs = report.section("rank_stability_pairs").table
    budgets = report.section("rank_stability_budget_pairs").table
    if pairs.empty and budgets.empty:
        return None
    fig, axes = _new_figure(int(not pairs.empty) + int(not budgets.empty))
    panels = iter(axes)
    if not pairs.empty:
        ax = next(panels)
        corr = report.section("rank_stability_epochs").table.set_index("study_label")
        studies = sorted(pairs["study_label"].unique())
        for s, color in zip(studies, _colors(len(studies))):
            p = pairs[pairs["study_label"] == s]
            rho, tau = (corr.loc[s, "spearman"], corr.loc[s, "kendall"]) if s in corr.index \
                else (np.nan, np.nan)
            ax.scatter(p["short_accuracy"], p["long_accuracy"], s=18, color=color, alpha=0.75,
                       label=f"{s}: epoch {p['short_epoch'].iloc[0]} vs "
                             f"{p['long_epoch'].iloc[0]}, rho={rho:.2f}, tau={tau:.2f}")
        ax.set_xlabel("val accuracy at the short epoch")
        ax.set_ylabel("val accuracy at the long epoch")
        ax.set_title("rank stability within trials")
    if not budgets.empty:
        ax = next(panels)
        corr = report.section("rank_stability_budgets").table.set_index(
            ["short_epochs", "long_epochs"])
        keys = sorted(set(zip(budgets["short_epochs"], budgets["long_epochs"])))
        for (s, l), color in zip(keys, _colors(len(keys))):
            p = budgets[(budgets["short_epochs"] == s) & (budgets["long_epochs"] == l)]
            rho, tau = corr.loc[(s, l), "spearman"], corr.loc[(s, l), "kendall"]
            ax.scatter(p["short_accuracy"], p["long_accuracy"], s=18, color=color, alpha=0.75,
                       label=f"{s} vs {l} epochs (n={len(p)}), rho={rho:.2f}, tau={tau:.2f}")
        ax.set_xlabel("best val accuracy, shorter budget")
        ax.set_ylabel("best val accuracy, longer budget")
        ax.set_title("rank stability across epoch budgets (same arch_key)")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return Figure("rank_stability", "Rank stability", _png(fig))


def report_figures(report: Report) -> list[Figure]:
    """Every figure that has data to show, in report order."""
    makers = (pareto_figure, edf_figure, anytime_figure, rank_figure)
    return [f for f in (m(report) for m in makers) if f is not None]
