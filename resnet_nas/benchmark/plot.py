"""The replay's HTML page: anytime-regret plots (one panel per sampler, one line per pruner,
95% band) and the summary table, in one self-contained file (the plot embedded as PNG)."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path

from resnet_nas.benchmark.summary import ComboSummary, CurvePoint, curves_frame, summary_frame
from resnet_nas.report.replays import regret_png


def write_html(path: Path, title: str, points: Sequence[CurvePoint],
               summaries: Sequence[ComboSummary]) -> Path:
    """Writes the replay page to `path`."""
    png = base64.b64encode(regret_png(curves_frame(points), summary_frame(summaries))).decode()
    table = summary_frame(summaries).to_html(index=False, float_format=lambda v: f"{v:.4f}")
    path.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;"
        "font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><h2>Anytime regret (mean, 95% interval)</h2>"
        f"<img alt='anytime regret' src='data:image/png;base64,{png}'>"
        f"<h2>Per sampler and pruner</h2>{table}</body></html>")
    return path
