"""Report figures, rendered off-screen with Matplotlib's Agg canvas (no display needed).

Figures are built on `matplotlib.figure.Figure` with an explicit `FigureCanvasAgg`, never via
pyplot, so the report neither needs nor changes the process-wide Matplotlib backend.

Every figure draws one panel per data set (`frame.COMPARE_BY`), titled with it: accuracies on
different data are never put on one axis. Each figure names the section it belongs under, so
the HTML shows it below that section's heading and nowhere else.

Accuracies are shown as what they are, measurements on a finite validation split: points
carry their 95% interval (1.96 binomial standard errors) where the row records its
`val_images`, titles say n, and an accuracy axis is at least ten standard errors tall (from
the chance level to 1 where the standard error is unknown), so that a spread within noise does
not fill the panel as if it were a step. Legends stand under the panels, never over a point, and titles wrap to their panel's
width (`layout_problems` checks both on every figure rendered).
"""

from __future__ import annotations

import io
import math
import textwrap
from dataclasses import dataclass

import numpy as np
import pandas as pd

from resnet_nas.report.build import Report
from resnet_nas.report.edf import group_labels
from resnet_nas.report.fidelity import correlation_text
from resnet_nas.report.frame import COMPARE_BY, complete
from resnet_nas.report.replays import regret_png

#: Panels per row of a figure with one panel per data set.
MAX_COLUMNS = 2


@dataclass
class Figure:
    """One rendered figure.

    Attributes:
      key: names its file.
      title: its alt text.
      png: the image.
      section: key of the report section it is shown under ('' for the end of the report).
    """

    key: str
    title: str
    png: bytes
    section: str = ""


def _new_figure(ncols: int = 1, nrows: int = 1):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(6.4 * ncols, 5.4 * nrows), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(nrows, ncols, i + 1) for i in range(nrows * ncols)]
    return fig, axes


def _panels(n: int):
    """A figure with `n` panels, `MAX_COLUMNS` a row; returns (figure, the n axes)."""
    ncols = min(n, MAX_COLUMNS)
    fig, axes = _new_figure(ncols, math.ceil(n / ncols))
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


#: Characters of a panel title's line (6.4 inches at 10 pt).
TITLE_CHARS = 52
#: Standard errors of a point's interval.
INTERVAL_Z = 1.96


def _title(ax, text: str) -> None:
    ax.set_title(textwrap.fill(text, TITLE_CHARS), fontsize=10)


def _legend(ax) -> None:
    """The panel's legend under it (below the axis label), where it covers no point and
    leaves the panel its width."""
    handles, _ = ax.get_legend_handles_labels()
    if handles:
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14),
                  borderaxespad=0.0, frameon=False)


