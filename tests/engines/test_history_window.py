"""HistoryWindowSampler: TPE on a window of the study's most recent trials."""

from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState

from resnet_nas.engines.history_window import HistoryWindowSampler
from resnet_nas.engines.optuna_study import make_sampler


def _tpe(seed: int) -> optuna.samplers.BaseSampler:
    return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True,
                                      constant_liar=True, n_startup_trials=5)


def _objective(trial: optuna.Trial) -> float:
    # a conditional parameter, as the stage parameters of a space are
    x = trial.suggest_float("x", -3.0, 3.0)
    kind = trial.suggest_categorical("kind", ["a", "b"])
    y = trial.suggest_int("y", 0, 8) if kind == "a" else trial.suggest_int("z", 0, 4)
    for step in range(1, 4):
        trial.report(-(x - 1) ** 2 + step, step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    if y % 5 == 4:
        raise optuna.TrialPruned()
    return -(x - 1) ** 2 - 0.1 * y


def _run(sampler: optuna.samplers.BaseSampler, n: int) -> optuna.Study:
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(_objective, n_trials=n)
    return study


def test_proposes_what_tpe_proposes_while_the_study_fits_in_the_window():
    plain = _run(_tpe(3), 40)
    windowed = _run(HistoryWindowSampler(_tpe, history=100, seed=3), 40)
    assert [t.params for t in windowed.trials] == [t.params for t in plain.trials]
    assert [t.state for t in windowed.trials] == [t.state for t in plain.trials]


class _Recording(optuna.samplers.BaseSampler):
    """Delegates to TPE and records how many finished trials each sampling saw."""

    seen: list[tuple[int, list[float]]] = []
    pending: list[int] = []

    def __init__(self, seed: int) -> None:
        self._tpe = _tpe(seed)

    def infer_relative_search_space(self, study, trial):
        return self._tpe.infer_relative_search_space(study, trial)

    def sample_relative(self, study, trial, search_space):
        finished = study.get_trials(deepcopy=False,
                                    states=(TrialState.COMPLETE, TrialState.PRUNED))
        _Recording.seen.append((len(finished), [t.params["x"] for t in finished]))
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        _Recording.pending.append(sum("x" in t.params for t in running))
        return self._tpe.sample_relative(study, trial, search_space)

    def sample_independent(self, study, trial, name, dist):
        return self._tpe.sample_independent(study, trial, name, dist)


def test_the_window_holds_the_latest_trials_between_history_and_twice_history():
    _Recording.seen = []
    study = _run(HistoryWindowSampler(_Recording, history=8, seed=0), 60)
    finished = [t for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == 60
    sizes = [n for n, _ in _Recording.seen]
    assert max(sizes) == 16 and sizes[-1] >= 8
    assert all(min(i, 8) <= n <= 16 for i, n in enumerate(sizes))
    # what trial i's sampling saw is the end of what had finished before it, in order
    for i, (n, xs) in enumerate(_Recording.seen):
        assert xs == [t.params["x"] for t in finished[:i]][-n:] if n else xs == []


def test_pending_trials_are_seen_once_with_their_parameters():
    _Recording.seen, _Recording.pending = [], []
    study = optuna.create_study(direction="maximize",
                                sampler=HistoryWindowSampler(_Recording, history=4, seed=0))
    for _ in range(3):  # three workers' trials, none told yet
        study.ask().suggest_float("x", -3.0, 3.0)
    study.optimize(_objective, n_trials=20)
    # every sampling of the 20 saw the three pending trials, each once (their stale copies
    # failed), although the window was rebuilt several times
    assert _Recording.pending[3:] == [3] * 20


def test_make_sampler_bounds_tpe_only_when_asked():
    assert isinstance(make_sampler("tpe", 0), optuna.samplers.TPESampler)
    bounded = make_sampler("tpe", 0, history=50)
    assert isinstance(bounded, HistoryWindowSampler) and bounded.history == 50
    with pytest.raises(ValueError, match="history"):
        make_sampler("random", 0, history=50)


def test_each_hyperband_bracket_gets_a_window_and_copies_stay_few(monkeypatch):
    # Optuna shows a sampler only the current trial's bracket under Hyperband: the windows
    # must follow the brackets, not be rebuilt each time another bracket's trial is sampled
    copies = []
    real = optuna.trial.create_trial
    monkeypatch.setattr(optuna.trial, "create_trial",
                        lambda **kw: copies.append(1) or real(**kw))
    _Recording.seen, _Recording.pending = [], []
    study = optuna.create_study(
        direction="maximize", sampler=HistoryWindowSampler(_Recording, history=8, seed=0),
        pruner=optuna.pruners.HyperbandPruner(min_resource=1, max_resource=3,
                                              reduction_factor=3))
    study.optimize(_objective, n_trials=120)
    assert max(n for n, _ in _Recording.seen) <= 16
    brackets = 2  # max_resource 3 / reduction factor 3: two brackets
    # a finished copy and a running one per trial, and a rebuild of each window every 8
    assert len(copies) <= 120 * 2 + brackets * 8 * (120 // 8)
