"""Summary tables: leaderboard, per-study summary and Pareto fronts.

Only 'complete' trials are ranked or put on a front: a 'duplicate' row repeats the result of
another trial (ranking it would count one model twice) and pruned/failed trials were not
trained to the end.

Trials are only ranked against trials of the same data set (`COMPARE_BY`): the leaderboard
restarts its rank for every data set, which is its first column and first sort key (one table
a person can scan, where separate tables would repeat every header), and the Pareto fronts are
computed per data set.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from resnet_nas.nets.arch import Architecture
from resnet_nas.report.frame import COMPARE_BY, ReportError, complete
from resnet_nas.results import STATES
from resnet_nas.validation import ConfigError

LEADERBOARD_COLUMNS = [COMPARE_BY, "rank", "study_label", "trial", "space", "sampler",
                       "architecture", "arch_key", "best_val_accuracy", "val_accuracy_se",
                       "val_images", "within_noise", "final_val_accuracy", "test_accuracy",
                       "params", "flops", "epochs_run", "train_seconds", "device"]

#: The leaderboard columns a person reads (the exports keep every column); `test_accuracy` is
#: shown only when some trial has one (final evaluations), since searches leave it empty.
LEADERBOARD_DISPLAY_COLUMNS = [COMPARE_BY, "rank", "study_label", "trial", "space", "sampler",
                               "architecture", "val accuracy", "n", "within noise of #1",
                               "test_accuracy", "params", "flops", "epochs_run",
                               "train_seconds"]
#: Standard errors within which two accuracies are not told apart (about 95%: a difference
#: smaller than 1.96 standard errors of the difference is what the validation split's size
#: alone could give).
NOISE_Z = 1.96

#: Column -> meaning of `study_summary`'s output.
STUDY_SUMMARY_COLUMNS: dict[str, str] = {
    "study_label": "study (see DERIVED_COLUMNS)",
    COMPARE_BY: "data set(s) of the study's rows (see DERIVED_COLUMNS)",
    "engine": "engine(s) of the study's rows",
    "sampler": "sampler(s)",
    "space": "search space(s)",
    "trials": "rows recorded (all states)",
    **{s: f"rows in state {s!r}" for s in STATES},
    "best_val_accuracy": "max best_val_accuracy over complete trials",
    "median_val_accuracy": "median best_val_accuracy over complete trials",
    "train_hours": "sum of train_hours over non-duplicate rows (a duplicate trained nothing)",
    "gpu_hours": "sum of gpu_hours over non-duplicate rows",
    "wall_hours": "hours from the first started_at to the last finished_at",
    "run_dir": "run directory",
}

#: The columns of `study_summary` a person needs at a glance (the exports keep every column):
#: which study, on what, how its trials ended, how good, how long.
STUDY_DISPLAY_COLUMNS = ["study_label", COMPARE_BY, "space", "sampler", "trials", *STATES,
                         "best_val_accuracy", "median_val_accuracy", "train_hours",
                         "wall_hours"]


def describe_arch(value: object) -> str | None:
    """The readable one-line summary (`Architecture.describe`) of an `arch` JSON cell.

    Args:
      value: the cell: JSON text of `Architecture.to_dict`, or NA.

    Returns:
      E.g. 'v1_basic cifar16 | 16x3/1 32x3/2 64x3/2'; None when the cell is missing or not a
      valid architecture (a row of a failed sample, or of an older schema).
    """
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return Architecture.from_dict(json.loads(value)).describe()
    except (ConfigError, ValueError, TypeError, KeyError):
        return None


def leaderboard(df: pd.DataFrame, top: int = 10,
                metric: str = "best_val_accuracy") -> pd.DataFrame:
    """Top-k complete trials by validation accuracy, per data set.

    Ties are broken by fewer params, then fewer FLOPs, then study and trial, so the order is
    deterministic.

    Args:
      df: the report frame (`load_runs`).
      top: how many rows to keep per data set (>= 1).
      metric: the accuracy column to rank by (higher is better).

    Returns:
      `LEADERBOARD_COLUMNS`, sorted by data set, then rank; `rank` restarts at 1 for every
      data set.
    """
    if top < 1:
        raise ReportError(f"--top expects an integer >= 1, found {top}")
    rows = complete(df)
    rows = rows[rows[metric].notna()]
    rows = rows.sort_values([COMPARE_BY, metric, "params", "flops", "study_label", "trial"],
                            ascending=[True, False, True, True, True, True],
                            na_position="last", kind="stable")
    out = rows.groupby(COMPARE_BY, sort=False, dropna=False).head(top).reset_index(drop=True)
    rank = out.groupby(COMPARE_BY, sort=False, dropna=False).cumcount() + 1
    out.insert(0, "rank", pd.array(rank.to_numpy(), dtype="Int64"))
    out["architecture"] = pd.array([describe_arch(a) for a in out["arch"]], dtype="string")
    out["within_noise"] = _within_noise(out, metric)
    return out[LEADERBOARD_COLUMNS]


def _within_noise(board: pd.DataFrame, metric: str) -> pd.Series:
    """Per row: whether its accuracy differs from its data set's rank 1 by less than NOISE_Z
    standard errors of the difference (NA where a standard error is unknown)."""
    out = pd.Series(pd.NA, index=board.index, dtype="boolean")
    for _, g in board.groupby(COMPARE_BY, sort=False, dropna=False):
        first = g.iloc[0]
        for i, row in g.iterrows():
            se = math.hypot(first["val_accuracy_se"], row["val_accuracy_se"])
            if math.isfinite(se):
                out[i] = bool(first[metric] - row[metric] <= NOISE_Z * se)
    return out


def accuracy_text(value: float, se: float) -> str:
    """'0.979 ± 0.007' (three decimals: the fourth is noise on any split under a million
    images); the accuracy alone where its standard error is unknown."""
    if not isinstance(value, (int, float)) or value != value:
        return "-"
    if se != se:
        return f"{value:.3f}"
    return f"{value:.3f} ± {se:.3f}"


def leaderboard_display(table: pd.DataFrame) -> pd.DataFrame:
    """The displayed leaderboard: `LEADERBOARD_DISPLAY_COLUMNS` of `leaderboard` output (the
    accuracy with its standard error, n the validation images), less an all-empty
    test_accuracy."""
    shown = table.assign(**{
        "val accuracy": pd.array([accuracy_text(v, se) for v, se in
                                  zip(table["best_val_accuracy"].astype("float64"),
                                      table["val_accuracy_se"].astype("float64"))],
                                 dtype="string"),
        "n": table["val_images"],
        "within noise of #1": table["within_noise"]})
    cols = [c for c in LEADERBOARD_DISPLAY_COLUMNS
            if c != "test_accuracy" or table[c].notna().any()]
    return shown[cols]


def _joined(values: pd.Series) -> str:
    uniq = sorted({str(v) for v in values.dropna()})
    return ",".join(uniq)


def study_summary(df: pd.DataFrame) -> pd.DataFrame:
    """One row per study: trials by state, best/median accuracy, time spent, GPU-hours.

    The median is pandas' (the mean of the two middle values for an even count) over the
    complete trials; `edf.edf_analysis(df, by="study_label")` reports the same median as
    error.

    Args:
      df: the report frame.

    Returns:
      `STUDY_SUMMARY_COLUMNS`, one row per (run_dir, study), sorted by study label.
    """
    records = []
    for (label, run_dir), g in df.groupby(["study_label", "run_dir"], sort=True, dropna=False):
        state = g["state"].fillna("")
        done = g[state == "complete"]["best_val_accuracy"].dropna()
        spent = g[state != "duplicate"]
        start, end = g["started_ts"].min(), g["finished_ts"].max()
        wall = (end - start).total_seconds() / 3600.0 if pd.notna(start) and pd.notna(end) \
            else float("nan")
        records.append({
            "study_label": label, "run_dir": run_dir, "engine": _joined(g["engine"]),
            "sampler": _joined(g["sampler"]), "space": _joined(g["space"]), "trials": len(g),
            COMPARE_BY: _joined(g[COMPARE_BY]),
            **{s: int((state == s).sum()) for s in STATES},
            "best_val_accuracy": float(done.max()) if len(done) else float("nan"),
            "median_val_accuracy": float(done.median()) if len(done) else float("nan"),
            "train_hours": float(spent["train_hours"].sum()),
            "gpu_hours": float(spent["gpu_hours"].sum()),
            "wall_hours": wall,
        })
    return pd.DataFrame.from_records(records, columns=list(STUDY_SUMMARY_COLUMNS))


def study_display(summary: pd.DataFrame) -> pd.DataFrame:
    """The displayed per-study table: `STUDY_DISPLAY_COLUMNS` of `study_summary` output."""
    return summary[STUDY_DISPLAY_COLUMNS]


def pareto_mask(cost: np.ndarray, accuracy: np.ndarray) -> np.ndarray:
    """Which points are not dominated (lower cost and higher accuracy are better).

    A point is dominated when another has cost <= and accuracy >=, one of them strictly;
    identical points do not dominate each other.

    Args:
      cost: shape (n,), finite.
      accuracy: shape (n,), finite.

    Returns:
      Boolean mask of shape (n,).
    """
    cost = np.asarray(cost, dtype=float)
    accuracy = np.asarray(accuracy, dtype=float)
    n = len(cost)
    if n == 0:
        return np.zeros(0, dtype=bool)
    # One sweep in cost order (n log n; the all-pairs comparison took seconds at 10,000
    # trials): a point survives when it is the most accurate of its cost and more accurate
    # than everything cheaper.
    order = np.lexsort((-accuracy, cost))
    c, a = cost[order], accuracy[order]
    first = np.r_[True, c[1:] != c[:-1]]
    group = np.cumsum(first) - 1
    best_of_cost = a[first]  # accuracy descends within a cost: the first is the best
    cheaper_best = np.r_[-np.inf, np.maximum.accumulate(best_of_cost)[:-1]]
    keep = (a == best_of_cost[group]) & (a > cheaper_best[group])
    mask = np.empty(n, dtype=bool)
    mask[order] = keep
    return mask


def pareto_front(df: pd.DataFrame, cost: str = "params", metric: str = "best_val_accuracy",
                 by: str | None = COMPARE_BY) -> pd.DataFrame:
    """The Pareto fronts of accuracy vs a complexity column over complete trials.

    Args:
      df: the report frame.
      cost: 'params' or 'flops' (any numeric column; lower is better).
      metric: accuracy column (higher is better).
      by: one front per value of this column (default: per data set, as accuracies on
        different data are not comparable); None for one front over every row.

    Returns:
      The fronts' rows sorted by `by` then cost, with columns
      [by,] study_label, trial, space, sampler, architecture, arch_key, cost, metric.
    """
    rows = complete(df)
    rows = rows[rows[cost].notna() & rows[metric].notna()]
    groups = rows.groupby(by, sort=True, dropna=False) if by else [(None, rows)]
    parts = []
    for _, g in groups:
        if len(g):
            mask = pareto_mask(g[cost].to_numpy(dtype=float), g[metric].to_numpy(dtype=float))
            parts.append(g[mask])
    cols = ([by] if by else []) + ["study_label", "trial", "space", "sampler", "architecture",
                                   "arch_key", cost, metric]
    cols = list(dict.fromkeys(cols))
    front = pd.concat(parts) if parts else rows.iloc[0:0]
    front = front.assign(architecture=pd.array([describe_arch(a) for a in front["arch"]],
                                               dtype="string"))
    order = ([by] if by else []) + [cost, metric]
    return front.sort_values(order, ascending=[True] * (len(order) - 1) + [False],
                             kind="stable")[cols].reset_index(drop=True)
