"""What replays say, per sampler/pruner combo: anytime regret against compute, the compute to
reach the table's top 1% / 5%, and the test accuracy of the final pick.

Pure Python (NumPy/pandas). Intervals are 95% normal intervals of the mean over repeats
(mean +- 1.96 standard errors). A repeat that never reaches a top set is not averaged into
its compute: the fraction of repeats that reached it is reported beside the mean, and the
mean with unreached repeats counted at their whole compute (a lower bound) next to it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from resnet_nas.benchmark.replay import Combo, Step, StudyReplay
from resnet_nas.benchmark.table import ScoredEntries

TOP_FRACTIONS = (0.01, 0.05)


def mean_interval(values: Sequence[float]) -> tuple[float, float, float]:
    """(mean, low, high): the mean and its 95% normal interval (NaN when empty)."""
    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if len(x) == 0:
        return math.nan, math.nan, math.nan
    m = float(x.mean())
    half = 1.96 * float(x.std(ddof=1)) / math.sqrt(len(x)) if len(x) > 1 else 0.0
    return m, m - half, m + half


def regret_at(steps: Sequence[Step], compute: float, start: float) -> float:
    """The regret of a study once `compute` epochs are spent (`start` before its first trial;
    a study that ended earlier keeps its last regret)."""
    value = start
    for s in steps:
        if s.compute_epochs > compute:
            break
        value = s.regret
    return value


def compute_to_reach(steps: Sequence[Step], keys: frozenset[str]) -> float | None:
    """Epochs spent when the study's pick first lies in `keys` (None: never)."""
    for s in steps:
        if s.best_key in keys:
            return float(s.compute_epochs)
    return None


@dataclass(frozen=True)
class CurvePoint:
    """Mean regret of a combo's repeats at one compute checkpoint (epochs)."""

    combo: str
    compute_epochs: float
    regret_mean: float
    regret_low: float
    regret_high: float


@dataclass(frozen=True)
class ComboSummary:
    """One combo over its repeats (see the module docstring for the intervals).

    Attributes:
      combo: 'sampler+pruner'.
      repeats: studies replayed.
      trials / compute_epochs / compute_seconds: mean per study.
      final_regret(_low/_high): regret at the end of the studies.
      reach1 / reach5: fraction of repeats whose pick reached the top 1% / 5%.
      epochs_to_top1 / epochs_to_top5: mean compute to reach it, over the repeats that did.
      epochs_to_top1_all / epochs_to_top5_all: the same with unreached repeats counted at their
        whole compute (a lower bound on the true mean).
      pick_test_accuracy(_low/_high): test accuracy of the final pick.
      pruned: mean share of trials pruned.
      missing / duplicates: mean per study (see StudyReplay).
    """

    combo: str
    sampler: str
    pruner: str
    repeats: int
    trials: float
    compute_epochs: float
    compute_seconds: float
    final_regret: float
    final_regret_low: float
    final_regret_high: float
    reach1: float
    epochs_to_top1: float
    epochs_to_top1_all: float
    reach5: float
    epochs_to_top5: float
    epochs_to_top5_all: float
    pick_test_accuracy: float
    pick_test_accuracy_low: float
    pick_test_accuracy_high: float
    pruned: float
    missing: float
    duplicates: float


def _reach(replays: Sequence[StudyReplay], keys: frozenset[str]) -> tuple[float, float, float]:
    hit = [compute_to_reach(r.steps, keys) for r in replays]
    reached = [h for h in hit if h is not None]
    total = [h if h is not None else float(r.steps[-1].compute_epochs if r.steps else 0)
             for h, r in zip(hit, replays)]
    return (len(reached) / len(replays), mean_interval(reached)[0], mean_interval(total)[0])


