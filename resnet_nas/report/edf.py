"""Design-space comparison with error EDFs (Radosavovic et al., "On Network Design Spaces
for Visual Recognition", 2019, and "Designing Network Design Spaces", 2020).

A design space is judged by the distribution of errors of models sampled from it, not by its
single best model. The empirical distribution function (EDF) of n models with errors e_i and
weights w_i (sum 1) is F(e) = sum_i w_i [e_i <= e]; plain EDFs use w_i = 1/n.

Normalized EDF: two spaces whose samples have different complexity (params or FLOPs) are not
comparable, since bigger models have lower error. The models are reweighted so every group has
the same (uniform) complexity distribution: log10-complexity is cut into `bins` equal-width bins
over the range pooled across groups; only bins populated in every group are kept (elsewhere the
groups' distributions cannot be made equal, so those models get weight 0); inside a group each
model gets weight 1 / (models of its group in its bin), then weights are scaled to sum to 1, so
each kept bin carries the same total weight in every group.

Confidence bands: models are resampled with replacement `n_boot` times per group (for
normalized EDFs the weights are recomputed on every resample from the resample's bin counts),
and the band is the pointwise (1-level)/2 and (1+level)/2 quantile of the resampled EDFs.

Only trials of one data set are compared (`frame.COMPARE_BY`): every table has the data set as
its first column, and groups, bins, bands and KS pairs are formed within each data set.

Median: `median_error` is the (weighted) median with the usual midpoint rule: where the EDF
reaches exactly 1/2 at a model, it is the mean of that model's error and the next one. So for a
plain EDF it is pandas' median, and `edf_analysis(df, by="study_label")` agrees with
`tables.study_summary`'s median_val_accuracy (error = 1 - accuracy). It used to take the lower
of the two middle errors, which with an even number of models is not the median; and since the
EDF groups by sampler or space (pooling every study, and formerly every data set, of that
value) its numbers are not a study's either.

KS statistic: the largest absolute difference between two groups' EDFs. Unweighted EDFs use
`scipy.stats.ks_2samp` (statistic and p-value); weighted EDFs compute the supremum directly and
give an asymptotic p-value using Kish's effective sample sizes (sum w)^2 / sum w^2, which is
only approximate.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from resnet_nas.report.choices import NORMALIZE_CHOICES
from resnet_nas.report.frame import COMPARE_BY, ReportError, complete

MISSING_GROUP = "<none>"
CURVE_COLUMNS = ["group", "error", "edf", "edf_lo", "edf_hi"]
SUMMARY_COLUMNS = ["group", "models", "n_eff", "best_error", "median_error"]
KS_COLUMNS = ["group_a", "group_b", "n_a", "n_b", "ks_statistic", "p_value", "method"]


def default_group_column(df: pd.DataFrame) -> str:
    """'space' when the complete trials of some data set come from more than one space, else
    'sampler' (EDFs compare groups within a data set, so spaces on different data sets do not
    make a comparison of spaces)."""
    rows = complete(df)
    rows = rows[rows["space"].notna()]
    within = rows[COMPARE_BY] if COMPARE_BY in rows else pd.Series("", index=rows.index)
    spaces = rows.groupby(within.fillna(MISSING_GROUP))["space"].nunique()
    return "space" if len(spaces) and spaces.max() > 1 else "sampler"


def group_labels(df: pd.DataFrame, by: str) -> pd.Series:
    """The values of column `by` as strings, missing values as '<none>'."""
    if by not in df:
        raise ReportError(f"expected a column of the results table to group by, found {by!r}")
    return df[by].astype("string").fillna(MISSING_GROUP).astype(str)


def complexity_weights(groups: np.ndarray, complexity: np.ndarray, bins: int = 10
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Per-model weights making each group's complexity distribution uniform over shared bins.

    Args:
      groups: shape (n,), group label of each model.
      complexity: shape (n,), positive complexity (params or FLOPs) of each model.
      bins: number of equal-width bins of log10(complexity) over the pooled range.

    Returns:
      (weights, bin_index): weights sum to 1 within each group (0 for models outside the bins
      shared by all groups); bin_index is each model's bin (0..bins-1).

    Raises:
      ReportError: non-positive complexity, or the groups share no complexity bin.
    """
    groups = np.asarray(groups)
    complexity = np.asarray(complexity, dtype=float)
    if bins < 1:
        raise ReportError(f"expected at least 1 complexity bin, found {bins}")
    if len(complexity) == 0:
        return np.zeros(0), np.zeros(0, dtype=int)
    if not np.all(np.isfinite(complexity) & (complexity > 0)):
        raise ReportError("complexity normalization expects positive params/FLOPs for every "
                          "model, found missing or non-positive values")
    logc = np.log10(complexity)
    lo, hi = logc.min(), logc.max()
    if hi == lo:
        idx = np.zeros(len(logc), dtype=int)
    else:
        # Interior edges only, so the maximum lands in the last bin rather than past it.
        edges = np.linspace(lo, hi, bins + 1)[1:-1]
        idx = np.searchsorted(edges, logc, side="right")
    labels = np.unique(groups)
    shared = set(range(bins))
    for g in labels:
        shared &= set(idx[groups == g].tolist())
    if not shared:
        raise ReportError("the groups share no complexity bin, so their complexity "
                          "distributions cannot be normalized (use --normalize none)")
    weights = np.zeros(len(logc))
    for g in labels:
        in_g = (groups == g) & np.isin(idx, list(shared))
        counts = np.bincount(idx[in_g], minlength=bins)
        weights[in_g] = 1.0 / counts[idx[in_g]]
        weights[in_g] /= weights[in_g].sum()
    return weights, idx


