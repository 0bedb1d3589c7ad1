"""Summary tables: leaderboard, per-study summary and Pareto fronts.

Only 'complete' trials are ranked or put on a front: a 'duplicate' row repeats the result of
another trial (ranking it would count one model twice) and pruned/failed trials were not
trained to the end.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from resnet_nas.report.frame import ReportError, complete
from resnet_nas.results import STATES

LEADERBOARD_COLUMNS = ["rank", "study_label", "trial", "space", "sampler", "arch_key",
                       "best_val_accuracy", "final_val_accuracy", "test_accuracy", "params",
                       "flops", "epochs_run", "train_seconds", "device"]

#: Column -> meaning of `study_summary`'s output.
STUDY_SUMMARY_COLUMNS: dict[str, str] = {
    "study_label": "study (see DERIVED_COLUMNS)",
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


def leaderboard(df: pd.DataFrame, top: int = 10,
                metric: str = "best_val_accuracy") -> pd.DataFrame:
    """Top-k complete trials by validation accuracy.

    Ties are broken by fewer params, then fewer FLOPs, then study and trial, so the order is
    deterministic.

    Args:
      df: the report frame (`load_runs`).
      top: how many rows to keep (>= 1).
      metric: the accuracy column to rank by (higher is better).

    Returns:
      `LEADERBOARD_COLUMNS`, `rank` starting at 1.
    """
    if top < 1:
        raise ReportError(f"--top expects an integer >= 1, found {top}")
    rows = complete(df)
    rows = rows[rows[metric].notna()]
    rows = rows.sort_values([metric, "params", "flops", "study_label", "trial"],
                            ascending=[False, True, True, True, True],
                            na_position="last", kind="stable").head(top)
    out = rows.reset_index(drop=True)
    out.insert(0, "rank", pd.array(np.arange(1, len(out) + 1), dtype="Int64"))
    return out[LEADERBOARD_COLUMNS]


def _joined(values: pd.Series) -> str:
    uniq = sorted({str(v) for v in values.dropna()})
    return ",".join(uniq)


def study_summary(df: pd.DataFrame) -> pd.DataFrame:
    """One row per study: trials by state, best/median accuracy, time spent, GPU-hours.

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
            **{s: int((state == s).sum()) for s in STATES},
            "best_val_accuracy": float(done.max()) if len(done) else float("nan"),
            "median_val_accuracy": float(done.median()) if len(done) else float("nan"),
            "train_hours": float(spent["train_hours"].sum()),
            "gpu_hours": float(spent["gpu_hours"].sum()),
            "wall_hours": wall,
        })
    return pd.DataFrame.from_records(records, columns=list(STUDY_SUMMARY_COLUMNS))


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
    le = cost[None, :] <= cost[:, None]      # [i, j]: j costs no more than i
    ge = accuracy[None, :] >= accuracy[:, None]
    strict = (cost[None, :] < cost[:, None]) | (accuracy[None, :] > accuracy[:, None])
    return ~(le & ge & strict).any(axis=1)


def pareto_front(df: pd.DataFrame, cost: str = "params", metric: str = "best_val_accuracy",
                 by: str | None = None) -> pd.DataFrame:
    """The Pareto front of accuracy vs a complexity column over complete trials.

    Args:
      df: the report frame.
      cost: 'params' or 'flops' (any numeric column; lower is better).
      metric: accuracy column (higher is better).
      by: optional column: one front per value of it instead of one overall.

    Returns:
      The front's rows sorted by `by` then cost, with columns
      [by,] study_label, trial, space, sampler, arch_key, cost, metric.
    """
    rows = complete(df)
    rows = rows[rows[cost].notna() & rows[metric].notna()]
    groups = rows.groupby(by, sort=True, dropna=False) if by else [(None, rows)]
    parts = []
    for _, g in groups:
        if len(g):
            mask = pareto_mask(g[cost].to_numpy(dtype=float), g[metric].to_numpy(dtype=float))
            parts.append(g[mask])
    cols = ([by] if by else []) + ["study_label", "trial", "space", "sampler", "arch_key",
                                   cost, metric]
    cols = list(dict.fromkeys(cols))
    if not parts:
        return rows[cols].iloc[0:0].reset_index(drop=True)
    front = pd.concat(parts)
    order = ([by] if by else []) + [cost, metric]
    return front.sort_values(order, ascending=[True] * (len(order) - 1) + [False],
                             kind="stable")[cols].reset_index(drop=True)