def summarize(table: ScoredEntries, replays: Sequence[StudyReplay]) -> list[ComboSummary]:
    """One ComboSummary per combo, in the order the combos first appear."""
    top1, top5 = (table.top_keys(f) for f in TOP_FRACTIONS)
    start = table.best_score - table.worst_score
    out = []
    for combo in dict.fromkeys(r.combo for r in replays):
        mine = [r for r in replays if r.combo == combo]
        last = [r.steps[-1] if r.steps else None for r in mine]
        final = mean_interval([s.regret if s else start for s in last])
        test = mean_interval([s.pick_test_accuracy for s in last if s is not None
                              and s.pick_test_accuracy is not None])
        r1, e1, a1 = _reach(mine, top1)
        r5, e5, a5 = _reach(mine, top5)
        out.append(ComboSummary(
            combo=combo.label, sampler=combo.sampler_label, pruner=combo.pruner, repeats=len(mine),
            trials=float(np.mean([len(r.steps) for r in mine])),
            compute_epochs=float(np.mean([s.compute_epochs if s else 0 for s in last])),
            compute_seconds=float(np.mean([s.compute_seconds if s else 0 for s in last])),
            final_regret=final[0], final_regret_low=final[1], final_regret_high=final[2],
            reach1=r1, epochs_to_top1=e1, epochs_to_top1_all=a1,
            reach5=r5, epochs_to_top5=e5, epochs_to_top5_all=a5,
            pick_test_accuracy=test[0], pick_test_accuracy_low=test[1],
            pick_test_accuracy_high=test[2],
            pruned=float(np.mean([np.mean([s.pruned for s in r.steps]) if r.steps else 0
                                  for r in mine])),
            missing=float(np.mean([r.missing for r in mine])),
            duplicates=float(np.mean([r.duplicates for r in mine]))))
    return out


def regret_curves(table: ScoredEntries, replays: Sequence[StudyReplay],
                  points: int = 40) -> list[CurvePoint]:
    """Mean regret (95% interval) of each combo at `points` evenly spaced compute checkpoints,
    from 0 to the largest compute any replay spent."""
    start = table.best_score - table.worst_score
    most = max((r.steps[-1].compute_epochs for r in replays if r.steps), default=0)
    grid = np.linspace(0, most, points) if most else np.zeros(1)
    out = []
    for combo in dict.fromkeys(r.combo for r in replays):
        mine = [r for r in replays if r.combo == combo]
        for c in grid:
            m, lo, hi = mean_interval([regret_at(r.steps, float(c), start) for r in mine])
            out.append(CurvePoint(combo.label, float(c), m, lo, hi))
    return out


def summary_frame(summaries: Sequence[ComboSummary]) -> pd.DataFrame:
    return pd.DataFrame([asdict(s) for s in summaries])


def curves_frame(points: Sequence[CurvePoint]) -> pd.DataFrame:
    return pd.DataFrame([asdict(p) for p in points])


def _num(value: float, fmt: str = ".4f") -> str:
    return "-" if value is None or not math.isfinite(value) else format(value, fmt)


def summary_markdown(summaries: Sequence[ComboSummary]) -> str:
    """The summary as a markdown table (the terminal summary prints the same)."""
    head = ("| combo | trials | epochs | final regret (95% CI) | top-1% reached | epochs to "
            "top-1% (reached / all) | top-5% reached | epochs to top-5% (reached / all) | "
            "pick test acc | pruned |")
    lines = [head, "|" + "---|" * 10]
    for s in summaries:
        lines.append(
            f"| {s.combo} | {s.trials:.0f} | {s.compute_epochs:.0f} | {_num(s.final_regret)} "
            f"({_num(s.final_regret_low)}-{_num(s.final_regret_high)}) | {s.reach1:.0%} | "
            f"{_num(s.epochs_to_top1, '.0f')} / {_num(s.epochs_to_top1_all, '.0f')} | "
            f"{s.reach5:.0%} | {_num(s.epochs_to_top5, '.0f')} / "
            f"{_num(s.epochs_to_top5_all, '.0f')} | {_num(s.pick_test_accuracy)} | "
            f"{s.pruned:.0%} |")
    return "\n".join(lines)
