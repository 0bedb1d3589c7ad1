import json

import pandas as pd
import pytest

from resnet_nas.benchmark.table import Entry, SeedRun, entries_from_frame


def rows(*specs):
    """(arch_key, seed, curve, test, state) -> a frame with the results schema's columns."""
    return pd.DataFrame([
        {"arch_key": key, "seed": seed, "val_accuracy_curve": json.dumps(curve),
         "test_accuracy": test, "train_seconds": 2.0 * (seed + 1), "params": 10, "flops": 20,
         "state": state}
        for key, seed, curve, test, state in specs])


def test_one_seed_entries_are_the_rows_themselves():
    entries = entries_from_frame(rows(("a", 0, [0.5, 0.7], 0.6, "complete"),
                                      ("a", 0, [0.1, 0.2], 0.1, "complete"),
                                      ("b", 0, [0.4], 0.4, "pruned")))
    assert set(entries) == {"a"}  # the first row of a seed wins; a pruned row is no entry
    a = entries["a"]
    assert a.curve == (0.5, 0.7) and a.test_accuracy == 0.6 and a.runs == ()
    assert a.run(0) == a.run(5) == SeedRun(0, (0.5, 0.7), 0.6, 2.0)


def test_several_seeds_give_the_mean_and_each_seed_run():
    entries = entries_from_frame(rows(("a", 1, [0.6, 0.8], 0.7, "complete"),
                                      ("a", 0, [0.4, 0.6], 0.5, "complete"),
                                      ("a", 2, [0.9], None, "complete"),  # short: left out
                                      ("a", 3, [0.1, 0.1], None, "failed")))
    a = entries["a"]
    assert a.curve == pytest.approx((0.5, 0.7)) and a.score == pytest.approx(0.7)
    assert a.test_accuracy == pytest.approx(0.6) and a.seconds == pytest.approx(3.0)
    assert [r.seed for r in a.runs] == [0, 1] and a.runs[1].curve == (0.6, 0.8)


def test_a_repeat_sees_one_seed_per_architecture_and_repeats_cycle_through_them():
    runs = tuple(SeedRun(s, (0.1 * s,)) for s in range(3))
    entries = [Entry(f"arch{i}", (0.1,), runs=runs) for i in range(12)]
    for e in entries:
        assert [e.run(r).seed for r in range(3)] != [e.run(0).seed] * 3
        assert {e.run(r).seed for r in range(6)} == {0, 1, 2}
    # within one repeat, architectures do not all get the same seed
    assert len({e.run(0).seed for e in entries}) > 1
