import pytest

from resnet_nas.benchmark.replay import Combo, replay_all, replay_study
from tests.benchmark.spaces import EPOCHS, optimum_key, synthetic_table, tiny_space


@pytest.fixture
def table(tmp_path):
    return synthetic_table(tiny_space(tmp_path)[0])


@pytest.mark.parametrize("sampler", ["random", "tpe"])
def test_replay_finds_the_known_optimum(table, sampler):
    # 12 architectures, 12 counted trials: every one is read once, duplicates are free
    r = replay_study(table, Combo(sampler, "none"), repeat=0, trials=12)
    assert len(r.steps) == 12
    assert r.steps[-1].best_key == optimum_key(table)
    assert r.steps[-1].regret == pytest.approx(0.0)
    assert r.steps[-1].pick_test_accuracy == pytest.approx(0.98)
    assert r.steps[-1].compute_epochs == 12 * EPOCHS


def test_regret_is_monotone_and_compute_grows(table):
    for repeat in range(3):
        r = replay_study(table, Combo("random", "median"), repeat, trials=12)
        regrets = [s.regret for s in r.steps]
        assert all(b <= a + 1e-12 for a, b in zip(regrets, regrets[1:]))
        computes = [s.compute_epochs for s in r.steps]
        assert all(b > a for a, b in zip(computes, computes[1:]))
        assert computes[-1] == sum(s.epochs_read for s in r.steps)


def test_pruned_trials_read_only_the_epochs_a_real_trial_runs(table):
    r = replay_study(table, Combo("random", "successive_halving"), 0, trials=12)
    pruned = [s for s in r.steps if s.pruned]
    assert pruned, "successive halving prunes some of 12 trials"
    assert all(1 <= s.epochs_read < EPOCHS for s in pruned)
    assert all(s.epochs_read == EPOCHS for s in r.steps if not s.pruned)
    # a pruned trial is never the pick: its final accuracy was never seen
    picks = {s.best_key for s in r.steps}
    assert not picks & {s.arch_key for s in pruned} - {s.arch_key for s in r.steps
                                                      if not s.pruned}


def test_budget_stops_the_study(table):
    r = replay_study(table, Combo("random", "none"), 0, trials=12, budget_epochs=10)
    assert r.steps[-1].compute_epochs >= 10 and len(r.steps) == 3


def test_missing_architectures_are_free_and_counted(table):
    from dataclasses import replace

    half = dict(list(table.entries.items())[:6])
    partial = replace(table, entries=half)
    r = replay_study(partial, Combo("random", "none"), 0, trials=6)
    assert r.missing > 0
    assert {s.arch_key for s in r.steps} <= set(half)
    assert r.steps[-1].compute_epochs == 6 * EPOCHS


def test_parallel_replay_equals_serial(table):
    combos = [Combo("random", "none"), Combo("tpe", "median")]
    serial = replay_all(table, combos, repeats=2, trials=6, processes=1)
    parallel = replay_all(table, combos, repeats=2, trials=6, processes=2)
    assert serial == parallel


def test_on_several_seeds_a_study_picks_by_what_it_saw_and_regret_uses_the_mean(table):
    from dataclasses import replace

    from resnet_nas.benchmark.table import SeedRun

    # each architecture's two seeds straddle its mean by an amount that does not follow it,
    # so the best seen curve is not always the best mean
    noisy = {}
    for i, (k, e) in enumerate(table.entries.items()):
        d = 0.2 * ((i * 7) % 5) / 4
        runs = (SeedRun(0, tuple(v - d for v in e.curve), e.test_accuracy, e.seconds),
                SeedRun(1, tuple(v + d for v in e.curve), e.test_accuracy, e.seconds))
        noisy[k] = replace(e, runs=runs)
    seeded = replace(table, entries=noisy)
    picks = set()
    for repeat in range(4):
        r = replay_study(seeded, Combo("random", "none"), repeat, trials=12)
        last = r.steps[-1]
        seen = max(seeded.entries.values(), key=lambda e: e.run(repeat).score)
        assert last.best_key == seen.arch_key
        assert last.best_score == pytest.approx(seen.score)
        assert last.regret == pytest.approx(seeded.best_score - seen.score)
        picks.add(last.best_key)
    assert picks != {optimum_key(seeded)}, "seed noise changes some repeat's pick"


def test_a_replay_with_hyperband_is_reproducible(table):
    # Hyperband's brackets hash the study name: a random default name would change them
    runs = [replay_study(table, Combo("random", "hyperband"), 1, trials=12) for _ in range(2)]
    assert runs[0] == runs[1]


def test_a_bounded_tpe_history_is_replayed_as_its_own_sampler(table):
    bounded = Combo("tpe", "none", history=10)
    assert bounded.label == "tpe/h10+none" and bounded.sampler_label == "tpe/h10"
    r = replay_study(table, bounded, repeat=0, trials=12)
    assert r.steps[-1].best_key == optimum_key(table)
    # a history longer than the study changes nothing
    plain = replay_study(table, Combo("tpe", "none"), repeat=1, trials=12)
    wide = replay_study(table, Combo("tpe", "none", history=50), repeat=1, trials=12)
    assert [s.arch_key for s in wide.steps] == [s.arch_key for s in plain.steps]
