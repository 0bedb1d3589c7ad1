"""Aging evolution and local search as Optuna samplers: they improve on random search on a
small discrete problem, are deterministic per seed, rebuild their state from the study's
trials, handle conditional parameters, rejected samples and trials running elsewhere."""

import optuna
import pytest
from optuna.trial import TrialState

from resnet_nas.engines.optuna_study import make_sampler
from resnet_nas.samplers import EvolutionSampler, LocalSearchSampler
from resnet_nas.samplers.local_search import incumbent
from resnet_nas.samplers.points import Evaluated, neighbour, other_values

SAMPLERS = [EvolutionSampler, LocalSearchSampler]
CHOICES = [0, 1, 2, 3, 4]


def bowl(trial) -> float:
    """Six categorical parameters, best at all 3 (value 0)."""
    return -sum((trial.suggest_categorical(f"x{i}", CHOICES) - 3) ** 2 for i in range(6))


def conditional(trial) -> float:
    """A stage count that adds or drops per-stage parameters, and an integer range."""
    n = trial.suggest_int("num_stages", 1, 3)
    width = trial.suggest_int("width", 8, 64, step=8)
    return -abs(width - 32) / 8 - sum(abs(trial.suggest_categorical(f"stage{i}_units",
                                                                    [1, 2, 3]) - 2)
                                     for i in range(n)) - abs(n - 2)


def run(sampler, objective, n, study=None):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = study or optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(objective, n_trials=n)
    return study


@pytest.mark.parametrize("make", SAMPLERS)
def test_better_than_random_search_on_a_small_discrete_problem(make):
    ours = [run(make(seed=s), bowl, 80).best_value for s in range(6)]
    rand = [run(optuna.samplers.RandomSampler(seed=s), bowl, 80).best_value for s in range(6)]
    assert sum(ours) > sum(rand)


@pytest.mark.parametrize("make", SAMPLERS)
def test_the_same_seed_proposes_the_same_trials(make):
    a = [t.params for t in run(make(seed=3), conditional, 40).trials]
    b = [t.params for t in run(make(seed=3), conditional, 40).trials]
    c = [t.params for t in run(make(seed=4), conditional, 40).trials]
    assert a == b and a != c


@pytest.mark.parametrize("make", SAMPLERS)
def test_a_resumed_study_continues_as_if_never_stopped(make, tmp_path):
    whole = [t.params for t in run(make(seed=1), conditional, 40).trials]
    url = f"sqlite:///{tmp_path / 's.db'}"
    first = optuna.create_study(direction="maximize", sampler=make(seed=1), storage=url,
                                study_name="s")
    run(None, conditional, 25, first)
    # a new process: a new sampler object, nothing carried over but the storage
    again = optuna.load_study(study_name="s", storage=url, sampler=make(seed=1))
    run(None, conditional, 15, again)
    assert [t.params for t in again.trials] == whole


@pytest.mark.parametrize("make", SAMPLERS)
def test_rejected_samples_and_running_trials_are_not_proposed_again(make):
    study = optuna.create_study(direction="maximize", sampler=make(seed=0))
    running = study.ask()  # another worker's trial, still running
    held = {f"x{i}": running.suggest_categorical(f"x{i}", CHOICES) for i in range(6)}
    seen = [held]
    for _ in range(60):
        trial = study.ask()
        params = {f"x{i}": trial.suggest_categorical(f"x{i}", CHOICES) for i in range(6)}
        assert params not in seen
        seen.append(params)
        if params["x0"] == 4:  # infeasible, as the search tells it
            trial.set_user_attr("rejected", "x0 == 4")
            study.tell(trial, state=TrialState.PRUNED)
        else:
            study.tell(trial, -sum((v - 3) ** 2 for v in params.values()))
    assert any(p["x0"] == 4 for p in seen)  # it did propose them; they were not repeated


@pytest.mark.parametrize("name", ["evolution", "local"])
def test_multi_objective_studies_are_refused(name):
    study = optuna.create_study(directions=["maximize", "minimize"],
                                sampler=make_sampler(name, 0))
    with pytest.raises(ValueError, match="optimises one objective"):
        study.ask().suggest_int("x", 0, 3)


def test_the_incumbent_is_read_off_the_trials():
    up = optuna.study.StudyDirection.MAXIMIZE

    def e(n, x, value):
        return Evaluated(n, {"a": x[0], "b": x[1]}, {}, value)

    walk = [e(0, (0, 0), 0.5), e(1, (1, 0), 0.4), e(2, (0, 1), 0.6),  # a neighbour improves
            e(3, (2, 2), 0.1)]  # not a neighbour of (0, 1): a restart
    assert incumbent(walk[:2], up).number == 0
    assert incumbent(walk[:3], up).number == 2
    assert incumbent(walk, up).number == 3
    assert neighbour({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 9})
    assert not neighbour({"a": 1, "b": 2}, {"a": 2, "b": 3})


def test_neighbours_of_numbers_are_the_next_grid_values():
    dist = optuna.distributions.IntDistribution(8, 64, step=8)
    assert other_values(dist, 8, adjacent=True) == [16]
    assert other_values(dist, 32, adjacent=True) == [24, 40]
    assert len(other_values(dist, 32, adjacent=False)) == 7
    cat = optuna.distributions.CategoricalDistribution(["a", "b", "c"])
    assert other_values(cat, "b", adjacent=True) == ["a", "c"]
