"""How far a search moved from the known architectures it started from (`search --enqueue`).

Per study with enqueued trials: its best enqueued (baseline) trial against its best trial the
sampler proposed, with the difference in accuracy and its standard error, and the ratio of
their parameter counts.
"""

from __future__ import annotations

import math

import pandas as pd

from resnet_nas.report.frame import COMPARE_BY, complete
from resnet_nas.report.tables import NOISE_Z, accuracy_text

METRIC = "best_val_accuracy"
COLUMNS = ["study_label", COMPARE_BY, "baseline", "baseline_trial", "baseline_accuracy",
           "baseline_se", "baseline_params", "found_trial", "found_accuracy", "found_se",
           "found_params", "gain", "gain_se", "beyond_noise", "params_ratio"]


def _best(rows: pd.DataFrame) -> pd.Series | None:
    rows = rows[rows[METRIC].notna()]
    if rows.empty:
        return None
    return rows.sort_values([METRIC, "params", "trial"], ascending=[False, True, True],
                            kind="stable").iloc[0]


def baseline_comparison(df: pd.DataFrame) -> pd.DataFrame:
    """One row per study with a complete enqueued trial: its best baseline, its best other
    trial, `gain` (found minus baseline accuracy), `gain_se` (the standard error of that
    difference), `beyond_noise` (gain more than NOISE_Z standard errors from 0) and
    `params_ratio` (found / baseline params)."""
    done = complete(df)
    if "enqueued" not in done or done["enqueued"].isna().all():
        return pd.DataFrame(columns=COLUMNS)
    out = []
    for label, g in done.groupby("study_label", sort=True):
        base = _best(g[g["enqueued"].notna()])
        if base is None:
            continue
        found = _best(g[g["enqueued"].isna()])
        row = {"study_label": label, COMPARE_BY: base[COMPARE_BY],
               "baseline": base["enqueued"], "baseline_trial": base["trial"],
               "baseline_accuracy": base[METRIC], "baseline_se": base["val_accuracy_se"],
               "baseline_params": base["params"]}
        if found is not None:
            gain = float(found[METRIC] - base[METRIC])
            se = math.hypot(float(found["val_accuracy_se"]), float(base["val_accuracy_se"]))
            row.update(found_trial=found["trial"], found_accuracy=found[METRIC],
                       found_se=found["val_accuracy_se"], found_params=found["params"],
                       gain=gain, gain_se=se,
                       beyond_noise=(abs(gain) > NOISE_Z * se) if math.isfinite(se) else pd.NA,
                       params_ratio=float(found["params"]) / float(base["params"]))
        out.append(row)
    return pd.DataFrame(out, columns=COLUMNS)


def baseline_display(table: pd.DataFrame) -> pd.DataFrame:
    """What a person reads: each accuracy with its standard error, the gain with its own."""
    def acc(v, se) -> str:
        return accuracy_text(float(v), float(se)) if pd.notna(v) else "-"

    return pd.DataFrame({
        "study": table["study_label"], "data set": table[COMPARE_BY],
        "best baseline": [f"{b} (trial {t})" for b, t in zip(table["baseline"],
                                                             table["baseline_trial"])],
        "its val accuracy": [acc(v, s) for v, s in zip(table["baseline_accuracy"],
                                                      table["baseline_se"])],
        "best found": [f"trial {t}" if pd.notna(t) else "-" for t in table["found_trial"]],
        "val accuracy": [acc(v, s) for v, s in zip(table["found_accuracy"], table["found_se"])],
        "gain": [acc(v, s) if pd.notna(v) else "-" for v, s in zip(table["gain"],
                                                                 table["gain_se"])],
        "beyond noise": table["beyond_noise"],
        "params x": [f"{r:.2f}" if pd.notna(r) else "-" for r in table["params_ratio"]]})
