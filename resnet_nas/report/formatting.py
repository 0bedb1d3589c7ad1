"""Rendering tables as terminal text, Markdown or HTML (no `tabulate` dependency)."""

from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd

from resnet_nas.report.choices import FORMATS

MISSING = "-"
# Accuracy-like quantities in [0, 1] read best with a fixed number of decimals.
_FIXED = ("accuracy", "error", "edf", "statistic", "spearman", "kendall")


def format_value(value: object, column: str = "") -> str:
    """One cell as display text: '-' for missing, thousands separators for integers from
    1,000, 4 decimals for accuracy-like columns, 4 significant digits for other floats."""
    if value is None or value is pd.NA or value is pd.NaT:
        return MISSING
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        # From 1,000 on, so a column of params reads '780', '2,740', '31,010' alike.
        return f"{int(value):,}" if abs(int(value)) >= 1_000 else str(int(value))
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return MISSING
        # 'best' and 'best@n' (anytime summary) are accuracies too.
        accuracy_like = any(k in column for k in _FIXED) or column.split("@")[0] == "best"
        if accuracy_like and not column.endswith("_p"):
            return f"{value:.4f}"
        return f"{value:.4g}"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def format_frame(df: pd.DataFrame) -> pd.DataFrame:
    """All cells of `df` as display strings (same columns, fresh index)."""
    return pd.DataFrame({c: [format_value(v, str(c)) for v in df[c].tolist()]
                         for c in df.columns}, columns=list(df.columns))


def _numeric(df: pd.DataFrame) -> list[bool]:
    return [pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])
            for c in df.columns]


def to_text(df: pd.DataFrame) -> str:
    """A plain-text table (numbers right-aligned)."""
    if df.empty:
        return "(no rows)"
    cells = format_frame(df)
    cols = [str(c) for c in df.columns]
    widths = [max([len(c)] + [len(v) for v in cells[c]]) for c in df.columns]
    right = _numeric(df)
    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if r else v.ljust(w)
                         for v, w, r in zip(values, widths, right)).rstrip()
    out = [line(cols), line(["-" * w for w in widths])]
    out += [line([cells[c].iloc[i] for c in df.columns]) for i in range(len(df))]
    return "\n".join(out)


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def to_markdown(df: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (numbers right-aligned)."""
    if df.empty:
        return "_(no rows)_"
    cells = format_frame(df)
    head = "| " + " | ".join(_md_cell(str(c)) for c in df.columns) + " |"
    rule = "|" + "|".join("---:" if r else ":---" for r in _numeric(df)) + "|"
    body = ["| " + " | ".join(_md_cell(cells[c].iloc[i]) for c in df.columns) + " |"
            for i in range(len(df))]
    return "\n".join([head, rule, *body])


def to_html_table(df: pd.DataFrame) -> str:
    """An HTML <table> with escaped cells (numbers get class 'num')."""
    if df.empty:
        return "<p class='empty'>(no rows)</p>"
    cells = format_frame(df)
    right = _numeric(df)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = []
    for i in range(len(df)):
        tds = "".join(f"<td class='num'>{html.escape(cells[c].iloc[i])}</td>" if r else
                      f"<td>{html.escape(cells[c].iloc[i])}</td>"
                      for c, r in zip(df.columns, right))
        body.append(f"<tr>{tds}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_table(df: pd.DataFrame, fmt: str) -> str:
    """`to_text` or `to_markdown` by name ('text' | 'markdown')."""
    if fmt == "text":
        return to_text(df)
    if fmt == "markdown":
        return to_markdown(df)
    raise ValueError(f"expected a table format in {FORMATS}, found {fmt!r}")
