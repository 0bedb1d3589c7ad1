import math

import pytest

from resnet_nas.benchmark.replay import Combo, replay_all
from resnet_nas.benchmark.summary import (compute_to_reach, mean_interval, regret_at,
                                          regret_curves, summarize, summary_markdown)
from tests.benchmark.spaces import optimum_key, synthetic_table, tiny_space


def test_mean_interval():
    m, lo, hi = mean_interval([1.0, 2.0, 3.0])
    assert m == 2.0 and lo < 2.0 < hi
    assert mean_interval([5.0]) == (5.0, 5.0, 5.0)
    assert all(math.isnan(v) for v in mean_interval([]))


def test_summary_of_replays_on_a_known_table(tmp_path):
    table = synthetic_table(tiny_space(tmp_path)[0])
    replays = replay_all(table, [Combo("random", "none")], repeats=3, trials=12, processes=1)
    (s,) = summarize(table, replays)
    assert s.repeats == 3 and s.trials == 12
    assert s.final_regret == pytest.approx(0.0)
    assert s.reach1 == 1.0 and s.reach5 == 1.0
    assert s.epochs_to_top1 <= s.compute_epochs
    top = frozenset({optimum_key(table)})
    assert all(compute_to_reach(r.steps, top) is not None for r in replays)
    assert regret_at(replays[0].steps, -1, start=0.5) == 0.5
    curve = [p.regret_mean for p in regret_curves(table, replays)]
    assert all(b <= a + 1e-12 for a, b in zip(curve, curve[1:]))
    assert curve[-1] == pytest.approx(0.0)
    assert "random+none" in summary_markdown([s])


def test_unreached_repeats_are_reported_not_averaged(tmp_path):
    table = synthetic_table(tiny_space(tmp_path)[0])
    replays = replay_all(table, [Combo("random", "none")], repeats=4, trials=1, processes=1)
    (s,) = summarize(table, replays)
    assert s.reach1 < 1.0
    assert s.epochs_to_top1_all >= (s.epochs_to_top1 if s.reach1 else 0)
