"""Anytime performance: best accuracy found so far, per study, against trials and compute.

Only complete trials can raise the best-so-far value (Optuna's best trial is chosen the same
way). A 'duplicate' trial repeats an earlier trial's result and trained nothing, so it uses up a
trial number but adds no training time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from resnet_nas.report.frame import COMPARE_BY, ReportError

AXES = ("trial", "time")


def best_so_far(df: pd.DataFrame, axis: str = "trial",
                metric: str = "best_val_accuracy") -> pd.DataFrame:
    """Best-so-far accuracy per study, in trial order or in order of completion.

    Args:
      df: the report frame.
      axis: 'trial': rows in trial-number order, x = `n_trials` (1, 2, ...);
        'time': rows in `finished_at` order (unfinished last), x = `cum_train_hours`, the
        running sum of train_hours (duplicates count 0).
      metric: accuracy column.

    Returns:
      Columns study_label, dataset_label, engine, sampler, trial, state, n_trials,
      cum_train_hours, value (metric for complete rows, else NaN), best_so_far (NaN before the
      first complete trial).
    """
    if axis not in AXES:
        raise ReportError(f"expected an anytime axis in {AXES}, found {axis!r}")
    parts = []
    for _, g in df.groupby("study_label", sort=True, dropna=False):
        keys = ["trial"] if axis == "trial" else ["finished_ts", "trial"]
        g = g.sort_values(keys, na_position="last", kind="stable")
        state = g["state"].fillna("").to_numpy()
        value = np.where(state == "complete", g[metric].to_numpy(dtype=float, na_value=np.nan),
                         np.nan)
        hours = np.where(state == "duplicate", 0.0, g["train_hours"].to_numpy(dtype=float))
        # cummax leaves NaN at NaN positions; ffill carries the best across non-complete rows.
        best = pd.Series(value).cummax().ffill().to_numpy()
        parts.append(pd.DataFrame({
            "study_label": g["study_label"].to_numpy(), COMPARE_BY: g[COMPARE_BY].to_numpy(),
            "engine": g["engine"].to_numpy(),
            "sampler": g["sampler"].to_numpy(), "trial": g["trial"].to_numpy(),
            "state": g["state"].to_numpy(), "n_trials": np.arange(1, len(g) + 1),
            "cum_train_hours": np.cumsum(hours), "value": value, "best_so_far": best}))
    cols = ["study_label", COMPARE_BY, "engine", "sampler", "trial", "state", "n_trials",
            "cum_train_hours", "value", "best_so_far"]
    return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)
