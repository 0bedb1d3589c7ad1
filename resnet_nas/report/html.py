"""The self-contained static HTML report: inline CSS, figures as base64 PNG data URIs, no
external references, so the file opens offline and can be mailed or archived as is."""

from __future__ import annotations

import base64
import datetime as dt
import html
import os
from pathlib import Path

from resnet_nas.report.build import Report
from resnet_nas.report.formatting import to_html_table
from resnet_nas.report.frame import DERIVED_COLUMNS
from resnet_nas.report.plots import Figure, report_figures

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em;
       color: #222; background: #fff; max-width: 1400px; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { padding: 3px 8px; border-bottom: 1px solid #eee; text-align: left;
         white-space: nowrap; }
.scroll { overflow-x: auto; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr:hover { background: #fafafa; }
.desc { color: #555; font-size: 0.9em; } .note { color: #a15c00; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
code { background: #f4f4f4; padding: 0 3px; }
"""


def _img(fig: Figure) -> str:
    data = base64.b64encode(fig.png).decode("ascii")
    return (f"<figure><img alt='{html.escape(fig.title)}' "
            f"src=\"data:image/png;base64,{data}\"></figure>")


def render_html(report: Report, run_dirs: list[str] | None = None,
                figures: list[Figure] | None = None) -> str:
    """The whole report as one HTML document.

    Args:
      report: the built report.
      run_dirs: run directories to name in the header (default: those in the frame).
      figures: pre-rendered figures (default: `report_figures(report)`).

    Returns:
      HTML text.
    """
    figures = report_figures(report) if figures is None else figures
    by_after: dict[str, list[Figure]] = {}
    for f in figures:
        by_after.setdefault(f.section, []).append(f)
    runs = run_dirs or sorted(report.frame["run_dir"].dropna().unique())
    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = ["<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
             "<title>resnet_nas report</title>", f"<style>{CSS}</style></head><body>",
             "<h1>resnet_nas search report</h1>",
             f"<p class='desc'>{len(report.frame)} trials from "
             f"{html.escape(', '.join(map(str, runs)))}; generated {when}.</p>"]
    parts += [f"<p class='note'>Note: {html.escape(n)}</p>" for n in report.notes]
    for s in report.sections:
        if not s.terminal:
            continue
        parts.append(f"<h2>{html.escape(s.title)}</h2>")
        if s.description:
            parts.append(f"<p class='desc'>{html.escape(s.description)}</p>")
        parts.append(f"<div class='scroll'>{to_html_table(s.shown())}</div>")
        parts += [_img(f) for f in by_after.pop(s.key, [])]
    parts += [_img(f) for fs in by_after.values() for f in fs]
    derived = "".join(f"<li><code>{html.escape(k)}</code>: {html.escape(v[1])}</li>"
                      for k, v in DERIVED_COLUMNS.items())
    parts += ["<h2>About</h2>",
              "<p class='desc'>Columns are the results-table schema "
              "(<code>resnet_nas.results.SCHEMA</code>) plus these derived ones:</p>",
              f"<ul class='desc'>{derived}</ul>",
              "<p class='desc'>Optuna's own dashboard reads the same runs: "
              "<code>optuna-dashboard sqlite:///RUN_DIR/study.db</code>.</p>",
              "</body></html>"]
    return "\n".join(parts)


def write_html(report: Report, path: str | os.PathLike, run_dirs: list[str] | None = None
               ) -> Path:
    """Writes `render_html(report)` to `path` (parents created) and returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report, run_dirs), encoding="utf-8")
    return path
