"""Rank stability between fidelities, from a benchmark table: does the validation accuracy
after epoch k rank the architectures as the final one does?

Every architecture of a table ran the full budget, so each epoch k gives one ranking of the
same architectures: Spearman's rho and Kendall's tau-b (resnet_nas.report.fidelity) between
epoch k and the last epoch, plus how many of the final top-10 are in epoch k's top 10.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from resnet_nas.benchmark.table import BenchmarkTable
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


def rank_stability(table: BenchmarkTable) -> list[FidelityRank]:
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
