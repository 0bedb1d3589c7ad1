"""The Optuna engine's bookkeeping, with the in-process fake runner (no training)."""

import json

import optuna
import pytest
from optuna.trial import TrialState

from resnet_nas import results, trial_attrs
from resnet_nas.engines import SearchOptions, run_search
from resnet_nas.errors import SearchError
from resnet_nas.storage import open_storage
from tests.helpers import tiny_space


def search(space, run_dir, runner, **kw):
    kw.setdefault("progress", False)
    opts = SearchOptions(space=str(space) if space else None, run_dir=str(run_dir), **kw)
    return run_search(opts, out=lambda line: None, runner_factory=runner)


def study_of(summary):
    return optuna.load_study(study_name=summary.study, storage=summary.storage)


def test_search_records_every_trial(tmp_path, fake_runner):
    space = tiny_space(tmp_path, trials=3, epochs=2)
    summary = search(space, tmp_path / "run", fake_runner)
    table = summary.table
    assert len(table) == 3 and list(table.columns) == results.COLUMNS
    assert set(table["state"]) == {"complete"} and (table["epochs_run"] == 2).all()
    for _, row in table.iterrows():
        curve = row["val_accuracy_curve"]
        assert len(curve) == 2 and row["best_val_accuracy"] == max(curve)
        assert row["params"] > 0 and row["flops"] > 0 and row["trainer"] == "fake"
        assert "optuna" in json.loads(row["versions"])
    assert (tmp_path / "run" / "results.csv").exists()
    assert (tmp_path / "run" / "results.parquet").exists()
    finished = [t for t in study_of(summary).trials if "record" in t.user_attrs]
    assert len(finished) == 3 and len(fake_runner.jobs) == 3
    assert summary.counts.startswith("3 trained trials: 3 complete")
    # optuna-dashboard sorts and plots attributes, not the JSON inside "record"
    for t in finished:
        row = table[table["trial"] == t.number].iloc[0]
        assert t.user_attrs["params"] == row["params"] and t.user_attrs["flops"] == row["flops"]
        # every attribute is a storage round trip: what is known at once travels as one
        assert set(t.user_attrs) == {"owner", "plan", "arch_key", "record", "params", "flops"}
        plan = trial_attrs.plan_of(t.user_attrs)
        assert plan.arch == json.loads(row["arch"]) and plan.epochs == 2
        assert trial_attrs.owner_of(t.user_attrs).worker == row["worker"]
    # Each row says which data it was trained on; a CSV names no run directory (it can move).
    assert set(table["dataset"]) == {"synthetic"} and table["data_fingerprint"].notna().all()
    assert (table["wall_seconds"] > 0).all()
    header = (tmp_path / "run" / "results.csv").read_text().splitlines()[0].split(",")
    assert header == [c for c in results.COLUMNS if c != "run_dir"]


def test_run_json_names_its_storage_relative_to_the_run_dir(tmp_path, fake_runner):
    summary = search(tiny_space(tmp_path, trials=1), tmp_path / "run", fake_runner)
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert meta["storage"] == "sqlite:///{RUN_DIR}/study.db"
    assert str(tmp_path) not in meta["storage"] and summary.storage.endswith("run/study.db")


def test_duplicates_are_reused_and_do_not_count_towards_the_target(tmp_path, fake_runner):
    # one architecture only: after it trained, every sample is a duplicate
    space = tiny_space(tmp_path, fixed=True, trials=2, epochs=1, search={"max_duplicates": 3})
    summary = search(space, tmp_path / "run", fake_runner)
    table = summary.table
    assert list(table["state"]) == ["complete", "duplicate", "duplicate", "duplicate"]
    assert len(fake_runner.jobs) == 1  # trained once
    dup = table[table["state"] == "duplicate"]
    assert (dup["duplicate_of"] == 0).all() and (dup["train_seconds"] == 0).all()
    assert (dup["best_val_accuracy"] == table.loc[0, "best_val_accuracy"]).all()
    # the target (2) was not reached: duplicates are not trained trials, and the search says so
    assert "space looks exhausted" in summary.note
    assert "1 trained trials: 1 complete; 3 duplicates" in summary.counts


