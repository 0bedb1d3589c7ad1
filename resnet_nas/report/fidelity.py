"""Rank stability between fidelities: do short trainings rank models like long ones?

Two sources of (short, long) accuracy pairs:

* within a trial: `val_accuracy_curve[short_epoch - 1]` vs `val_accuracy_curve[long_epoch - 1]`
  among trials whose curve reaches the long epoch (complete or pruned trials; duplicates repeat
  another trial's curve and are left out);
* across trials/runs: the same `arch_key` trained with different `epochs_planned` (complete
  trials; several rows of one arch at one epoch budget are averaged), `best_val_accuracy` at the
  smaller budget vs at the larger one.

Spearman's rho and Kendall's tau-b (scipy.stats) are reported with their p-values; with fewer
than 3 pairs (where any two distinct points are trivially perfectly ranked) or constant
accuracies they are NaN in the tables, and the report says "not enough data"
(`correlation_text`).

Pairs are only pooled within one data set (`frame.COMPARE_BY`): pooling digits with CIFAR-10
would correlate the data sets, not the fidelities.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy import stats

from resnet_nas.report.frame import COMPARE_BY, ReportError, parse_curve

MIN_PAIRS = 3
CORR_COLUMNS = ["n", "spearman", "spearman_p", "kendall", "kendall_p"]
#: What the report shows where a correlation is undefined (NaN).
NOT_ENOUGH_DATA = "not enough data"


def correlation_text(value: float, n: int) -> str:
    """A correlation as display text: 4 decimals, or why it is missing.

    Args:
      value: the correlation (NaN when undefined).
      n: how many pairs it was computed from.

    Returns:
      E.g. '0.8000'; 'not enough data' with fewer than `MIN_PAIRS` pairs, and
      'not enough data (constant accuracy)' when enough pairs all share one accuracy.
    """
    if value is not None and np.isfinite(value):
        return f"{value:.4f}"
    if n is not None and not pd.isna(n) and int(n) >= MIN_PAIRS:
        return f"{NOT_ENOUGH_DATA} (constant accuracy)"
    return NOT_ENOUGH_DATA


def rank_correlation(short: np.ndarray, long: np.ndarray) -> dict[str, float]:
    """Spearman and Kendall correlation of two accuracy vectors.

    Args:
      short: accuracies at the low fidelity.
      long: accuracies of the same models at the high fidelity.

    Returns:
      {'n', 'spearman', 'spearman_p', 'kendall', 'kendall_p'}; NaN when undefined.
    """
    x = np.asarray(short, dtype=float)
    y = np.asarray(long, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    out = {"n": int(len(x)), "spearman": np.nan, "spearman_p": np.nan, "kendall": np.nan,
           "kendall_p": np.nan}
    if len(x) < MIN_PAIRS or np.ptp(x) == 0 or np.ptp(y) == 0:
        return out
    rho = stats.spearmanr(x, y)
    tau = stats.kendalltau(x, y)
    out.update(spearman=float(rho.statistic), spearman_p=float(rho.pvalue),
               kendall=float(tau.statistic), kendall_p=float(tau.pvalue))
    return out


def correlation_display(table: pd.DataFrame) -> pd.DataFrame:
    """A rank-stability table for people: correlations as text ('not enough data' for NaN),
    each p-value shown only next to a correlation that has one.

    Args:
      table: `curve_rank_stability` or `epochs_rank_stability` output.

    Returns:
      The same columns; spearman/kendall (and their _p) as display strings.
    """
    out = table.copy()
    for name in ("spearman", "kendall"):
        out[name] = [correlation_text(v, n) for v, n in zip(table[name], table["n"])]
        out[f"{name}_p"] = [f"{p:.3g}" if np.isfinite(v) and np.isfinite(p) else "-"
                            for v, p in zip(table[name].astype(float),
                                            table[f"{name}_p"].astype(float))]
    return out


def _check_epochs(short_epoch: int, long_epoch: int | None) -> None:
    if isinstance(short_epoch, bool) or not isinstance(short_epoch, (int, np.integer)) \
            or short_epoch < 1:
        raise ReportError(f"--short-epoch expects an integer >= 1 (epochs count from 1), "
                          f"found {short_epoch!r}")
    if long_epoch is not None and long_epoch <= short_epoch:
        raise ReportError(f"--long-epoch expects an epoch after --short-epoch {short_epoch}, "
                          f"found {long_epoch}")


def curve_pairs(df: pd.DataFrame, short_epoch: int = 1,
                long_epoch: int | None = None) -> pd.DataFrame:
    """(short, long) accuracy pairs from the validation curves, per study.

    Args:
      df: the report frame.
      short_epoch: 1-based epoch of the short fidelity.
      long_epoch: 1-based epoch of the long fidelity; None: per study, the longest curve among
        its eligible trials.

    Returns:
      Columns dataset_label, study_label, trial, short_epoch, long_epoch, short_accuracy,
      long_accuracy.
    """
    _check_epochs(short_epoch, long_epoch)
    cols = [COMPARE_BY, "study_label", "trial", "short_epoch", "long_epoch", "short_accuracy",
            "long_accuracy"]
    rows = df[df["state"].fillna("").isin(["complete", "pruned"])]
    parts = []
    for label, g in rows.groupby("study_label", sort=True, dropna=False):
        curves = [parse_curve(c) for c in g["val_accuracy_curve"]]
        lengths = np.array([len(c) for c in curves])
        long = long_epoch if long_epoch is not None else int(lengths.max(initial=0))
        if long <= short_epoch:
            continue
        keep = lengths >= long
        parts.append(pd.DataFrame({
            COMPARE_BY: g[COMPARE_BY].to_numpy()[keep],
            "study_label": label, "trial": g["trial"].to_numpy()[keep],
            "short_epoch": short_epoch, "long_epoch": long,
            "short_accuracy": [c[short_epoch - 1] for c, k in zip(curves, keep) if k],
            "long_accuracy": [c[long - 1] for c, k in zip(curves, keep) if k]}))
    return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)


def curve_rank_stability(df: pd.DataFrame, short_epoch: int = 1,
                         long_epoch: int | None = None) -> pd.DataFrame:
    """Rank correlation of early vs late validation accuracy, per study and overall.

    Args:
      df: the report frame.
      short_epoch: 1-based short epoch.
      long_epoch: 1-based long epoch, None for each study's longest curve (and, for the
        'all' row, the longest curve of all studies).

    Returns:
      Columns dataset_label, study_label, short_epoch, long_epoch, + `CORR_COLUMNS`; one row
      per study that has curves longer than `short_epoch`, plus per data set with several such
      studies an 'all' row pooling them.
    """
    pairs = curve_pairs(df, short_epoch, long_epoch)
    out = []
    for data, d in pairs.groupby(COMPARE_BY, sort=True, dropna=False):
        studies = [{COMPARE_BY: data, "study_label": label, "short_epoch": short_epoch,
                    "long_epoch": int(g["long_epoch"].iloc[0]),
                    **rank_correlation(g["short_accuracy"], g["long_accuracy"])}
                   for label, g in d.groupby("study_label", sort=True)]
        out += studies
        if len(studies) > 1:
            pooled = d
            if long_epoch is None:
                pooled = d[d["long_epoch"] == int(d["long_epoch"].max())]
            out.append({COMPARE_BY: data, "study_label": "all", "short_epoch": short_epoch,
                        "long_epoch": int(pooled["long_epoch"].max()),
                        **rank_correlation(pooled["short_accuracy"], pooled["long_accuracy"])})
    return pd.DataFrame(out, columns=[COMPARE_BY, "study_label", "short_epoch", "long_epoch",
                                      *CORR_COLUMNS])


def budget_pairs(df: pd.DataFrame, metric: str = "best_val_accuracy") -> pd.DataFrame:
    """Accuracy of each architecture at each pair of epoch budgets it was trained with.

    Args:
      df: the report frame (may pool several runs).
      metric: accuracy column; several complete rows of one arch_key at one epochs_planned
        are averaged.

    Returns:
      Columns dataset_label, arch_key, short_epochs, long_epochs, short_accuracy, long_accuracy
      (an architecture is paired with itself on the same data set only).
    """
    cols = [COMPARE_BY, "arch_key", "short_epochs", "long_epochs", "short_accuracy",
            "long_accuracy"]
    rows = df[(df["state"].fillna("") == "complete") & df["arch_key"].notna()
              & df["epochs_planned"].notna() & df[metric].notna()]
    if rows.empty:
        return pd.DataFrame(columns=cols)
    acc = (rows.assign(epochs_planned=rows["epochs_planned"].astype(int))
           .groupby([COMPARE_BY, "arch_key", "epochs_planned"])[metric].mean()
           .unstack("epochs_planned"))
    parts = []
    for short, long in itertools.combinations(sorted(acc.columns), 2):
        both = acc[[short, long]].dropna()
        if len(both):
            parts.append(pd.DataFrame({
                COMPARE_BY: both.index.get_level_values(0).astype(str),
                "arch_key": both.index.get_level_values(1).astype(str),
                "short_epochs": int(short), "long_epochs": int(long),
                "short_accuracy": both[short].to_numpy(),
                "long_accuracy": both[long].to_numpy()}))
    return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)


def epochs_rank_stability(df: pd.DataFrame,
                          metric: str = "best_val_accuracy") -> pd.DataFrame:
    """Rank correlation of the same architectures trained for different epochs_planned.

    Args:
      df: the report frame (may pool several runs).
      metric: accuracy column.

    Returns:
      Columns dataset_label, short_epochs, long_epochs, + `CORR_COLUMNS`; one row per data set
      and pair of epoch budgets that share at least one architecture.
    """
    pairs = budget_pairs(df, metric)
    keys = [COMPARE_BY, "short_epochs", "long_epochs"]
    out = [{COMPARE_BY: d, "short_epochs": int(s), "long_epochs": int(l),
            **rank_correlation(g["short_accuracy"], g["long_accuracy"])}
           for (d, s, l), g in pairs.groupby(keys, sort=True)]
    return pd.DataFrame(out, columns=[*keys, *CORR_COLUMNS])
