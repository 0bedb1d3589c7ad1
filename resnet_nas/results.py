"""The results table: one row per finished trial.

Rows are JSON files, one per trial, under `RUN_DIR/rows/`, created atomically and never
rewritten: a later process cannot change a finished trial's row (`write_record` refuses). The
tables `results.csv` and `results.parquet` are views derived from the rows (`write_tables`, at
the end of a search); `load_table` always answers from the rows, so a table is never stale.

Parsing 10,000 row files costs a second, so `write_tables` also records which row files the
Parquet table holds (`.results.index.json`: name, size, modification time and CRC-32 of each,
and a digest of the Parquet file); `load_table` takes those rows from the Parquet file and
parses only the row files it does not hold or whose bytes changed. A Parquet file or row
changed in place (even one flipped bit, its size and mtime kept) fails its digest and is read
again from the rows.

The schema (`COLUMNS`) is stable and documented in docs/results_table.md; reports rely on it.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from resnet_nas.errors import SearchError
from resnet_nas.fileio import (open_lock_file, read_json_object, write_atomic,
                               write_new)
from resnet_nas.records import STATES, TrialRecord
from resnet_nas.validation import SAFE_NAME, ConfigError

if TYPE_CHECKING:
    import pandas as pd

#: Column name -> (pandas dtype, meaning).
SCHEMA: dict[str, tuple[str, str]] = {
    "study": ("string", "Optuna study name (or Keras Tuner project name)"),
    "space": ("string", "search-space name"),
    "space_hash": ("string", "hash of the normalised search-space file"),
    "trial": ("Int64", "trial number within the study"),
    "engine": ("string", "'optuna' or 'keras-tuner'"),
    "sampler": ("string", "sampler/tuner name, e.g. 'tpe', 'random', 'hyperband'"),
    "pruner": ("string", "pruner name, or 'none'"),
    "arch_key": ("string", "canonical architecture key (hash of the normalised Block list)"),
    "arch": ("string", "architecture as JSON text (Architecture.to_dict; "
             "Architecture.from_dict(json.loads(cell)) rebuilds it)"),
    "blocks": ("string", "Block list as JSON text: [[[depth, depth_bottleneck, stride], ...], "
               "...], one list of units per stage"),
    "unit": ("string", "unit kind, e.g. 'v1_basic'"),
    "params": ("Int64", "all weights incl. BN moving statistics (model.count_params())"),
    "trainable_params": ("Int64", "trainable weights"),
    "flops": ("Int64", "multiply-accumulates of one forward pass of one example"),
    "epochs_planned": ("Int64", "epochs the trial was configured for"),
    "epochs_run": ("Int64", "epochs actually trained (fewer if pruned/failed)"),
    "val_accuracy_curve": ("list[float64]", "validation accuracy after each epoch (a list of "
                           "floats; JSON text in results.csv)"),
    "val_loss_curve": ("list[float64]", "validation loss after each epoch (a list of floats; "
                       "JSON text in results.csv)"),
    "best_val_accuracy": ("float64", "max of val_accuracy_curve"),
    "final_val_accuracy": ("float64", "last of val_accuracy_curve"),
    "final_val_loss": ("float64", "last of val_loss_curve"),
    "val_images": ("Int64", "validation images its accuracies were measured on (their binomial "
                   "standard error is sqrt(p (1 - p) / val_images))"),
    "test_accuracy": ("float64", "test-split accuracy (only for final evaluations)"),
    "train_seconds": ("float64", "wall-clock seconds of the whole training, the same for every "
                      "trainer: compile + training steps + validation (model built)"),
    "compile_seconds": ("float64", "the part of train_seconds (of ahead_seconds, for a trial set "
                        "up ahead) spent tracing/compiling the train and eval functions; empty "
                        "where a one-step epoch cannot show it"),
    "eval_seconds": ("float64", "the part of train_seconds spent on validation"),
    "wall_seconds": ("float64", "the whole trial as the search saw it: trial-process start-up, "
                     "data, model building, then train_seconds"),
    "ahead_seconds": ("float64", "seconds its trial process set the trial up ahead, while the "
                      "previous trial trained (model build, then the trace and first run of its "
                      "step and evaluation): part of neither wall_seconds nor train_seconds; "
                      "empty for a trial set up in its turn"),
    "images_per_second": ("float64", "training throughput after compilation"),
    "state": ("string", "complete (ran all its epochs) | pruned (a pruner stopped it early) | "
              "failed | duplicate (an architecture trained already; its result reused)"),
    "reason": ("string", "why a trial was pruned/failed/duplicate; empty when complete"),
    "duplicate_of": ("Int64", "trial whose result was reused (state == duplicate)"),
    "rejections": ("Int64", "infeasible samples rejected before this trial was accepted"),
    "seed": ("Int64", "training seed"),
    "backend": ("string", "Keras backend"),
    "trainer": ("string", "'tf', 'jax' or 'fit'"),
    "device": ("string", "device description, e.g. 'cpu' or 'NVIDIA H100 80GB HBM3'"),
    "versions": ("string", "JSON text: {library: version} of the process that ran it"),
    "started_at": ("datetime64[ns, UTC]", "when the trial started (UTC; ISO-8601 in "
                   "results.csv)"),
    "finished_at": ("datetime64[ns, UTC]", "when the trial finished (UTC; ISO-8601 in "
                    "results.csv)"),
    "worker": ("string", "host:pid of the process that ran the trial"),
    "dataset": ("string", "the data set's readable name, e.g. 'digits' or 'cifar10-jpeg.tar.gz'"),
    "data_fingerprint": ("string", "hash of the data set's shapes, classes and labels per split"),
    "skipped_images": ("Int64", "unreadable images its data splits left out (corrupt or "
                       "truncated files, skipped with a warning naming them)"),
    "normalization": ("string", "JSON {mean, std} per channel: the input normalisation of its "
                      "model, whose first layer it is (a saved model takes raw pixels)"),
    "enqueued": ("string", "the known architecture or config file (its name) the trial was "
                 "enqueued from (search --enqueue), else null"),
    "run_dir": ("string", "run directory the row was loaded from (added by load_table; not "
                "stored in results.csv/.parquet, since a run directory can move)"),
}
COLUMNS: list[str] = list(SCHEMA)
ROWS_DIR = "rows"
#: Which row files results.parquet holds (see the module docstring).
INDEX_FILE = ".results.index.json"
INDEX_VERSION = 3  # 2: typed curves and times; 3: content digests

__all__ = ["COLUMNS", "INDEX_FILE", "ROWS_DIR", "SCHEMA", "STATES", "RowExistsError",
           "RowsLostError", "lost_rows",
           "curve", "import_table_modules", "load_table", "load_tables", "read_csv", "read_rows",
           "row_files", "row_path", "to_frame", "write_record", "write_tables"]


class RowExistsError(RuntimeError):
    """A row for this trial exists already: finished rows are never rewritten."""


def row_path(run_dir: str | os.PathLike, study: str, trial: int) -> Path:
    """The row file of `trial` of `study`: always a plain name inside `run_dir`/rows.

    Raises:
      ValueError: a study name that is not a SAFE_NAME (it could leave the directory).
    """
    if not isinstance(study, str) or not SAFE_NAME.fullmatch(study):
        raise ValueError(f"study name {study!r} cannot name a row file (letters, digits, '.', "
                         "'_' and '-' only)")
    return Path(run_dir) / ROWS_DIR / f"{study}--{int(trial):06d}.json"


def write_record(run_dir: str | os.PathLike, record: TrialRecord) -> Path:
    """Writes the one row of `record.trial` (atomically; never over an existing row).

    Raises:
      RowExistsError: the trial has a row already.
    """
    row = record.to_row()
    path = row_path(run_dir, row["study"], row["trial"])
    if path.parent.is_symlink():
        raise SearchError(f"{path.parent} is a symbolic link (to {os.readlink(path.parent)}): "
                          "a run directory's rows must be its own; replace it with the folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    if not write_new(path, json.dumps(row, indent=1, sort_keys=True)):
        raise RowExistsError(f"{path} exists: trial {row['trial']} of study {row['study']!r} "
                             "has a row already (finished rows are never rewritten)")
    return path


def read_rows(run_dir: str | os.PathLike, study: str | None = None,
              names: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """The rows of a run directory (of one study, or all; or the row files `names`), as JSON
    objects.

    Raises:
      ConfigError: a row file that is not a valid row (naming the file).
    """
    folder = Path(run_dir) / ROWS_DIR
    if names is not None:
        paths = [folder / n for n in sorted(names)]
    else:
        paths = sorted(folder.glob(f"{study}--*.json" if study else "*.json"))
    rows = []
    for p in paths:
        row = read_json_object(p, "a results row")
        for key in ("study", "trial", "state"):
            if key not in row:
                raise ConfigError(str(p), key, "a results row with this column", None)
        if row["state"] not in STATES:
            raise ConfigError(str(p), "state", f"one of {list(STATES)}", row["state"])
        if isinstance(row["trial"], bool) or not isinstance(row["trial"], int):
            raise ConfigError(str(p), "trial", "an integer", row["trial"])
        if not isinstance(row["study"], str) or not SAFE_NAME.fullmatch(row["study"]):
            raise ConfigError(str(p), "study", "a study name (letters, digits, '.', '_', '-')",
                              row["study"])
        own = row_path("", row["study"], row["trial"]).name
        if p.name != own:  # a row copied or renamed: which trial is it?
            raise ConfigError(str(p), "trial", f"the study and trial its file name says "
                              f"(a row of trial {row['trial']} of study {row['study']!r} is "
                              f"named {own})", row["trial"])
        _check_accuracies(row, str(p))
        rows.append(row)
    return rows


#: Columns that hold an accuracy: a fraction in [0, 1] (a missing one is null).
ACCURACY_COLUMNS = ("best_val_accuracy", "final_val_accuracy", "test_accuracy")


def _check_accuracies(row: Mapping[str, Any], source: str) -> None:
    def bad(v: Any) -> bool:
        if v is None:
            return False
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return True
        return v == v and not 0.0 <= v <= 1.0  # NaN: a diverged epoch's

    for key in ACCURACY_COLUMNS:
        if bad(row.get(key)):
            raise ConfigError(source, key, "an accuracy between 0 and 1 (or null)", row.get(key))
    raw = row.get("val_accuracy_curve")
    values = json.loads(raw) if isinstance(raw, str) else raw
    if values is not None and (not isinstance(values, list) or any(bad(v) for v in values)):
        raise ConfigError(source, "val_accuracy_curve", "a list of accuracies between 0 and 1",
                          raw)


def curve(value: Any) -> list[float]:
    """A curve cell as a list of floats: from a row's JSON text, a list, or Parquet's array
    (missing: [])."""
    if value is None or (isinstance(value, float) and value != value):
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    try:
        return [float("nan") if v is None else float(v) for v in value]
    except TypeError:
        return []


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    """`df` (the schema's columns) with the schema's dtypes."""
    import pandas as pd

    for c, (dtype, _) in SCHEMA.items():
        if c not in df:
            continue
        if dtype == "float64":
            df[c] = pd.to_numeric(df[c], errors="coerce").astype("float64")
        elif dtype == "Int64":
            df[c] = pd.to_numeric(df[c], errors="coerce").astype("Int64")
        elif dtype == "list[float64]":
            df[c] = pd.Series([curve(v) for v in df[c]], index=df.index, dtype=object)
        elif dtype.startswith("datetime64"):
            df[c] = pd.to_datetime(df[c], utc=True, errors="coerce",
                                   format="ISO8601").astype(dtype)
        else:
            df[c] = df[c].astype("string")
    return df


def to_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Builds a DataFrame with exactly the schema's columns and dtypes."""
    import pandas as pd

    df = pd.DataFrame(list(rows))
    for c in COLUMNS:
        if c not in df:
            df[c] = None
    df = _typed(df[COLUMNS].copy())
    return df.sort_values(["study", "trial"], kind="stable").reset_index(drop=True)


def read_csv(path: str | os.PathLike) -> pd.DataFrame:
    """results.csv with the schema's dtypes, as results.parquet and load_table give them
    (curves as lists of floats, times as UTC timestamps, integers as Int64; empty text cells
    as missing)."""
    import pandas as pd

    df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    for c in COLUMNS:
        if c not in df and c != "run_dir":
            df[c] = None
    df["reason"] = df["reason"].fillna("")  # a row's reason is text, empty when complete
    return _typed(df[[c for c in COLUMNS if c != "run_dir"]].copy())


def csv_text(df: pd.DataFrame) -> str:
    """`df` as results.csv: curves as JSON text, times as ISO-8601."""
    import pandas as pd

    out = df.copy()
    for c, (dtype, _) in SCHEMA.items():
        if c in out and dtype == "list[float64]":
            out[c] = [json.dumps([None if v != v else v for v in cell]) for cell in out[c]]
        elif c in out and dtype.startswith("datetime64"):
            out[c] = [None if pd.isna(v) else v.isoformat() for v in out[c]]
    return out.to_csv(index=False)


def row_files(run_dir: str | os.PathLike) -> dict[str, tuple[int, int]]:
    """The run directory's row files: name -> (size, modification time in ns)."""
    try:
        entries = list(os.scandir(Path(run_dir) / ROWS_DIR))
    except FileNotFoundError:
        return {}
    out = {}
    for e in entries:
        if e.name.endswith(".json") and not e.name.startswith(".") and e.is_file():
            st = e.stat()
            out[e.name] = (st.st_size, st.st_mtime_ns)
    return out


def _stat(path: Path) -> list[int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return [st.st_size, st.st_mtime_ns]


def _cached_rows(run_dir: Path, files: Mapping[str, tuple[int, int]]
                 ) -> tuple[pd.DataFrame | None, set[str]]:
    """(the rows results.parquet holds whose files are unchanged, their file names), or
    (None, set()) when the index is missing, of another version, or not this Parquet file's."""
    import pandas as pd

    parquet = run_dir / "results.parquet"
    try:
        index = json.loads((run_dir / INDEX_FILE).read_text())
        if index.get("version") != INDEX_VERSION or index["parquet"][:2] != _stat(parquet):
            return None, set()
        data = parquet.read_bytes()
        if _digest(data) != index["parquet"][2]:
            return None, set()  # changed in place (a flipped bit keeps size and mtime)
        indexed = {name: tuple(v) for name, v in index["files"].items()}
        df = pd.read_parquet(io.BytesIO(data))
        if list(df.columns) != [c for c in COLUMNS if c != "run_dir"] or len(df) != len(indexed):
            return None, set()
        df = _typed(df)  # Parquet's arrays back to lists
        names = [row_path("", s, t).name for s, t in zip(df["study"], df["trial"])]
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError):
        return None, set()  # no usable cache: every row file is read
    keep = [(n in indexed and files.get(n) == indexed[n][:2]
             and _row_crc(run_dir, n) == indexed[n][2]) for n in names]
    return df[keep], {n for n, k in zip(names, keep) if k}


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _row_crc(run_dir: Path, name: str) -> int | None:
    """The CRC-32 of a row file's bytes: reading them costs a tenth of parsing them, and a
    row changed in place (its size and mtime kept) is then read again, not taken from the
    cache."""
    try:
        return zlib.crc32((run_dir / ROWS_DIR / name).read_bytes())
    except OSError:
        return None


def _read_table(run_dir: Path, files: Mapping[str, tuple[int, int]]) -> pd.DataFrame:
    import pandas as pd

    cached, names = _cached_rows(run_dir, files)
    fresh = to_frame(read_rows(run_dir, names=[n for n in files if n not in names]))
    if cached is None or cached.empty:
        return fresh
    cached = cached.assign(run_dir=pd.Series(pd.NA, index=cached.index, dtype="string"))
    both = pd.concat([cached, fresh], ignore_index=True) if len(fresh) else cached
    return both.sort_values(["study", "trial"], kind="stable").reset_index(drop=True)


def load_table(run_dir: str | os.PathLike) -> pd.DataFrame:
    """Loads one run directory's results (from its per-trial rows) as a DataFrame.

    Raises:
      FileNotFoundError: no such directory.
      ConfigError: a corrupted row (naming its file).
    """
    import pandas as pd

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run directory {str(run_dir)!r} does not exist")
    files = row_files(run_dir)
    if files:
        df = _read_table(run_dir, files)
    elif (run_dir / "results.parquet").exists():  # a table without its rows (an export)
        df = to_frame(pd.read_parquet(run_dir / "results.parquet").to_dict("records"))
    else:
        df = to_frame([])
    df["run_dir"] = str(run_dir)
    df["run_dir"] = df["run_dir"].astype("string")
    return df


def load_tables(run_dirs: Iterable[str | os.PathLike]) -> pd.DataFrame:
    """Concatenates the results of many run directories into one table."""
    import pandas as pd

    frames = [load_table(d) for d in run_dirs]
    if not frames:
        return to_frame([])
    return pd.concat(frames, ignore_index=True)


def import_table_modules() -> None:
    """Imports what writing the tables needs (pandas, Parquet's pyarrow; figures:
    experiments/RESULTS.md), ahead of the end of a search that would otherwise wait for it; a
    search does so in the background while its first trial process imports its backend."""
    import pandas  # noqa: F401

    try:
        import pyarrow.parquet  # noqa: F401
    except ImportError:  # to_parquet says what is missing, where it is needed
        pass


class RowsLostError(RuntimeError):
    """The tables hold finished trials whose rows are gone: rewriting them from the rows would
    lose those trials."""


def lost_rows(run_dir: str | os.PathLike,
              files: Mapping[str, Any] | None = None) -> list[tuple[str, int]]:
    """(study, trial) of the trials results.parquet holds that have no row file (none when
    there is no readable Parquet table)."""
    import pandas as pd

    run_dir = Path(run_dir)
    parquet = run_dir / "results.parquet"
    if not parquet.is_file():
        return []
    try:
        held = pd.read_parquet(parquet, columns=["study", "trial"])
    except Exception:  # noqa: BLE001 - an unreadable table holds nothing to lose
        return []
    files = row_files(run_dir) if files is None else files
    return [(str(s), int(t)) for s, t in zip(held["study"], held["trial"])
            if row_path("", s, t).name not in files]


def write_tables(run_dir: str | os.PathLike) -> pd.DataFrame:
    """Rebuilds results.csv and results.parquet from the per-trial rows (under a file lock).

    Raises:
      RowsLostError: results.parquet holds trials whose rows are gone (a table is never
        rewritten with fewer finished trials than it had).
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    with os.fdopen(open_lock_file(run_dir / ".results.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        files = row_files(run_dir)
        lost = lost_rows(run_dir, files)
        if lost:
            shown = ", ".join(f"{s} trial {t}" for s, t in lost[:5])
            raise RowsLostError(
                f"{run_dir / 'results.parquet'} holds {len(lost)} finished trial(s) whose rows "
                f"are gone from {run_dir / ROWS_DIR} ({shown}{' ...' if len(lost) > 5 else ''})"
                ": the tables are not rewritten without them; restore the rows (a --resume "
                "restores them from the study's storage where it has them)")
        df = _read_table(run_dir, files)
        stored = df.drop(columns=["run_dir"])
        write_atomic(run_dir / "results.csv", csv_text(stored))
        (run_dir / INDEX_FILE).unlink(missing_ok=True)  # never an index of another Parquet
        buffer = io.BytesIO()
        stored.to_parquet(buffer, index=False)
        data = buffer.getvalue()
        write_atomic(run_dir / "results.parquet", data)
        held = {row_path("", s, t).name for s, t in zip(stored["study"], stored["trial"])}
        write_atomic(run_dir / INDEX_FILE, json.dumps({
            "version": INDEX_VERSION,
            "parquet": [*_stat(run_dir / "results.parquet"), _digest(data)],
            "files": {n: [*v, _row_crc(run_dir, n)] for n, v in files.items() if n in held}}))
    df["run_dir"] = str(run_dir)
    df["run_dir"] = df["run_dir"].astype("string")
    return df
