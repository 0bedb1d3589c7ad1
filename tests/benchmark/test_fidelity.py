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


def test_seed_noise_compares_the_seeds_final_accuracies(tmp_path):
    from resnet_nas.benchmark.fidelity import seed_noise
    from resnet_nas.benchmark.table import SeedRun

    table = synthetic_table(tiny_space(tmp_path)[0])
    assert seed_noise(table) is None  # one seed
    same = {k: replace(e, runs=(SeedRun(0, e.curve), SeedRun(1, e.curve)))
            for k, e in table.entries.items()}
    noise = seed_noise(replace(table, entries=same))
    assert (noise.seeds, noise.n) == (2, 12) and noise.spearman == pytest.approx(1.0)
    assert noise.final_std == pytest.approx(0.0)
    flipped = {k: replace(e, runs=(SeedRun(0, e.curve), SeedRun(1, (1.0 - e.curve[-1],))))
               for k, e in table.entries.items()}
    noise = seed_noise(replace(table, entries=flipped))
    assert noise.spearman == pytest.approx(-1.0) and noise.final_std > 0