def layout_problems(fig) -> list[str]:
    """What a reader could not see in a drawn figure: a legend over the data area of its
    axes, or a title or axis label outside the figure."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    canvas = fig.bbox
    problems = []
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        legend = ax.get_legend()
        if legend is not None and legend.get_window_extent(renderer).overlaps(
                ax.get_window_extent(renderer)):
            problems.append(f"legend over the axes of {ax.get_title()!r}")
        for text in (ax.title, ax.xaxis.label, ax.yaxis.label):
            if not text.get_text():
                continue
            box = text.get_window_extent(renderer)
            if (box.x0 < canvas.x0 - 1 or box.x1 > canvas.x1 + 1 or box.y0 < canvas.y0 - 1
                    or box.y1 > canvas.y1 + 1):
                problems.append(f"{text.get_text()!r} cut at the figure's edge")
    return problems


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


#: An accuracy axis is at least this many standard errors tall: a spread within noise then
#: fills a tenth of it, not the whole panel.
MIN_AXIS_SE = 10


def _accuracy_limits(ax, values, chance: float, axis: str = "y",
                     se: float = float("nan")) -> None:
    """An accuracy axis that does not make noise look like steps: at least MIN_AXIS_SE
    standard errors (`se`, typical of the points) tall around the values; where the standard
    error is unknown, from the chance level (or lower, when a value is below it) to 1."""
    finite = [float(v) for v in values if v == v]
    setter = ax.set_ylim if axis == "y" else ax.set_xlim
    if finite and se == se and se > 0:
        lo, hi = min(finite), max(finite)
        span = max(hi - lo, MIN_AXIS_SE * se) * 1.1
        center = (lo + hi) / 2
        low, high = center - span / 2, center + span / 2
        if high > 1.005:
            low, high = low - (high - 1.005), 1.005
        if low < 0.0:
            low, high = 0.0, min(1.005, high - low)
        setter(low, high)
        return
    low = chance if chance == chance else 0.0
    if finite:
        low = min(low, min(finite))
    setter(max(0.0, low - 0.02), 1.005)


def _typical_se(rows: pd.DataFrame) -> float:
    se = rows["val_accuracy_se"].dropna() if "val_accuracy_se" in rows else pd.Series([])
    return float(se.median()) if len(se) else float("nan")


def _chance(rows: pd.DataFrame) -> float:
    values = rows["chance"].dropna() if "chance" in rows else pd.Series(dtype=float)
    return float(values.max()) if len(values) else float("nan")


def _n_text(rows: pd.DataFrame) -> str:
    """', n = 222 validation images' (the range where trials differ), or ''."""
    n = rows["val_images"].dropna().astype(int) if "val_images" in rows else pd.Series([])
    if not len(n):
        return ""
    lo, hi = int(n.min()), int(n.max())
    return f", n = {lo:,} validation images" if lo == hi else \
        f", n = {lo:,}-{hi:,} validation images"


def _colors(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def _data_sets(table: pd.DataFrame) -> list[str]:
    return sorted(table[COMPARE_BY].astype(str).unique())


def rank_legend(name: str, n: int, rho: float, tau: float) -> str:
    """A rank-stability legend entry that never shows NaN.

    Args:
      name: what the points are (study, or pair of budgets).
      n: pairs.
      rho, tau: Spearman and Kendall correlation (NaN when undefined).

    Returns:
      E.g. 'tpe (n=4): rho=0.80, tau=0.67', or 'tpe (n=2): rho, tau: not enough data'.
    """
    if np.isfinite(rho) and np.isfinite(tau):
        return f"{name} (n={n}): rho={rho:.2f}, tau={tau:.2f}"
    if np.isfinite(rho) or np.isfinite(tau):
        return f"{name} (n={n}): rho={correlation_text(rho, n)}, tau={correlation_text(tau, n)}"
    return f"{name} (n={n}): rho, tau: {correlation_text(np.nan, n)}"


def pareto_figure(report: Report, cost: str = "params") -> Figure | None:
    """Accuracy vs `cost` ('params' or 'flops'), one panel per data set, one colour per EDF
    group, each data set's front as a step line."""
    rows = complete(report.frame)
    rows = rows[rows["best_val_accuracy"].notna()]
    if rows.empty:
        return None
    name = {"params": "params", "flops": "FLOPs (multiply-adds)"}[cost]
    by = report.edf.by
    labels = group_labels(rows, by)
    groups = sorted(labels.unique())
    colors = dict(zip(groups, _colors(len(groups))))
    fronts = report.section(f"pareto_{cost}").table
    data_sets = _data_sets(rows)
    fig, axes = _panels(len(data_sets))
    for ax, d in zip(axes, data_sets):
        here = rows[COMPARE_BY].astype(str) == d
        have = here & rows[cost].notna() & (rows[cost].astype("float64") > 0)
        for g in groups:
            sel = have & (labels == g)
            if sel.any():
                se = rows.loc[sel, "val_accuracy_se"].astype(float)
                ax.errorbar(rows.loc[sel, cost].astype(float),
                            rows.loc[sel, "best_val_accuracy"],
                            yerr=None if se.isna().all() else INTERVAL_Z * se.fillna(0.0),
                            fmt="o", markersize=4, alpha=0.75, elinewidth=0.8,
                            color=colors[g], label=f"{by}={g}")
        front = fronts[(fronts[COMPARE_BY].astype(str) == d)
                       & (fronts[cost].astype("float64") > 0)]
        if len(front):
            # Markers too: a front of one model is a point, which a step line cannot show.
            ax.step(front[cost].astype(float), front["best_val_accuracy"], where="post",
                    color="black", lw=1.2, marker="o", markersize=7, markerfacecolor="none",
                    label="Pareto front")
        if have.any():
            ax.set_xscale("log")
            _legend(ax)
        else:
            ax.text(0.5, 0.5, f"no {name} recorded", ha="center", transform=ax.transAxes)
        ax.set_xlabel(name)
        ax.set_ylabel("best val accuracy (95% interval)")
        in_set = rows[here]
        interval = INTERVAL_Z * in_set["val_accuracy_se"].fillna(0.0)
        _accuracy_limits(ax, pd.concat([in_set["best_val_accuracy"] - interval,
                                        in_set["best_val_accuracy"] + interval]),
                         _chance(in_set), se=_typical_se(in_set))
        ax.grid(alpha=0.3)
        _title(ax, f"{d}: accuracy vs {name}{_n_text(in_set)}")
    return Figure(f"pareto_{cost}", f"Accuracy vs {name} per data set", _png(fig),
                  section=f"pareto_{cost}")


