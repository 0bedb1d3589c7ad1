"""The replay's HTML page: anytime-regret plots (one panel per sampler, one line per pruner,
95% band) and the summary table, in one self-contained file (the plot embedded as PNG)."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from pathlib import Path

from resnet_nas.benchmark.summary import ComboSummary, CurvePoint, summary_frame


def regret_png(points: Sequence[CurvePoint], summaries: Sequence[ComboSummary]) -> bytes:
    """Mean regret against epochs spent, one panel per sampler."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    samplers = list(dict.fromkeys(s.sampler for s in summaries))
    pruner_of = {s.combo: (s.sampler, s.pruner) for s in summaries}
    pruners = list(dict.fromkeys(s.pruner for s in summaries))
    fig = Figure(figsize=(4.2 * len(samplers), 3.6), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(1, len(samplers), i + 1) for i in range(len(samplers))]
    colors = {p: f"C{i}" for i, p in enumerate(pruners)}
    for ax, sampler in zip(axes, samplers):
        for combo, (s, pruner) in pruner_of.items():
            if s != sampler:
                continue
            mine = [p for p in points if p.combo == combo]
            x = [p.compute_epochs for p in mine]
            ax.plot(x, [p.regret_mean for p in mine], color=colors[pruner], label=pruner)
            ax.fill_between(x, [p.regret_low for p in mine], [p.regret_high for p in mine],
                            color=colors[pruner], alpha=0.15, linewidth=0)
        ax.set_title(sampler)
        ax.set_xlabel("epochs spent")
        ax.set_ylabel("regret (validation accuracy)")
        ax.set_yscale("symlog", linthresh=1e-3)
        ax.grid(alpha=0.3)
    axes[0].legend(title="pruner", fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def write_html(path: Path, title: str, points: Sequence[CurvePoint],
               summaries: Sequence[ComboSummary]) -> Path:
    """Writes the replay page to `path`."""
    png = base64.b64encode(regret_png(points, summaries)).decode()
    table = summary_frame(summaries).to_html(index=False, float_format=lambda v: f"{v:.4f}")
    path.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;"
        "font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><h2>Anytime regret (mean, 95% interval)</h2>"
        f"<img alt='anytime regret' src='data:image/png;base64,{png}'>"
        f"<h2>Per sampler and pruner</h2>{table}</body></html>")
    return path