def test_duplicates_do_not_eat_the_budget(tmp_path, fake_runner):
    # two architectures (the unit kind): --trials 2 ends with both trained
    path = tiny_space(tmp_path, fixed=True, trials=2, epochs=1, search={"max_duplicates": 50})
    text = path.read_text().replace("unit: v1_basic", "unit: [v1_basic, v2_basic]")
    path.write_text(text)
    table = search(path, tmp_path / "run", fake_runner).table
    assert (table["state"] == "complete").sum() == 2 and table["arch_key"].nunique() == 2
    assert len(fake_runner.jobs) == 2


def test_failed_and_diverged_trials_are_recorded_and_the_search_goes_on(tmp_path, fake_runner):
    fake_runner.script = {0: "error", 1: "diverged"}
    summary = search(tiny_space(tmp_path, trials=3, epochs=2), tmp_path / "run", fake_runner)
    table = summary.table
    assert list(table["state"]) == ["failed", "failed", "complete"]
    assert "out of memory" in table.loc[0, "reason"] and "diverged" in table.loc[1, "reason"]
    states = [t.state for t in study_of(summary).trials]
    assert states == [TrialState.FAIL, TrialState.FAIL, TrialState.COMPLETE]
    assert not summary.all_failed


def test_a_search_whose_every_trial_failed_says_so(tmp_path, fake_runner):
    fake_runner.script = {0: "error", 1: "diverged"}
    summary = search(tiny_space(tmp_path, trials=2), tmp_path / "run", fake_runner)
    assert summary.all_failed and summary.ran["failed"] == 2


def test_infeasible_samples_are_rejected_without_training(tmp_path, fake_runner):
    space = tiny_space(tmp_path, trials=2, epochs=1, extra_constraints={"max_params": 1500})
    summary = search(space, tmp_path / "run", fake_runner)
    table = summary.table
    assert len(table) == 2 and (table["params"] <= 1500).all()
    rejected = [t for t in study_of(summary).trials if "rejected" in t.user_attrs]
    assert table["rejections"].sum() == len(rejected) > 0
    assert all("max_params" in t.user_attrs["rejected"] for t in rejected)
    # pruned, not failed, with the constraint it broke by how much: what TPE learns from
    assert all(t.state == optuna.trial.TrialState.PRUNED for t in rejected)
    assert all(t.constraints["max_params"] > 0 for t in rejected)
    assert not [t for t in study_of(summary).trials
                if t.state == optuna.trial.TrialState.FAIL]
    assert len(fake_runner.jobs) == 2


def _min_params(space_file) -> int:
    from resnet_nas.space import load_space
    from resnet_nas.space.bounds import space_bounds

    from resnet_nas.data import SYNTHETIC_CLASSES, SYNTHETIC_SHAPE

    return space_bounds(load_space(space_file), SYNTHETIC_SHAPE, SYNTHETIC_CLASSES).min_params


def test_a_budget_no_architecture_meets_is_refused_before_anything_runs(tmp_path,
                                                                          fake_runner):
    space = tiny_space(tmp_path, trials=2, extra_constraints={"max_params": 10})
    smallest = _min_params(space)
    with pytest.raises(SearchError, match=f"constraints.max_params is 10, but the smallest "
                                          f"architecture of the space has {smallest:,} params"):
        search(space, tmp_path / "run", fake_runner)
    assert not fake_runner.jobs and not (tmp_path / "run").exists()


def test_too_many_rejections_stop_with_a_search_error_naming_the_constraint(tmp_path,
                                                                            fake_runner):
    base = tiny_space(tmp_path, trials=2)
    space = tiny_space(tmp_path, trials=2, extra_constraints={"max_params": _min_params(base)},
                       search={"max_rejections": 3}, sampler="random")
    with pytest.raises(SearchError, match="4 samples in a row were infeasible, rejected by: "
                                          "max_params 4"):
        search(space, tmp_path / "run", fake_runner, seed=1)
    assert not fake_runner.jobs
    study = optuna.load_study(study_name="tiny",
                              storage=f"sqlite:///{tmp_path / 'run' / 'study.db'}")
    assert not study.get_trials(states=(optuna.trial.TrialState.RUNNING,))