def edf_figure(report: Report) -> Figure | None:
    """Error EDF per group with its bootstrap band, one panel per data set."""
    curves = report.edf.curves
    if curves.empty:
        return None
    groups = sorted(curves["group"].unique())
    colors = dict(zip(groups, _colors(len(groups))))
    summary = report.edf.summary
    data_sets = _data_sets(curves)
    fig, axes = _panels(len(data_sets))
    norm = "" if report.edf.normalize == "none" else f", normalized for {report.edf.normalize}"
    for ax, d in zip(axes, data_sets):
        here = curves[curves[COMPARE_BY].astype(str) == d]
        models = summary[summary[COMPARE_BY].astype(str) == d].set_index("group")["models"]
        for g in sorted(here["group"].unique()):
            c = here[here["group"] == g]
            x = np.r_[c["error"].iloc[0], c["error"].to_numpy()]
            ax.step(x, np.r_[0.0, c["edf"].to_numpy()], where="post", color=colors[g],
                    label=f"{g} (n={models.get(g, 0)})")
            if c["edf_lo"].notna().any():
                ax.fill_between(c["error"], c["edf_lo"], c["edf_hi"], step="post",
                                color=colors[g], alpha=0.2, lw=0)
        _title(ax, f"{d}: error EDF by {report.edf.by}{norm}")
        ax.set_xlabel("error = 1 - best val accuracy")
        ax.set_ylabel("cumulative prob.")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        _legend(ax)
    return Figure("edf", "Error EDF per data set", _png(fig), section="edf_summary")


def anytime_figure(report: Report) -> Figure | None:
    """Best-so-far accuracy vs trial number and vs cumulative training hours, per study; one
    row of two panels per data set."""
    by_trial = report.section("anytime_trials").table
    by_time = report.section("anytime_time").table
    if by_trial["best_so_far"].notna().sum() == 0:
        return None
    data_sets = _data_sets(by_trial)
    fig, axes = _new_figure(2, len(data_sets))
    studies = sorted(by_trial["study_label"].unique())
    colors = dict(zip(studies, _colors(len(studies))))
    from matplotlib.ticker import MaxNLocator

    # a short search's compute reads in minutes (hours would be 0.0005, 0.0010, ...)
    minutes = by_time["cum_train_hours"].max() < 1.0
    unit, scale = ("minutes", 60.0) if minutes else ("hours", 1.0)
    for row, d in enumerate(data_sets):
        ax_trial, ax_time = axes[2 * row], axes[2 * row + 1]
        here = by_trial[by_trial[COMPARE_BY].astype(str) == d]
        for s in sorted(here["study_label"].unique()):
            a = here[here["study_label"] == s]
            t = by_time[by_time["study_label"] == s]
            label = f"{s} ({a['engine'].iloc[0]}/{a['sampler'].iloc[0]})"
            # a marker per point: a study of one trial draws no line at all
            marker = "o" if len(a) < 2 else None
            ax_trial.step(a["n_trials"], a["best_so_far"], where="post", color=colors[s],
                          label=label, marker=marker)
            ax_time.step(t["cum_train_hours"] * scale, t["best_so_far"], where="post",
                         color=colors[s], label=label, marker=marker)
        ax_trial.set_xlabel("trials")
        ax_time.set_xlabel(f"cumulative training {unit} (in order of finish)")
        ax_time.xaxis.set_major_locator(MaxNLocator(nbins=5))
        rows = report.frame[report.frame[COMPARE_BY].astype(str) == d]
        n = _n_text(rows)
        _title(ax_trial, f"{d}: anytime performance by trial{n}")
        _title(ax_time, f"{d}: anytime performance by compute{n}")
        for ax in (ax_trial, ax_time):
            _accuracy_limits(ax, here["best_so_far"], _chance(rows), se=_typical_se(rows))
    for ax in axes:
        ax.set_ylabel("best val accuracy so far")
        ax.grid(alpha=0.3)
        _legend(ax)
    return Figure("anytime", "Anytime performance per data set", _png(fig),
                  section="anytime_summary")


