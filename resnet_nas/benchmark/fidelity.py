"""Rank stability between fidelities, from a benchmark table: does the validation accuracy
after epoch k rank the architectures as the final one does?

Every architecture of a table ran the full budget, so each epoch k gives one ranking of the
same architectures: Spearman's rho and Kendall's tau-b (resnet_nas.report.fidelity) between
epoch k and the last epoch, plus how many of the final top-10 are in epoch k's top 10.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from resnet_nas.benchmark.table import ScoredEntries
from resnet_nas.report.fidelity import rank_correlation


@dataclass(frozen=True)
class FidelityRank:
    """The ranking at `epoch` against the final one (NaN where undefined).

    Attributes:
      epoch: the short fidelity (1-based).
      final_epoch: the full budget.
      n: architectures compared.
      spearman / kendall: rank correlations with the final accuracy.
      top10_overlap: of the final top 10, how many epoch k's top 10 holds.
    """

    epoch: int
    final_epoch: int
    n: int
    spearman: float
    kendall: float
    top10_overlap: int


def rank_stability(table: ScoredEntries) -> list[FidelityRank]:
    """One FidelityRank per epoch before the last (architectures with the full curve only)."""
    final_epoch = table.epochs
    curves = np.array([e.curve for e in table.entries.values() if e.epochs == final_epoch])
    out = []
    final = curves[:, -1]
    best = set(np.argsort(-final, kind="stable")[:10])
    for k in range(1, final_epoch):
        short = curves[:, k - 1]
        c = rank_correlation(short, final)
        top = set(np.argsort(-short, kind="stable")[:10])
        out.append(FidelityRank(k, final_epoch, int(c["n"]), float(c["spearman"]),
                                float(c["kendall"]), len(best & top)))
    return out


@dataclass(frozen=True)
class SeedNoise:
    """How much an architecture's result depends on its training seed (tables of 2+ seeds).

    Attributes:
      seeds: seeds compared (pairs of seed runs, by position).
      n: architectures with that many seeds.
      spearman / kendall: rank correlation of the final accuracy between two seeds, the mean
        over the pairs: the ceiling of any ranking one training per architecture can give.
      final_std: the mean over architectures of the standard deviation of the final accuracy
        over their seeds.
    """

    seeds: int
    n: int
    spearman: float
    kendall: float
    final_std: float


def seed_noise(table: ScoredEntries) -> SeedNoise | None:
    """The SeedNoise of a table (None when no architecture has two seeds)."""
    seeds = max((len(e.runs) for e in table.entries.values()), default=0)
    if seeds < 2:
        return None
    finals = np.array([[r.curve[-1] for r in e.runs] for e in table.entries.values()
                       if len(e.runs) == seeds])
    pairs = [rank_correlation(finals[:, a], finals[:, b])
             for a in range(seeds) for b in range(a + 1, seeds)]
    return SeedNoise(seeds, len(finals), float(np.mean([p["spearman"] for p in pairs])),
                     float(np.mean([p["kendall"] for p in pairs])),
                     float(np.mean(finals.std(axis=1))))