def weighted_edf(values: np.ndarray, weights: np.ndarray | None, grid: np.ndarray) -> np.ndarray:
    """F(x) = sum_i w_i [values_i <= x] at each grid point (weights default to 1/n).

    Args:
      values: shape (n,).
      weights: shape (n,) summing to 1, or None for the plain EDF.
      grid: points to evaluate at.

    Returns:
      EDF values, shape like `grid`.
    """
    values = np.asarray(values, dtype=float)
    grid = np.asarray(grid, dtype=float)
    if len(values) == 0:
        return np.full(grid.shape, np.nan)
    w = np.full(len(values), 1.0 / len(values)) if weights is None else np.asarray(weights, float)
    order = np.argsort(values, kind="stable")
    cum = np.concatenate([[0.0], np.cumsum(w[order])])
    cum /= cum[-1]  # exactly 1 past the largest value despite rounding in the sum
    return cum[np.searchsorted(values[order], grid, side="right")]


def bootstrap_band(values: np.ndarray, grid: np.ndarray, bin_index: np.ndarray | None = None,
                   n_boot: int = 1000, level: float = 0.95,
                   rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise bootstrap confidence band of an (optionally complexity-normalized) EDF.

    Args:
      values: shape (n,), one group's errors (only models with non-zero weight).
      grid: points to evaluate at.
      bin_index: shape (n,), complexity bin of each model for normalized EDFs (weights are
        recomputed per resample), or None for plain EDFs.
      n_boot: resamples.
      level: confidence level in (0, 1).
      rng: random generator (seeded by the caller for reproducible reports).

    Returns:
      (lower, upper), each shaped like `grid`.
    """
    if not 0 < level < 1:
        raise ReportError(f"expected a confidence level in (0, 1), found {level}")
    values = np.asarray(values, dtype=float)
    n = len(values)
    rng = rng or np.random.default_rng(0)
    order = np.argsort(values, kind="stable")
    values = values[order]
    draws = rng.integers(0, n, size=(n_boot, n))
    # counts[b, i]: how often model i was drawn in resample b.
    flat = (draws + np.arange(n_boot)[:, None] * n).ravel()
    counts = np.bincount(flat, minlength=n_boot * n).reshape(n_boot, n).astype(float)
    if bin_index is None:
        w = counts / n
    else:
        bins = np.asarray(bin_index)[order]
        nb = int(bins.max()) + 1
        onehot = np.eye(nb)[bins]                    # (n, nb)
        per_bin = counts @ onehot                    # (n_boot, nb) draws per bin
        nonempty = (per_bin > 0).sum(axis=1, keepdims=True)
        w = counts / np.maximum(per_bin[:, bins], 1.0) / nonempty
    cum = np.concatenate([np.zeros((n_boot, 1)), np.cumsum(w, axis=1)], axis=1)
    cum /= cum[:, -1:]  # exactly 1 past the largest value despite rounding in the sum
    curves = cum[:, np.searchsorted(values, np.asarray(grid, float), side="right")]
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(curves, [alpha, 1.0 - alpha], axis=0)
    return np.clip(lo, 0.0, 1.0), np.clip(hi, 0.0, 1.0)


def ks_statistic(a: np.ndarray, b: np.ndarray, wa: np.ndarray | None = None,
                 wb: np.ndarray | None = None) -> float:
    """sup_x |F_a(x) - F_b(x)| for (weighted) EDFs; attained at one of the sample points."""
    grid = np.union1d(np.asarray(a, float), np.asarray(b, float))
    return float(np.max(np.abs(weighted_edf(a, wa, grid) - weighted_edf(b, wb, grid))))


def weighted_median(values: np.ndarray, weights: np.ndarray | None = None) -> float:
    """The median of a (weighted) sample, with the midpoint rule where the EDF is exactly 1/2.

    The first value at which the EDF reaches 1/2 is only the lower median: with equal weights
    and an even count, the EDF is exactly 1/2 there, and the median is the mean of that value
    and the next (what numpy and pandas compute).

    Args:
      values: shape (n,), n >= 1.
      weights: shape (n,), non-negative with a positive sum, or None for equal weights.

    Returns:
      The median (NaN for an empty sample).
    """
    v = np.asarray(values, dtype=float)
    if len(v) == 0:
        return float("nan")
    w = np.ones(len(v)) if weights is None else np.asarray(weights, dtype=float)
    order = np.argsort(v, kind="stable")
    v, w = v[order], w[order]
    cum = np.cumsum(w) / w.sum()
    tol = 1e-9
    i = int(np.argmax(cum >= 0.5 - tol))
    if abs(cum[i] - 0.5) <= tol and i + 1 < len(v):
        nxt = i + 1 + int(np.argmax(w[i + 1:] > 0))  # the next model that carries weight
        return float((v[i] + v[nxt]) / 2.0)
    return float(v[i])


def kish_n(weights: np.ndarray) -> float:
    """Kish's effective sample size (sum w)^2 / sum w^2 (n for equal weights)."""
    w = np.asarray(weights, dtype=float)
    return float(w.sum() ** 2 / (w ** 2).sum()) if len(w) and (w ** 2).sum() > 0 else 0.0


@dataclass
class EDFResult:
    """EDF tables for one grouping, each table with the data set (`COMPARE_BY`) first.

    Attributes:
      by: the grouping column.
      normalize: 'none', 'params' or 'flops'.
      curves: long table: data set, group, error, edf, edf_lo, edf_hi (band NaN without
        bootstrap).
      summary: data set, group, models, n_eff, best_error, median_error (weighted median,
        midpoint rule: see `weighted_median`).
      ks: data set, group_a, group_b, n_a, n_b, ks_statistic, p_value, method (pairs within one
        data set only).
    """

    by: str
    normalize: str
    curves: pd.DataFrame
    summary: pd.DataFrame
    ks: pd.DataFrame


def _ks_row(a: str, b: str, ea: np.ndarray, wa: np.ndarray, eb: np.ndarray, wb: np.ndarray,
            weighted: bool) -> dict:
    """The KS comparison of groups a and b (errors e, weights w)."""
    if not weighted:
        res = stats.ks_2samp(ea, eb)
        stat, p, method = float(res.statistic), float(res.pvalue), "ks_2samp"
    else:
        stat = ks_statistic(ea, eb, wa, wb)
        na, nb = kish_n(wa), kish_n(wb)
        p = float(stats.kstwobign.sf(stat * np.sqrt(na * nb / (na + nb))))
        method = "weighted (asymptotic p, Kish n_eff)"
    return {"group_a": a, "group_b": b, "n_a": len(ea), "n_b": len(eb), "ks_statistic": stat,
            "p_value": p, "method": method}


def _one_data_set(labels: np.ndarray, errors: np.ndarray, cplx: np.ndarray | None, bins: int,
                  n_boot: int, level: float, rng: np.random.Generator
                  ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Curves, summary and KS tables of the groups of one data set.

    Args:
      labels, errors: shape (n,), each model's group and error.
      cplx: shape (n,), positive complexity for the normalized EDF, or None for the plain one.
      bins, n_boot, level, rng: as in `edf_analysis`.

    Returns:
      (curves, summary, ks) with `CURVE_COLUMNS`, `SUMMARY_COLUMNS`, `KS_COLUMNS`.
    """
    weights, bin_idx = complexity_weights(labels, cplx, bins) if cplx is not None \
        else (None, None)
    grid = np.unique(errors)
    curves, summary, per_group = [], [], {}
    for g in sorted(set(labels.tolist())):
        sel = labels == g
        if weights is not None:
            sel = sel & (weights > 0)
        e = errors[sel]
        w = weights[sel] if weights is not None else np.full(len(e), 1.0 / len(e))
        per_group[g] = (e, w)
        if n_boot > 0 and len(e):
            lo, hi = bootstrap_band(e, grid, bin_idx[sel] if bin_idx is not None else None,
                                    n_boot, level, rng)
        else:
            lo = hi = np.full(len(grid), np.nan)
        curves.append(pd.DataFrame({"group": g, "error": grid, "edf": weighted_edf(e, w, grid),
                                    "edf_lo": lo, "edf_hi": hi}))
        summary.append({"group": g, "models": len(e), "n_eff": kish_n(w),
                        "best_error": float(e.min()), "median_error": weighted_median(e, w)})
    ks = [_ks_row(a, b, *per_group[a], *per_group[b], weighted=cplx is not None)
          for a, b in itertools.combinations(sorted(per_group), 2)]
    curves_df = (pd.concat(curves, ignore_index=True) if curves
                 else pd.DataFrame(columns=CURVE_COLUMNS))
    return (curves_df, pd.DataFrame(summary, columns=SUMMARY_COLUMNS),
            pd.DataFrame(ks, columns=KS_COLUMNS))


def edf_analysis(df: pd.DataFrame, by: str | None = None, normalize: str = "none",
                 n_boot: int = 1000, level: float = 0.95, bins: int = 10,
                 seed: int = 0) -> EDFResult:
    """Error EDFs per group over complete trials, per data set, with bootstrap bands and
    pairwise KS.

    Args:
      df: the report frame (with its `COMPARE_BY` column).
      by: grouping column; None picks `default_group_column`.
      normalize: 'none', or 'params'/'flops' for the complexity-normalized EDF.
      n_boot: bootstrap resamples (0: no bands).
      level: band confidence level.
      bins: log-complexity bins for normalization (cut over each data set's range).
      seed: bootstrap seed.

    Returns:
      An `EDFResult`.

    Raises:
      ReportError: a bad option, or (normalized) a data set whose groups share no bin.
    """
    if normalize not in NORMALIZE_CHOICES:
        raise ReportError(f"--normalize expects one of {NORMALIZE_CHOICES}, found {normalize!r}")
    if n_boot < 0:
        raise ReportError(f"--bootstrap expects an integer >= 0, found {n_boot}")
    by = by or default_group_column(df)
    rows = complete(df)
    rows = rows[rows["error"].notna()]
    labels = group_labels(rows, by).to_numpy()
    data_sets = group_labels(rows, COMPARE_BY).to_numpy()
    errors = rows["error"].to_numpy(dtype=float)
    cplx = None
    if normalize != "none":
        cplx = rows[normalize].to_numpy(dtype=float, na_value=np.nan)
        keep = np.isfinite(cplx) & (cplx > 0)
        labels, data_sets, errors, cplx = labels[keep], data_sets[keep], errors[keep], cplx[keep]
    rng = np.random.default_rng(seed)
    parts: list[list[pd.DataFrame]] = [[], [], []]
    for d in sorted(set(data_sets.tolist())):
        sel = data_sets == d
        tables = _one_data_set(labels[sel], errors[sel], None if cplx is None else cplx[sel],
                               bins, n_boot, level, rng)
        for part, table in zip(parts, tables):
            part.append(table.assign(**{COMPARE_BY: d}))
    curves, summary, ks = (
        pd.concat(p, ignore_index=True)[[COMPARE_BY, *cols]] if p
        else pd.DataFrame(columns=[COMPARE_BY, *cols])
        for p, cols in zip(parts, (CURVE_COLUMNS, SUMMARY_COLUMNS, KS_COLUMNS)))
    return EDFResult(by=by, normalize=normalize, curves=curves, summary=summary, ks=ks)