def _finish_rank_axes(ax, xlabel: str, ylabel: str, title: str, xs, ys,
                      rows: pd.DataFrame) -> None:
    """Labels, accuracy limits on both axes, grid and legend of a rank-stability panel."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    _title(ax, title)
    _accuracy_limits(ax, xs, _chance(rows), "x", _typical_se(rows))
    _accuracy_limits(ax, ys, _chance(rows), "y", _typical_se(rows))
    ax.grid(alpha=0.3)
    _legend(ax)


def rank_epochs_figure(report: Report) -> Figure | None:
    """Short- vs long-epoch accuracy of the same trials, per study, one panel per data set."""
    pairs = report.section("rank_stability_pairs").table
    if pairs.empty:
        return None
    corr = report.section("rank_stability_epochs").table
    studies = sorted(pairs["study_label"].unique())
    colors = dict(zip(studies, _colors(len(studies))))
    data_sets = _data_sets(pairs)
    fig, axes = _panels(len(data_sets))
    for ax, d in zip(axes, data_sets):
        here = pairs[pairs[COMPARE_BY].astype(str) == d]
        c = corr[corr[COMPARE_BY].astype(str) == d].set_index("study_label")
        for s in sorted(here["study_label"].unique()):
            p = here[here["study_label"] == s]
            rho, tau = (c.loc[s, "spearman"], c.loc[s, "kendall"]) if s in c.index \
                else (np.nan, np.nan)
            name = f"{s}: epoch {p['short_epoch'].iloc[0]} vs {p['long_epoch'].iloc[0]}"
            ax.scatter(p["short_accuracy"], p["long_accuracy"], s=18, color=colors[s],
                       alpha=0.75, label=rank_legend(name, len(p), rho, tau))
        rows = report.frame[report.frame[COMPARE_BY].astype(str) == d]
        _finish_rank_axes(ax, "val accuracy at the short epoch",
                          "val accuracy at the long epoch",
                          f"{d}: rank stability within trials{_n_text(rows)}",
                          here["short_accuracy"], here["long_accuracy"], rows)
    return Figure("rank_stability_epochs", "Rank stability within trials", _png(fig),
                  section="rank_stability_epochs")


def rank_budgets_figure(report: Report) -> Figure | None:
    """Accuracy of the same architectures at two epoch budgets, one panel per data set."""
    budgets = report.section("rank_stability_budget_pairs").table
    if budgets.empty:
        return None
    corr = report.section("rank_stability_budgets").table.set_index(
        [COMPARE_BY, "short_epochs", "long_epochs"])
    data_sets = _data_sets(budgets)
    fig, axes = _panels(len(data_sets))
    for ax, d in zip(axes, data_sets):
        here = budgets[budgets[COMPARE_BY].astype(str) == d]
        keys = sorted(set(zip(here["short_epochs"], here["long_epochs"])))
        for (s, l), color in zip(keys, _colors(len(keys))):
            p = here[(here["short_epochs"] == s) & (here["long_epochs"] == l)]
            rho, tau = corr.loc[(d, s, l), "spearman"], corr.loc[(d, s, l), "kendall"]
            ax.scatter(p["short_accuracy"], p["long_accuracy"], s=18, color=color, alpha=0.75,
                       label=rank_legend(f"{s} vs {l} epochs", len(p), rho, tau))
        rows = report.frame[report.frame[COMPARE_BY].astype(str) == d]
        _finish_rank_axes(ax, "best val accuracy, shorter budget",
                          "best val accuracy, longer budget",
                          f"{d}: rank stability across epoch budgets (same arch_key)"
                          f"{_n_text(rows)}", here["short_accuracy"], here["long_accuracy"],
                          rows)
    return Figure("rank_stability_budgets", "Rank stability across epoch budgets", _png(fig),
                  section="rank_stability_budgets")


def replay_figures(report: Report) -> list[Figure]:
    """The anytime-regret figure of each benchmark replay, under its section."""
    return [Figure(f"replay_{i}", f"anytime regret of the replay in {r.label}",
                   regret_png(r.curves, r.summary), section=f"replay_{i}")
            for i, r in enumerate(report.replays, start=1)]


def report_figures(report: Report) -> list[Figure]:
    """Every figure that has data to show, in report order."""
    makers = (lambda r: pareto_figure(r, "params"), lambda r: pareto_figure(r, "flops"),
              edf_figure, anytime_figure, rank_epochs_figure, rank_budgets_figure)
    return [f for f in (m(report) for m in makers) if f is not None] + replay_figures(report)
