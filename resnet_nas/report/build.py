"""Assembling every report table from the report frame."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from resnet_nas.report import anytime, baselines, edf, fidelity, replays, tables
from resnet_nas.report.frame import COMPARE_BY, UNKNOWN_DATA, ReportError

#: Trial counts at which the anytime summary reports the best-so-far accuracy.
ANYTIME_CHECKPOINTS = (5, 10, 20, 50, 100, 200, 500, 1000)


@dataclass
class ReportOptions:
    """What to compute.

    Attributes:
      top: leaderboard rows.
      by: EDF grouping column (None: 'space' when several spaces, else 'sampler').
      normalize: 'none' | 'params' | 'flops' (complexity-normalized EDF).
      n_boot: bootstrap resamples for EDF bands (0: none).
      level: band confidence level.
      bins: log-complexity bins for normalization.
      short_epoch: 1-based epoch of the short fidelity.
      long_epoch: 1-based epoch of the long fidelity (None: the longest curve).
      seed: bootstrap seed.
    """

    top: int = 10
    by: str | None = None
    normalize: str = "none"
    n_boot: int = 1000
    level: float = 0.95
    bins: int = 10
    short_epoch: int = 1
    long_epoch: int | None = None
    seed: int = 0

    def validate(self) -> None:
        """Raises ReportError naming the option when a value is out of range."""
        checks = [("--top", self.top, self.top >= 1, "an integer >= 1"),
                  ("--bootstrap", self.n_boot, self.n_boot >= 0, "an integer >= 0"),
                  ("--level", self.level, 0 < self.level < 1, "a number in (0, 1)"),
                  ("--bins", self.bins, self.bins >= 1, "an integer >= 1"),
                  ("--short-epoch", self.short_epoch, self.short_epoch >= 1,
                   "an integer >= 1 (epochs count from 1)")]
        for flag, value, ok, expected in checks:
            if not ok:
                raise ReportError(f"{flag} expects {expected}, found {value!r}")


@dataclass
class Section:
    """One titled table.

    Attributes:
      key: names its export files (and the figures shown under it).
      title: its heading.
      table: the full table, as exported to CSV/Parquet.
      description: a line under the heading.
      terminal: whether it is printed (and shown in HTML).
      display: what a person reads instead of `table` (fewer columns, NaN explained), or None
        to show `table` itself.
    """

    key: str
    title: str
    table: pd.DataFrame
    description: str = ""
    terminal: bool = True
    display: pd.DataFrame | None = None

    def shown(self) -> pd.DataFrame:
        """The table rendered in text, Markdown and HTML."""
        return self.table if self.display is None else self.display


@dataclass
class Report:
    """All tables of a report, ready for text/markdown/HTML rendering and export."""

    frame: pd.DataFrame
    options: ReportOptions
    edf: edf.EDFResult
    sections: list[Section] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: benchmark replays found in the run directories, each with its section `replay_<i>`
    replays: list[replays.FoundReplay] = field(default_factory=list)

    def section(self, key: str) -> Section:
        """The section whose export key is `key`."""
        for s in self.sections:
            if s.key == key:
                return s
        raise KeyError(f"no report section {key!r}; have {[s.key for s in self.sections]}")


def anytime_summary(by_trial: pd.DataFrame, by_time: pd.DataFrame) -> pd.DataFrame:
    """Per study: best-so-far after n trials (n in ANYTIME_CHECKPOINTS up to the largest
    study), the final best, and the cumulative training hours at which it was first reached."""
    if by_trial.empty:
        return pd.DataFrame(columns=["study_label", COMPARE_BY, "engine", "sampler", "trials",
                                     "best", "hours_to_best"])
    most = int(by_trial.groupby("study_label")["n_trials"].max().max())
    checkpoints = [n for n in ANYTIME_CHECKPOINTS if n < most]
    rows = []
    for label, g in by_trial.groupby("study_label", sort=True):
        best = g["best_so_far"].to_numpy(dtype=float)
        row = {"study_label": label, COMPARE_BY: g[COMPARE_BY].iloc[0],
               "engine": g["engine"].iloc[0],
               "sampler": g["sampler"].iloc[0], "trials": len(g)}
        for n in checkpoints:
            row[f"best@{n}"] = best[n - 1] if n <= len(g) else np.nan
        row["best"] = best[-1]
        t = by_time[by_time["study_label"] == label]
        reached = t[t["best_so_far"] >= best[-1]] if np.isfinite(best[-1]) else t.iloc[0:0]
        row["hours_to_best"] = float(reached["cum_train_hours"].iloc[0]) if len(reached) \
            else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def build_report(frame: pd.DataFrame, options: ReportOptions | None = None) -> Report:
    """Computes every report table.

    Args:
      frame: the report frame (`load_runs`).
      options: what to compute.

    Returns:
      A `Report`.

    Raises:
      ReportError: a bad option (unknown --by column, bad epochs, ...).
    """
    opt = options or ReportOptions()
    opt.validate()
    notes: list[str] = []
    if opt.by is not None and opt.by not in frame:
        from resnet_nas.validation import did_you_mean
        hint = did_you_mean(opt.by, frame.columns) or f"columns: {', '.join(frame.columns)}"
        raise ReportError(f"--by expects a column of the results table, found {opt.by!r} "
                          f"({hint})")
    n_complete = int((frame["state"].fillna("") == "complete").sum())
    if n_complete == 0:
        notes.append("no complete trials yet: leaderboard, Pareto fronts and EDFs are empty")
    unknown = frame[frame[COMPARE_BY] == UNKNOWN_DATA]
    if unknown["run_dir"].nunique() > 1:
        # One run trains on one data set; across runs the report cannot tell.
        notes.append(f"{len(unknown)} trials of {unknown['run_dir'].nunique()} runs record no "
                     "data set (written before the results table recorded one): they are "
                     f"compared with each other as '{UNKNOWN_DATA}', whatever data they were "
                     "trained on")
    try:
        edf_res = edf.edf_analysis(frame, opt.by, opt.normalize, opt.n_boot, opt.level,
                                   opt.bins, opt.seed)
    except ReportError as e:
        if opt.normalize == "none":
            raise
        notes.append(f"normalized EDF unavailable ({e}); showing the plain EDF instead")
        edf_res = edf.edf_analysis(frame, opt.by, "none", opt.n_boot, opt.level, opt.bins,
                                   opt.seed)
    by_trial = anytime.best_so_far(frame, "trial")
    by_time = anytime.best_so_far(frame, "time")
    norm = "" if edf_res.normalize == "none" else f", normalized for {edf_res.normalize}"
    band = (f"{opt.level:.0%} bootstrap band from {opt.n_boot} resamples" if opt.n_boot
            else "no bootstrap band")
    studies = tables.study_summary(frame)
    curve_corr = fidelity.curve_rank_stability(frame, opt.short_epoch, opt.long_epoch)
    budget_corr = fidelity.epochs_rank_stability(frame)
    undefined = (f"'{fidelity.NOT_ENOUGH_DATA}': fewer than {fidelity.MIN_PAIRS} pairs, or "
                 "constant accuracies")
    board = tables.leaderboard(frame, opt.top)
    moved = baselines.baseline_comparison(frame)
    sections = [
        Section("leaderboard", f"Leaderboard (top {opt.top} complete trials per data set by "
                "best val accuracy)", board,
                "ranked within each data set only (rank restarts at 1 for every data set); "
                "val accuracy: best validation accuracy ± its binomial standard error on the n "
                "validation images; within noise of #1: less than 1.96 standard errors of the "
                "difference below rank 1, which the validation split's size alone could give; "
                "architecture: unit, root and its width | per stage: output channels x units "
                "/ stride; --out exports every column",
                display=tables.leaderboard_display(board)),
        *([Section("baselines", "How far the search moved from its baselines", moved,
                   "per study: its best enqueued trial (search --enqueue) against its best "
                   "trial the sampler proposed; gain: the difference in best val accuracy ± "
                   f"its standard error, beyond noise when over {tables.NOISE_Z} of them; "
                   "params x: the found trial's params over the baseline's",
                   display=baselines.baseline_display(moved))] if len(moved) else []),
        Section("studies", "Per-study summary", studies,
                "best/median of best_val_accuracy over complete trials; train_hours exclude "
                "duplicate trials; --out exports every column (engine, GPU-hours, run "
                "directory)", display=tables.study_display(studies)),
        Section("pareto_params", "Pareto front per data set: accuracy vs params",
                tables.pareto_front(frame, "params")),
        Section("pareto_flops", "Pareto front per data set: accuracy vs FLOPs",
                tables.pareto_front(frame, "flops")),
        Section("edf_summary", f"Error EDF by {edf_res.by}{norm}, per data set", edf_res.summary,
                f"complete trials; groups pool every study with that {edf_res.by} on one data "
                f"set; median_error is the usual median (mean of the two middle errors for an "
                f"even count); {band}; n_eff is Kish's effective sample size"),
        Section("edf_ks", f"Two-sample KS statistic between {edf_res.by} groups{norm}, per "
                "data set", edf_res.ks,
                f"one row per pair of {edf_res.by} groups on the same data set; none where a "
                "data set has a single group"),
        Section("edf_curves", "EDF curves", edf_res.curves, terminal=False),
        Section("anytime_summary", "Anytime performance (best-so-far val accuracy)",
                anytime_summary(by_trial, by_time),
                "best@n: best complete trial among the first n trials; hours_to_best: "
                "cumulative training hours (in order of finish) when the final best was found"),
        Section("anytime_trials", "Best-so-far by trial", by_trial, terminal=False),
        Section("anytime_time", "Best-so-far by training time", by_time, terminal=False),
        Section("rank_stability_epochs",
                f"Rank stability within trials: epoch {opt.short_epoch} vs "
                f"{'final epoch' if opt.long_epoch is None else f'epoch {opt.long_epoch}'}",
                curve_corr, "Spearman rho and Kendall tau over each study's trials that reach the "
                f"long epoch; 'all' pools the studies of one data set; {undefined}",
                display=fidelity.correlation_display(curve_corr)),
        Section("rank_stability_pairs", "Short vs long accuracy pairs",
                fidelity.curve_pairs(frame, opt.short_epoch, opt.long_epoch), terminal=False),
        Section("rank_stability_budgets",
                "Rank stability across epoch budgets (same arch_key, different epochs_planned)",
                budget_corr,
                "best_val_accuracy of complete trials, averaged over repeats of one arch at one "
                f"budget; {undefined}", display=fidelity.correlation_display(budget_corr)),
        Section("rank_stability_budget_pairs", "Accuracy pairs across epoch budgets",
                fidelity.budget_pairs(frame), terminal=False),
    ]
    found, replay_notes = replays.find_replays(sorted(frame["run_dir"].dropna().unique()))
    notes += replay_notes
    for i, r in enumerate(found, start=1):
        sections.append(Section(
            f"replay_{i}", f"Replayed search on the benchmark in {r.label}", r.summary,
            "`benchmark replay` on this table: per sampler+pruner, mean over repeats of the "
            "final regret (the table's best score minus the pick's, 95% interval), the share "
            "of repeats whose pick reached the table's top 1% / 5% and the epochs it took, and "
            "the pick's test accuracy", display=replays.replay_display(r.summary)))
    return Report(frame=frame, options=opt, edf=edf_res, sections=sections, notes=notes,
                  replays=found)
