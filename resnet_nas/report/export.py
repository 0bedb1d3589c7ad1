"""Terminal/Markdown rendering of a report and CSV/Parquet export of its tables."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from resnet_nas.report.build import Report
from resnet_nas.report.formatting import render_table


def render_report(report: Report, fmt: str = "text") -> str:
    """Every terminal section as text ('text') or Markdown ('markdown')."""
    out = []
    for note in report.notes:
        out.append(f"> **Note:** {note}" if fmt == "markdown" else f"note: {note}")
    for s in report.sections:
        if not s.terminal:
            continue
        if fmt == "markdown":
            out.append(f"## {s.title}")
            if s.description:
                out.append(f"_{s.description}_")
        else:
            out.append(f"{s.title}\n{'=' * len(s.title)}")
            if s.description:
                out.append(f"({s.description})")
        out.append(render_table(s.shown(), fmt))
    return "\n\n".join(out) + "\n"


def _parquet_safe(df: pd.DataFrame) -> pd.DataFrame:
    # Object columns mixing NA and numbers/strings confuse pyarrow's type inference.
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object:
            inferred = pd.api.types.infer_dtype(out[c], skipna=True)
            if inferred in ("integer", "mixed-integer-float", "floating"):
                out[c] = pd.to_numeric(out[c], errors="coerce")
            else:
                out[c] = out[c].astype("string")
    return out


def export_tables(report: Report, out_dir: str | os.PathLike) -> list[Path]:
    """Writes the combined table (`results.csv`/`.parquet`, with derived columns) and every
    section (`<key>.csv`/`.parquet`) into `out_dir`.

    Returns:
      The written paths.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    tables = [("results", report.frame)] + [(s.key, s.table) for s in report.sections]
    for key, table in tables:
        table.to_csv(out / f"{key}.csv", index=False)
        _parquet_safe(table).to_parquet(out / f"{key}.parquet", index=False)
        written += [out / f"{key}.csv", out / f"{key}.parquet"]
    return written