def test_pruned_trials_stopped_early_and_the_others_ran_every_epoch(tmp_path, fake_runner):
    space = tiny_space(tmp_path, trials=12, epochs=3, pruner="median")
    table = search(space, tmp_path / "run", fake_runner).table
    pruned = table[table["state"] == "pruned"]
    assert len(pruned) >= 1, table[["trial", "state", "val_accuracy_curve"]]
    assert (pruned["epochs_run"] < 3).all()
    assert pruned["reason"].str.contains("pruned by MedianPruner after epoch").all()
    assert (table.loc[table["state"] == "complete", "epochs_run"] == 3).all()


@pytest.mark.parametrize("pruner", ["median", "successive_halving", "hyperband"])
def test_a_trial_that_ran_all_its_epochs_is_complete_never_pruned(tmp_path, fake_runner,
                                                                   pruner):
    # One-epoch trials: before the fix, should_prune() after the last epoch marked most of
    # them pruned although they had trained completely.
    space = tiny_space(tmp_path, trials=10, epochs=1, pruner=pruner)
    summary = search(space, tmp_path / "run", fake_runner)
    table = summary.table
    assert set(table["state"]) <= {"complete", "duplicate"}
    assert (table["epochs_run"] == table["epochs_planned"]).all()
    done = [t for t in study_of(summary).trials if t.state == TrialState.COMPLETE]
    assert len(done) == len(table) and all(t.value is not None for t in done)


def test_multi_objective_nsga2(tmp_path, fake_runner):
    space = tiny_space(tmp_path, trials=3, epochs=1, objectives=["val_accuracy", "params"])
    summary = search(space, tmp_path / "run", fake_runner, sampler="nsga2")
    study = study_of(summary)
    assert len(study.directions) == 2
    done = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert done and all(len(t.values) == 2 for t in done)


def test_resume_keeps_the_run_target_and_can_extend_it(tmp_path, fake_runner):
    space = tiny_space(tmp_path, trials=6, epochs=1)
    run_dir = tmp_path / "run"
    assert len(search(space, run_dir, fake_runner, trials=2).table) == 2
    # without --trials a resume keeps the run's own target (2), not the space default (6)
    assert len(search(None, run_dir, fake_runner, resume=True).table) == 2
    assert len(search(None, run_dir, fake_runner, resume=True, trials=3).table) == 3
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["trials"] == 3 and [r["trials"] for r in meta["resumes"]] == [2, 3]


def test_resume_continues_the_sampler_instead_of_replaying_it(tmp_path, fake_runner):
    space = tiny_space(tmp_path, trials=3, epochs=1)
    run_dir = tmp_path / "run"
    search(space, run_dir, fake_runner)
    summary = search(None, run_dir, fake_runner, resume=True, trials=6)
    trials = [t for t in study_of(summary).trials if t.state == TrialState.COMPLETE]
    first = [t.params for t in trials[:3]]
    # a replayed seed would propose trials 0, 1, 2 again (and make them duplicates)
    assert all(t.params not in first for t in trials[3:])
    assert len(trials) == 6


def test_finished_rows_are_never_rewritten_by_a_later_process(tmp_path, fake_runner):
    space = tiny_space(tmp_path, trials=2, epochs=1)
    run_dir = tmp_path / "run"
    search(space, run_dir, fake_runner)
    before = {p.name: p.read_bytes() for p in (run_dir / "rows").iterdir()}
    search(None, run_dir, fake_runner, resume=True, trials=4)
    after = {p.name: p.read_bytes() for p in (run_dir / "rows").iterdir()}
    assert len(after) == 4 and all(after[name] == data for name, data in before.items())


def test_an_interrupted_trial_is_recorded_and_does_not_count(tmp_path, fake_runner):
    fake_runner.script = {1: "interrupt"}
    space = tiny_space(tmp_path, trials=2, epochs=1)
    summary = search(space, tmp_path / "run", fake_runner)
    assert summary.interrupted == "SIGINT"
    table = summary.table
    assert list(table["state"]) == ["complete", "failed"]
    assert table.loc[1, "reason"].startswith("interrupted")
    assert not [t for t in study_of(summary).trials if t.state == TrialState.RUNNING]
    resumed = search(None, tmp_path / "run", fake_runner, resume=True)
    assert list(resumed.table["state"]) == ["complete", "failed", "complete"]


