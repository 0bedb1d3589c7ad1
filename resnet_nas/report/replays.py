"""Replays of a benchmark table (`benchmark replay`) kept beside the runs a report reads.

A benchmark directory is a run directory too (its rows are trial rows), and a replay writes its
results into it (or a folder of it): `report` on that directory then shows each replay's
summary per sampler and pruner and its anytime-regret figure, beside the table they came from.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

#: The files a replay writes (resnet_nas.benchmark.summary), both needed.
REPLAY_CSV, CURVES_CSV = "replay.csv", "curves.csv"
#: What a person reads of a replay's summary (replay.csv has every column).
SHOWN = ("sampler", "pruner", "repeats", "trials", "compute_epochs", "final_regret", "final_regret_low",
         "final_regret_high", "reach1", "epochs_to_top1", "reach5", "epochs_to_top5",
         "pick_test_accuracy", "pruned")


@dataclass(frozen=True)
class FoundReplay:
    """One replay's results, found under a run directory.

    Attributes:
      directory: where its files are.
      label: the directory as the report names it (relative to the run directory).
      summary: replay.csv (one row per sampler+pruner).
      curves: curves.csv (mean regret against epochs spent).
    """

    directory: Path
    label: str
    summary: pd.DataFrame
    curves: pd.DataFrame


def _candidates(run_dir: Path) -> list[Path]:
    subdirs = sorted(p for p in run_dir.iterdir() if p.is_dir()) if run_dir.is_dir() else []
    return [d for d in (run_dir, *subdirs) if (d / REPLAY_CSV).is_file()
            and (d / CURVES_CSV).is_file()]


def find_replays(run_dirs: Sequence[str | Path]) -> tuple[list[FoundReplay], list[str]]:
    """The replays in each run directory and its direct sub-folders.

    Returns:
      (replays, notes): a replay whose files cannot be read is left out with a note naming it.
    """
    found, notes = [], []
    for run_dir in map(Path, run_dirs):
        for d in _candidates(run_dir):
            label = run_dir.name if d == run_dir else f"{run_dir.name}/{d.name}"
            try:
                summary, curves = pd.read_csv(d / REPLAY_CSV), pd.read_csv(d / CURVES_CSV)
                missing = [c for c in SHOWN if c not in summary.columns]
                missing += [c for c in ("combo", "compute_epochs", "regret_mean")
                            if c not in curves.columns]
                if missing:
                    raise ValueError(f"no column {', '.join(missing)}")
            except (OSError, ValueError, pd.errors.ParserError) as e:
                notes.append(f"replay in {label} left out: {e}")
                continue
            found.append(FoundReplay(d, label, summary, curves))
    return found, notes


def replay_display(summary: pd.DataFrame) -> pd.DataFrame:
    return summary[list(SHOWN)]


def regret_png(curves: pd.DataFrame, summary: pd.DataFrame) -> bytes:
    """Mean regret (95% band) against epochs spent: one panel per sampler, one line per pruner.

    Args:
      curves: combo, compute_epochs, regret_mean, regret_low, regret_high (curves.csv).
      summary: combo, sampler, pruner (replay.csv).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    samplers = list(dict.fromkeys(summary["sampler"]))
    pruners = list(dict.fromkeys(summary["pruner"]))
    fig = Figure(figsize=(4.2 * len(samplers), 3.6), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(1, len(samplers), i + 1) for i in range(len(samplers))]
    colors = {p: f"C{i}" for i, p in enumerate(pruners)}
    for ax, sampler in zip(axes, samplers):
        for row in summary[summary["sampler"] == sampler].itertuples():
            mine = curves[curves["combo"] == row.combo].sort_values("compute_epochs")
            x = mine["compute_epochs"]
            ax.plot(x, mine["regret_mean"], color=colors[row.pruner], label=row.pruner)
            if {"regret_low", "regret_high"} <= set(mine.columns):
                ax.fill_between(x, mine["regret_low"], mine["regret_high"],
                                color=colors[row.pruner], alpha=0.15, linewidth=0)
        ax.set_title(sampler)
        ax.set_xlabel("epochs spent")
        ax.set_ylabel("regret (validation accuracy)")
        ax.set_yscale("symlog", linthresh=1e-3)
        ax.grid(alpha=0.3)
    axes[0].legend(title="pruner", fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
