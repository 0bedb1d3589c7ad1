from dataclasses import replace

import pytest

from resnet_nas.benchmark.fidelity import rank_stability
from resnet_nas.benchmark.table import Entry
from tests.benchmark.spaces import EPOCHS, synthetic_table, tiny_space


def test_curves_that_keep_their_order_rank_perfectly(tmp_path):
    ranks = rank_stability(synthetic_table(tiny_space(tmp_path)[0]))
    assert [r.epoch for r in ranks] == list(range(1, EPOCHS))
    assert all(r.spearman == pytest.approx(1.0) and r.kendall == pytest.approx(1.0)
               for r in ranks)
    assert all(r.n == 12 and r.top10_overlap == 10 for r in ranks)


def test_reversed_early_ranking_correlates_negatively(tmp_path):
    table = synthetic_table(tiny_space(tmp_path)[0])
    entries = {k: Entry(k, (1.0 - e.curve[-1],) + e.curve[1:]) for k, e in table.entries.items()}
    (first, *_) = rank_stability(replace(table, entries=entries))
    assert first.spearman == pytest.approx(-1.0) and first.kendall == pytest.approx(-1.0)