def test_timeout_stops_starting_new_trials(tmp_path, fake_runner):
    summary = search(tiny_space(tmp_path, trials=50), tmp_path / "run", fake_runner,
                     timeout=1e-9)
    assert len(summary.table) <= 1 and "timeout" in summary.note


def test_a_bounded_sampler_history_is_the_runs_and_its_resumes(tmp_path, fake_runner):
    from resnet_nas.engines.history_window import HistoryWindowSampler
    from resnet_nas.engines.optuna_study import load_study
    from resnet_nas.errors import UsageError
    from resnet_nas.run import read_run
    from resnet_nas.storage import open_storage

    run_dir = tmp_path / "run"
    space = tiny_space(tmp_path, trials=3, epochs=1, sampler="tpe",
                       search={"sampler_history": 100})
    summary = search(space, run_dir, fake_runner, sampler_history=12)  # the flag wins
    assert len(summary.table) == 3
    run = read_run(run_dir)
    assert run.sampler_history == 12
    # workers and resumes load the study with the run's sampler
    study = load_study(run, open_storage(summary.storage, heartbeat=False), epochs=1)
    assert isinstance(study.sampler, HistoryWindowSampler) and study.sampler.history == 12
    with pytest.raises(UsageError, match="sampler history is 12"):
        search(None, run_dir, fake_runner, resume=True, trials=4, sampler_history=50)
    assert len(search(None, run_dir, fake_runner, resume=True, trials=4).table) == 4
    # the space's TPE setting does not follow a sampler chosen on the command line
    other = search(space, tmp_path / "random", fake_runner, sampler="random")
    assert read_run(tmp_path / "random").sampler_history is None and len(other.table) == 3


# ---------------------------------------------------------------------------------------------
# Looking ahead: the next trial is sampled and set up while one trains.
def looking_ahead(fake):
    from resnet_nas.lookahead import LookaheadRunner

    return lambda *a, **kw: LookaheadRunner(lambda: fake(*a, **kw))


def test_looking_ahead_sets_every_later_trial_up_before_it_runs_and_wastes_none(
        tmp_path, fake_runner):
    summary = search(tiny_space(tmp_path, trials=4, epochs=2), tmp_path / "run",
                     looking_ahead(fake_runner))
    table = summary.table
    assert (table["state"] != "duplicate").sum() == 4  # the target, nothing trained beyond
    ran = fake_runner.jobs
    # every job after the first was set up before it ran (a duplicate trains nothing)
    assert ran[1:] == fake_runner.prepared and ran[0] not in fake_runner.prepared
    events = [e for e in fake_runner.events if e in ("prepare", "run")]
    assert events == ["run", "prepare"] * 3 + ["run"]  # set up while the one before trains
    trials = study_of(summary).trials
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    assert not [t for t in trials if trial_attrs.REJECTED in t.user_attrs]


def test_a_sample_of_the_running_architecture_is_not_set_up_and_reuses_its_result(
        tmp_path, fake_runner):
    space = tiny_space(tmp_path, fixed=True, trials=3, epochs=1, search={"max_duplicates": 2})
    summary = search(space, tmp_path / "run", looking_ahead(fake_runner))
    assert list(summary.table["state"]) == ["complete", "duplicate", "duplicate"]
    assert len(fake_runner.jobs) == 1 and fake_runner.prepared == []


def test_a_stop_while_looking_ahead_records_the_running_trial_and_never_the_next(
        tmp_path, fake_runner):
    fake_runner.script = {1: "interrupt"}
    summary = search(tiny_space(tmp_path, trials=4, epochs=1), tmp_path / "run",
                     looking_ahead(fake_runner))
    assert summary.interrupted == "SIGINT"
    table = summary.table
    assert list(table["state"]) == ["complete", "failed"]
    assert table.loc[1, "reason"].startswith("interrupted")
    trials = study_of(summary).trials
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    (ahead,) = [t for t in trials if trial_attrs.REJECTED in t.user_attrs]
    assert ahead.number == 2 and ahead.user_attrs[trial_attrs.REJECTED].startswith("not run")
    assert trial_attrs.plan_of(ahead.user_attrs) is None  # sampled, set up, never started
    assert len(fake_runner.prepared) == 2  # trials 1 and 2
    resumed = search(None, tmp_path / "run", looking_ahead(fake_runner), resume=True)
    assert (resumed.table["state"] == "complete").sum() == 4


