"""Loading run directories into one report frame: the results schema plus derived columns.

The report never reads anything but the results table (`resnet_nas.results`), so any engine,
sampler or search space that writes trial records can be reported on.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from resnet_nas import results
from resnet_nas.fileio import read_json_object
from resnet_nas.run import RUN_DIR_TOKEN, RUN_META
from resnet_nas.validation import ConfigError

#: Column name -> (pandas dtype, meaning) of the columns the report adds to `results.SCHEMA`.
DERIVED_COLUMNS: dict[str, tuple[str, str]] = {
    "error": ("float64", "1 - best_val_accuracy"),
    "val_accuracy_se": ("float64", "binomial standard error of best_val_accuracy on its "
                                   "val_images validation images, sqrt(p (1 - p) / n); NaN "
                                   "where n is not recorded (older rows)"),
    "chance": ("float64", "the accuracy of guessing: 1 / the architecture's classes (NaN "
                          "without an architecture)"),
    "is_gpu": ("boolean", "True when `device` is set and does not mention 'cpu' "
                          "(case-insensitive); unknown (missing) devices count as not GPU"),
    "train_hours": ("float64", "train_seconds / 3600 (0 when train_seconds is missing)"),
    "gpu_hours": ("float64", "train_hours when is_gpu, else 0"),
    "started_ts": ("datetime64[ns, UTC]", "started_at parsed (NaT when missing/unparseable)"),
    "finished_ts": ("datetime64[ns, UTC]", "finished_at parsed (NaT when missing/unparseable)"),
    "study_label": ("string", "study name; prefixed with the run directory's name when the same "
                              "study name occurs in more than one run directory"),
    "dataset_label": ("string", "the data set the trial was trained on: `dataset`, with the start "
                                "of `data_fingerprint` appended when one name covers different "
                                "data; 'unknown data' for rows that record neither (older runs)"),
}
#: The column that says which trials may be compared: fronts, EDFs, leaderboards and rank
#: correlations are computed per value of it, since accuracies on different data sets (digits,
#: CIFAR-10) are not comparable.
COMPARE_BY = "dataset_label"
#: `dataset_label` of rows that record neither a data set name nor a fingerprint.
UNKNOWN_DATA = "unknown data"
# Fingerprint characters shown where two different data sets share a name.
_FINGERPRINT_CHARS = 8
REPORT_COLUMNS: list[str] = results.COLUMNS + list(DERIVED_COLUMNS)


class ReportError(ValueError):
    """The report cannot be built from what it was given (missing run, no rows, bad option)."""


def _check_run_dirs(run_dirs: Sequence[str | os.PathLike]) -> list[Path]:
    if not run_dirs:
        raise ReportError("expected at least one run directory, found none")
    paths = [Path(d) for d in run_dirs]
    for p in paths:
        if not p.exists():
            raise ReportError(f"run directory {str(p)!r} does not exist")
        if not p.is_dir():
            raise ReportError(f"expected a run directory, found a file: {str(p)!r}")
        if not any((p / name).exists() for name in (RUN_META, results.ROWS_DIR,
                                                    "results.parquet")):
            raise ReportError(f"{str(p)!r} is not a run directory (it holds no {RUN_META}, "
                              f"{results.ROWS_DIR}/ or results.parquet)")
    return paths


def _storage_of(run_dir: Path) -> str:
    """Which study storage the run directory's rows come from: rows of one trial found in
    several run directories of one storage (a stale trial whose worker came back, a collected
    table beside the workers' own) are one trial. Without a run.json, the directory itself."""
    try:
        ref = str(read_json_object(run_dir / RUN_META, "run metadata").get("storage") or "")
    except ConfigError:
        ref = ""
    if not ref:
        return f"dir:{run_dir.resolve()}"
    return ref.replace(RUN_DIR_TOKEN, str(run_dir.resolve()))


#: Of several rows of one trial, the one kept: what it trained over a copy, over a failure.
_STATE_RANK = {"complete": 0, "pruned": 1, "duplicate": 2, "failed": 3}


def _one_row_per_trial(df: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    key = ["_storage", "study", "trial"]
    dup = df.duplicated(key, keep=False)
    if not dup.any():
        return df
    ranked = df.assign(_rank=df["state"].map(_STATE_RANK).fillna(4), _order=range(len(df)))
    kept = ranked.sort_values(["_rank", "_order"], kind="stable").drop_duplicates(key)
    for (_, study, trial), group in ranked[dup].groupby(key, sort=True):
        chosen = kept[(kept["study"] == study) & (kept["trial"] == trial)
                      & (kept["_storage"] == group["_storage"].iloc[0])].iloc[0]
        notes.append(f"trial {trial} of study {study!r} has rows in {len(group)} run "
                     f"directories ({', '.join(group['run_dir'].astype(str))}); counted once "
                     f"(its {chosen['state']} row from {chosen['run_dir']})")
    return kept.sort_values("_order").drop(columns=["_rank", "_order"])


def load_runs(run_dirs: Sequence[str | os.PathLike],
              notes: list[str] | None = None) -> pd.DataFrame:
    """Loads one or many run directories into one frame with derived columns.

    Args:
      run_dirs: run directories, each holding `rows/*.json` (or a `results.parquet`).
      notes: where to say what was left out: run directories without trials yet (when others
        have some), and rows of one trial found in several run directories of one storage
        (each trial is counted once).

    Returns:
      A DataFrame with exactly `REPORT_COLUMNS`: the results schema, then `DERIVED_COLUMNS`.

    Raises:
      ReportError: a directory is missing or not a run directory, or no directory has a
        trial recorded yet.
    """
    notes = [] if notes is None else notes
    frames, empty = [], []
    for path in _check_run_dirs(run_dirs):
        try:
            df = results.load_table(path)
        except ConfigError as e:
            raise ReportError(str(e)) from None
        if df.empty:
            empty.append(str(path))
            continue
        frames.append(df.assign(_storage=_storage_of(path)))
    if not frames:
        raise ReportError(f"no trials recorded yet in {', '.join(map(repr, empty))}")
    notes.extend(f"no trials recorded yet in {d!r}; left out" for d in empty)
    df = _one_row_per_trial(pd.concat(frames, ignore_index=True), notes)
    return add_derived(df.drop(columns=["_storage"]).reset_index(drop=True))


def _is_gpu(device: pd.Series) -> pd.Series:
    dev = device.astype("string").str.strip().str.lower()
    known = dev.notna() & (dev != "")
    return (known & ~dev.str.contains("cpu", regex=False).fillna(False)).astype("boolean")


def _parse_time(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values.astype("object"), utc=True, errors="coerce", format="ISO8601")


def _study_labels(df: pd.DataFrame) -> pd.Series:
    study = df["study"].fillna("<none>").astype(str)
    run = df["run_dir"].fillna("").astype(str).map(lambda d: Path(d).name or d)
    runs_per_study = df.assign(_s=study).groupby("_s")["run_dir"].nunique(dropna=False)
    ambiguous = study.map(runs_per_study).fillna(1) > 1
    return pd.Series(np.where(ambiguous, run + "/" + study, study), index=df.index,
                     dtype="string")


def _clean(values: pd.Series) -> pd.Series:
    """Strings with surrounding blanks removed; blank cells become NA."""
    out = values.astype("string").str.strip()
    return out.mask(out == "")


def _data_labels(df: pd.DataFrame) -> pd.Series:
    """One readable label per data set, so trials are only compared on the same data.

    The fingerprint identifies the data (a moved image folder keeps it; a different
    --limit-train changes it); the name is what a person recognises. Rows without a
    fingerprint are keyed by their name alone.
    """
    name, fp = _clean(df["dataset"]), _clean(df["data_fingerprint"])
    key = fp.fillna("name:" + name)
    names = {k: sorted(set(g.dropna())) for k, g in name.groupby(key)}
    keys_per_name = pd.Series([n for ns in names.values() for n in ns]).value_counts()
    label = {}
    for k, ns in names.items():
        short = k[:_FINGERPRINT_CHARS]
        text = " / ".join(ns) or f"data {short}"
        # One name over different fingerprints is different data: say which is which.
        if not k.startswith("name:") and any(keys_per_name[n] > 1 for n in ns):
            text += f" [{short}]"
        label[k] = text
    return pd.Series([UNKNOWN_DATA if pd.isna(k) else label[k] for k in key], index=df.index,
                     dtype="string")


def accuracy_se(accuracy: pd.Series, n: pd.Series) -> pd.Series:
    """The binomial standard error sqrt(p (1 - p) / n) of accuracies measured on n images
    (NaN where either is missing or n < 1)."""
    p = accuracy.astype("float64")
    count = pd.to_numeric(n, errors="coerce").astype("float64")
    count = count.where(count >= 1)
    return np.sqrt(p * (1.0 - p) / count)


def _chance(arch: object) -> float:
    if not isinstance(arch, str):
        return float("nan")
    try:
        classes = json.loads(arch).get("num_classes")
    except (ValueError, AttributeError):
        return float("nan")
    return 1.0 / classes if isinstance(classes, int) and classes > 0 else float("nan")


def add_derived(df: pd.DataFrame) -> pd.DataFrame:
    """Returns a copy of a results-schema frame with `DERIVED_COLUMNS` appended.

    Args:
      df: a frame with the `results.COLUMNS` (as `results.to_frame`/`load_tables` build).

    Returns:
      The frame with columns `REPORT_COLUMNS`.
    """
    missing = [c for c in results.COLUMNS if c not in df]
    if missing:
        raise ReportError(f"expected a results table with columns {results.COLUMNS}, "
                          f"found one missing {missing}")
    out = df[results.COLUMNS].copy()
    out["error"] = 1.0 - out["best_val_accuracy"].astype("float64")
    out["val_accuracy_se"] = accuracy_se(out["best_val_accuracy"], out["val_images"])
    out["chance"] = [_chance(a) for a in out["arch"]]
    out["is_gpu"] = _is_gpu(out["device"])
    out["train_hours"] = out["train_seconds"].astype("float64").fillna(0.0) / 3600.0
    out["gpu_hours"] = out["train_hours"].where(out["is_gpu"].fillna(False).astype(bool), 0.0)
    out["started_ts"] = _parse_time(out["started_at"])
    out["finished_ts"] = _parse_time(out["finished_at"])
    out["study_label"] = _study_labels(out)
    out["dataset_label"] = _data_labels(out)
    return out[REPORT_COLUMNS]


def parse_curve(value: object) -> list[float]:
    """Parses a JSON accuracy/loss curve cell into a list of floats ([] when missing/bad).

    Args:
      value: the cell, a JSON list string (or already a list, or NA).

    Returns:
      The curve; null entries become NaN.
    """
    if isinstance(value, (list, tuple)):
        items: Iterable = value
    else:
        if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
            return []
        try:
            items = json.loads(str(value))
        except (TypeError, ValueError):
            return []
        if not isinstance(items, list):
            return []
    return [float("nan") if v is None else float(v) for v in items]


def complete(df: pd.DataFrame) -> pd.DataFrame:
    """Rows whose state is 'complete' (duplicates, pruned and failed trials excluded)."""
    return df[df["state"].fillna("") == "complete"]