def test_an_error_while_sampling_ahead_lets_the_running_trial_finish_first(
        tmp_path, fake_runner, monkeypatch):
    from resnet_nas.engines.common import TrialFlow

    real = TrialFlow.sample
    calls = []

    def sample(self, trial):
        calls.append(trial.number)
        if len(calls) == 2:  # the one sampled ahead, while trial 0 trains
            raise SearchError("space.yaml: 51 samples in a row were infeasible")
        return real(self, trial)

    monkeypatch.setattr(TrialFlow, "sample", sample)
    with pytest.raises(SearchError, match="infeasible"):
        search(tiny_space(tmp_path, trials=4, epochs=1), tmp_path / "run",
               looking_ahead(fake_runner))
    table = results.load_table(tmp_path / "run")
    assert list(table["state"]) == ["complete"]  # trained to its end, recorded
    study = optuna.load_study(study_name="tiny", storage=f"sqlite:///{tmp_path}/run/study.db")
    assert not [t for t in study.trials if t.state == TrialState.RUNNING]
    assert study.trials[1].user_attrs[trial_attrs.REJECTED].startswith("not run")


def test_a_trial_taken_over_while_the_search_was_paused_is_dropped_quietly(
        tmp_path, fake_runner, monkeypatch):
    """A search paused past the grace period (SIGSTOP, a suspended VM) wakes to find a worker
    failed its trial as stale: the trial is dropped without a row, and the search goes on."""
    from resnet_nas.engines.optuna_engine import LoopControl

    settle = LoopControl.settle
    taken: list[int] = []

    def settle_after_a_pause(self, study, trial, key, epochs):
        if not taken:  # another worker failed it while this process was stopped
            taken.append(trial.number)
            study.tell(trial.number, state=TrialState.FAIL)
        return settle(self, study, trial, key, epochs)

    monkeypatch.setattr(LoopControl, "settle", settle_after_a_pause)
    summary = search(tiny_space(tmp_path, trials=3), tmp_path / "run", fake_runner)
    assert taken and sorted(summary.table["trial"]) == [n for n in range(4) if n != taken[0]]
    assert set(summary.table["state"]) == {"complete"}
    trials = study_of(summary).trials
    assert trials[taken[0]].state == TrialState.FAIL
    assert all(t.state != TrialState.RUNNING for t in trials)


def test_the_target_counts_the_trials_workers_finished_in_the_study(tmp_path, fake_runner):
    """A search sharing its study with workers stops at the study's target, not at its own."""
    url = f"journal:///{(tmp_path / 'study.journal').as_posix().lstrip('/')}"
    space = tiny_space(tmp_path, trials=4)
    search(space, tmp_path / "run", fake_runner, storage=url, create_only=True)
    study = optuna.load_study(study_name="tiny", storage=open_storage(url))
    worker = trial_attrs.TrialOwner("another-run", "host:1").to_attr()
    for v in (0.1, 0.2):
        study.add_trial(optuna.trial.create_trial(value=v, user_attrs={"owner": worker}))
    study.add_trial(optuna.trial.create_trial(  # a rejected sample does not count
        state=TrialState.FAIL, user_attrs={"owner": worker, "rejected": "infeasible"}))
    summary = search(None, tmp_path / "run", fake_runner, resume=True)
    assert len(summary.table) == 2 and len(fake_runner.jobs) == 2


@pytest.mark.parametrize("sampler", ["evolution", "local"])
def test_the_discrete_samplers_run_a_search_and_its_resume(tmp_path, fake_runner, sampler):
    space = tiny_space(tmp_path, trials=12, sampler=sampler, epochs=1)
    first = search(space, tmp_path / "run", fake_runner)
    assert (first.table["state"] != "duplicate").sum() == 12
    again = search(None, tmp_path / "run", fake_runner, resume=True, trials=16)
    table = again.table
    assert (table["state"] != "duplicate").sum() == 16 and set(table["sampler"]) == {sampler}
