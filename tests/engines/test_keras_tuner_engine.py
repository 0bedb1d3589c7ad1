"""The Keras Tuner engine (resnet_nas.engines.keras_tuner_engine) on tiny synthetic data.

One module fixture trains for real in the trial process (and checks that the tuner process never
builds a model); the other tests use the shared in-process fake runner (tests.fakes), which
exercises the engine's bookkeeping (rows, resume, failures, rejections, budgets) in about a
second each.
"""

import json
import math
import re
import shutil

import pytest
import yaml

from resnet_nas import results
from resnet_nas.engines import SearchOptions, run_search
from resnet_nas.errors import SearchError, UsageError
from tests.helpers import tiny_space

kt = pytest.importorskip("keras_tuner")
# Keras Tuner 1.4.8's oracle lock uses threading.currentThread().getName().
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
from resnet_nas.engines import keras_tuner_engine as search_kt  # noqa: E402


def _opts(space, run_dir, **kw):
    kw.setdefault("engine", "keras-tuner")
    return SearchOptions(space=str(space), run_dir=str(run_dir), progress=False, **kw)


def run(opts, runner=None):
    return run_search(opts, out=lambda line: None, runner_factory=runner)


def _kt_random_run(tmp, runner):
    space = tiny_space(tmp, trials=2, epochs=1)
    with pytest.MonkeyPatch.context() as mp:
        import resnet_nas.nets.build as build

        def no_models_here(*a, **k):
            raise AssertionError("the search process built a Keras model")

        mp.setattr(build, "build_model", no_models_here)
        summary = run(_opts(space, tmp / "run", sampler="random"), runner)
    return space, summary


@pytest.fixture(scope="module")
def kt_random_run(tmp_path_factory):
    """A Keras Tuner random search, shared by two tests (fake training; build_model is patched
    in this, the search process, to fail: the tuner must never build a model itself)."""
    from tests.fakes import FakeRunner

    return _kt_random_run(tmp_path_factory.mktemp("kt_random"), FakeRunner)


def _rows(summary):
    return summary.table.sort_values("trial").reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# The rows of a Keras Tuner run.
def check_schema_rows(summary, trainer: str) -> None:
    table = _rows(summary)
    assert list(table.columns) == results.COLUMNS
    assert len(table) == 2 and list(table["trial"]) == [0, 1]
    assert set(table["engine"]) == {"keras-tuner"} and set(table["sampler"]) == {"random"}
    assert set(table["pruner"]) == {"none"}
    assert set(table["state"]) <= {"complete", "duplicate"}
    done = table[table["state"] == "complete"]
    assert len(done) >= 1 and (done["epochs_run"] == 1).all()
    assert (done["images_per_second"] > 0).all() and (done["params"] > 0).all()
    assert set(done["trainer"]) == {trainer}
    assert done["reason"].str.startswith("keras-tuner trial ").all()
    assert "keras-tuner" in json.loads(table.loc[0, "versions"])
    run_dir = summary.run_dir
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["engine"] == "keras-tuner" and meta["sampler"] == "random"
    assert meta["tuner"]["seed"] == meta["seed"] + 1
    assert meta["storage"] == "{RUN_DIR}/keras_tuner"
    project = run_dir / "keras_tuner"
    assert (project / "oracle.json").exists()
    numbers = json.loads((project / search_kt.ROW_MAP).read_text())
    assert sorted(numbers.values()) == [0, 1]
    # Keras Tuner agrees on the outcome of each trial it ran.
    for kt_id, number in numbers.items():
        trial = json.loads((project / f"trial_{kt_id}" / "trial.json").read_text())
        assert trial["status"] == "COMPLETED"
        row = table[table["trial"] == number].iloc[0]
        assert trial["score"] == pytest.approx(row["best_val_accuracy"])
    assert (run_dir / "results.csv").exists() and (run_dir / "results.parquet").exists()


def test_random_tuner_writes_schema_rows(kt_random_run):
    check_schema_rows(kt_random_run[1], "fake")


@pytest.mark.slow
def test_random_tuner_trains_for_real_in_the_trial_process(tmp_path):
    check_schema_rows(_kt_random_run(tmp_path, None)[1], "tf")


def test_hyperband_tuner_sets_the_epochs_of_each_trial(tmp_path, fake_runner):
    # max_epochs 3, factor 3: Hyperband's first bracket trains three configurations for 1 epoch
    # (then promotes the best to 3 epochs; see the test below). --trials 3 stops before the
    # promotion.
    space = tiny_space(tmp_path, trials=3, epochs=3)
    table = _rows(run(_opts(space, tmp_path / "run", sampler="hyperband"), fake_runner))
    assert len(table) == 3 and set(table["sampler"]) == {"hyperband"}
    assert list(table["epochs_planned"]) == [1, 1, 1]
    assert (table["state"] == "complete").all() and (table["epochs_run"] == 1).all()
    assert table["reason"].str.contains("hyperband bracket 1 round 0").all()


def test_fixed_architecture_gives_duplicates(tmp_path, fake_runner):
    # A fixed network with one free parameter that rounds away (every width multiplier in
    # [1.0, 1.1] keeps depth 8): Keras Tuner proposes new values, the network stays the same.
    # (A space with no free parameter at all gives Keras Tuner nothing to propose.)
    path = tiny_space(tmp_path, fixed=True, trials=3, epochs=1)
    doc = yaml.safe_load(path.read_text())
    doc["space"]["width_multiplier"] = {"low": 1.0, "high": 1.1}
    doc["search"]["max_duplicates"] = 2
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    summary = run(_opts(path, tmp_path / "run", sampler="random"), fake_runner)
    table = _rows(summary)
    # duplicates do not count towards --trials: two in a row end the search (exhausted)
    assert list(table["state"]) == ["complete", "duplicate", "duplicate"]
    assert "exhausted" in summary.note and len(fake_runner.jobs) == 1
    assert table["arch_key"].nunique() == 1
    dup = table[table["state"] == "duplicate"]
    assert (dup["duplicate_of"] == 0).all() and (dup["train_seconds"] == 0).all()
    assert (dup["best_val_accuracy"] == table.loc[0, "best_val_accuracy"]).all()


def test_optuna_and_keras_tuner_runs_compare_in_one_table(kt_random_run, tmp_path):
    space, kt_summary = kt_random_run
    from tests.fakes import FakeRunner

    optuna_summary = run(_opts(space, tmp_path / "optuna", engine="optuna", trials=2),
                         FakeRunner)
    both = results.load_tables([optuna_summary.run_dir, kt_summary.run_dir])
    assert list(both.columns) == results.COLUMNS and len(both) == 4
    assert set(both["engine"]) == {"optuna", "keras-tuner"}
    assert set(both["space_hash"]) == {kt_summary.table["space_hash"].iloc[0]}
    best = both[both["state"] == "complete"].groupby("engine")["best_val_accuracy"].max()
    assert set(best.index) == {"optuna", "keras-tuner"} and best.between(0, 1).all()
    # Same space, same training: an architecture both engines trained scores the same.
    shared = (both[both["state"] == "complete"].groupby("arch_key")
              .filter(lambda g: g["engine"].nunique() == 2))
    for _, g in shared.groupby("arch_key"):
        assert g["best_val_accuracy"].nunique() == 1


# ---------------------------------------------------------------------------------------------
# Engine bookkeeping with the fake runner.
def resume(run_dir, runner, **kw):
    return run(SearchOptions(run_dir=str(run_dir), resume=True, progress=False, space=None,
                             **kw), runner)


def test_resume_with_more_trials_continues_without_losing_rows(tmp_path, fake_runner):
    space = tiny_space(tmp_path, trials=2, epochs=1)
    first = _rows(run(_opts(space, tmp_path / "run", sampler="random"), fake_runner))
    assert len(first) == 2
    before = {p.name: p.read_bytes() for p in (tmp_path / "run" / "rows").iterdir()}
    resumed = _rows(resume(tmp_path / "run", fake_runner, trials=5))
    assert list(resumed["trial"]) == [0, 1, 2, 3, 4]
    after = {p.name: p.read_bytes() for p in (tmp_path / "run" / "rows").iterdir()}
    assert all(after[name] == data for name, data in before.items())  # rows untouched
    assert len(fake_runner.jobs) + (resumed["state"] == "duplicate").sum() == 5
    numbers = json.loads((tmp_path / "run" / "keras_tuner" / search_kt.ROW_MAP).read_text())
    assert sorted(numbers.values()) == [0, 1, 2, 3, 4]
    # The reloaded oracle carried on: same rows as one uninterrupted 5-trial search.
    straight = _rows(run(_opts(space, tmp_path / "straight", sampler="random", trials=5),
                         fake_runner))
    assert list(straight["arch_key"]) == list(resumed["arch_key"])


def test_interrupted_trial_keeps_its_row_and_is_rerun_on_resume(tmp_path, fake_runner):
    space = tiny_space(tmp_path, trials=2, epochs=1)
    fake_runner.script = {1: "interrupt"}
    summary = run(_opts(space, tmp_path / "run", sampler="random"), fake_runner)
    assert summary.interrupted == "SIGINT"
    table = _rows(summary)
    assert list(table["state"]) == ["complete", "failed"]
    assert table.loc[1, "reason"].startswith("interrupted")
    interrupted_key = table.loc[1, "arch_key"]
    interrupted_row = (tmp_path / "run" / "rows" / "tiny--000001.json").read_bytes()
    # Keras Tuner re-runs the interrupted trial first, under a new number: the interrupted
    # row stays as it was (a finished row is never rewritten) and does not count.
    resumed = _rows(resume(tmp_path / "run", fake_runner))
    assert list(resumed["state"]) == ["complete", "failed", "complete"]
    assert resumed.loc[2, "arch_key"] == interrupted_key
    assert (tmp_path / "run" / "rows" / "tiny--000001.json").read_bytes() == interrupted_row
    assert len(fake_runner.jobs) == 3


def test_failed_training_is_recorded_and_search_goes_on(tmp_path, fake_runner):
    space = tiny_space(tmp_path, trials=4, epochs=2)
    fake_runner.script = {0: "error", 1: "diverged", 2: "error"}
    summary = run(_opts(space, tmp_path / "run", sampler="random"), fake_runner)
    table = _rows(summary)
    assert len(table) == 4
    assert list(table["state"][:3]) == ["failed"] * 3
    assert "out of memory" in table.loc[0, "reason"]
    assert "diverged" in table.loc[1, "reason"]
    assert table.loc[3, "state"] == "complete"
    project = summary.run_dir / "keras_tuner"
    numbers = json.loads((project / search_kt.ROW_MAP).read_text())
    by_number = {n: k for k, n in numbers.items()}
    statuses = [json.loads((project / f"trial_{by_number[n]}" / "trial.json").read_text())
                ["status"] for n in range(4)]
    assert statuses[:3] == ["FAILED"] * 3 and statuses[3] == "COMPLETED"


def test_infeasible_samples_are_rejected_without_rows(tmp_path, fake_runner):
    # The space's default sampler is Optuna's tpe: the keras-tuner engine picks 'bayesian'.
    space = tiny_space(tmp_path, trials=3, epochs=1, sampler="tpe",
                       extra_constraints={"max_params": 800})
    summary = run(_opts(space, tmp_path / "run"), fake_runner)
    table = _rows(summary)
    assert len(table) == 3 and set(table["sampler"]) == {"bayesian"}
    assert (table["params"] <= 800).all()
    project = summary.run_dir / "keras_tuner"
    kt_trials = [json.loads(p.read_text()) for p in project.glob("trial_*/trial.json")]
    rejected = [t for t in kt_trials if t["status"] == "FAILED"]
    assert len(rejected) > 0 and all("max_params" in t["message"] for t in rejected)
    assert table["rejections"].sum() == len(rejected)
    assert len(kt_trials) == 3 + len(rejected)  # rejections did not use up --trials


def test_too_many_rejections_stop_with_search_error(tmp_path, fake_runner):
    from resnet_nas.data import SYNTHETIC_CLASSES, SYNTHETIC_SHAPE
    from resnet_nas.space import load_space
    from resnet_nas.space.bounds import space_bounds

    smallest = space_bounds(load_space(tiny_space(tmp_path, trials=2)), SYNTHETIC_SHAPE,
                            SYNTHETIC_CLASSES).min_params
    path = tiny_space(tmp_path, trials=2, epochs=1, extra_constraints={"max_params": smallest},
                      search={"max_rejections": 3})
    with pytest.raises(SearchError, match="infeasible, rejected by: max_params"):
        run(_opts(path, tmp_path / "run", sampler="random", seed=1), fake_runner)
    assert not fake_runner.jobs


def test_hyperband_promotes_and_runs_past_one_iteration(tmp_path, fake_runner):
    # One Hyperband iteration at max_epochs 3 has 6 trials: bracket 1 trains three
    # configurations for 1 epoch and promotes the best to 3 epochs, bracket 0 trains two for
    # 3 epochs. --trials 8 needs a second iteration.
    assert search_kt.hyperband_trials_per_iteration(3) == 6
    space = tiny_space(tmp_path, trials=8, epochs=3)
    table = _rows(run(_opts(space, tmp_path / "run", sampler="hyperband"), fake_runner))
    assert len(table) == 8
    assert list(table["epochs_planned"]) == [1, 1, 1, 3, 3, 3, 1, 1]
    assert [job.train.epochs for job in fake_runner.jobs] == \
        list(table.loc[table["state"] == "complete", "epochs_planned"])
    first = table.iloc[:3]
    best = first.loc[first["best_val_accuracy"].idxmax()]
    promoted = table.iloc[3]
    assert promoted["arch_key"] == best["arch_key"] and promoted["state"] == "complete"
    assert f"promotes trial {best['trial']}" in promoted["reason"]
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert meta["tuner"]["max_epochs"] == 3


@pytest.mark.parametrize("max_epochs", [1, 2, 3, 9, 10, 27])
def test_hyperband_trials_per_iteration_matches_keras_tuner(max_epochs):
    oracle = kt.oracles.HyperbandOracle(objective=kt.Objective("val_accuracy", "max"),
                                        max_epochs=max_epochs, factor=3)
    expected = sum(oracle._get_size(b, r) for b in range(oracle._get_num_brackets())
                   for r in range(b + 1))
    assert search_kt.hyperband_trials_per_iteration(max_epochs) == expected


def test_exhausted_space_ends_the_search_early(tmp_path, fake_runner):
    # Only two distinct hyperparameter sets exist (unit); Keras Tuner never repeats one.
    path = tiny_space(tmp_path, fixed=True, trials=5, epochs=1)
    doc = yaml.safe_load(path.read_text())
    doc["space"]["unit"] = ["v1_basic", "v2_basic"]
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    summary = run(_opts(path, tmp_path / "run", sampler="random"), fake_runner)
    assert len(summary.table) == 2 and summary.table["arch_key"].nunique() == 2
    assert "stopped after 2 of 5 trials" in summary.note


def test_declared_space_covers_conditional_parameters(tmp_path):
    from resnet_nas.space import load_space

    space = load_space(tiny_space(tmp_path))
    hp = search_kt.declare_hyperparameters(space, (8, 8, 3), 10, seed=0)
    names = {p.name for p in hp.space}
    # stage1_depth only exists when num_stages is 2: discovery must have found it.
    assert {"unit", "root_depth", "num_stages", "stage0_depth", "stage1_depth"} <= names
    again = search_kt.declare_hyperparameters(space, (8, 8, 3), 10, seed=0)
    assert [p.get_config() for p in again.space] == [p.get_config() for p in hp.space]


# ---------------------------------------------------------------------------------------------
# Options.
def test_tuner_names():
    engine = search_kt.KerasTunerEngine()
    assert engine.default_sampler("tpe") == "bayesian"
    assert engine.default_sampler("cmaes") == "bayesian"
    assert engine.default_sampler("random") == "random"
    assert search_kt.kt_seed(0) == 1  # Keras Tuner reads seed 0 as 'no seed'


@pytest.mark.parametrize("kw, match", [
    ({"sampler": "grid-search"}, r"--sampler: expected one of bayesian, hyperband, random"),
    ({"sampler": "tpe"}, r"'tpe' is a sampler of --engine optuna"),
    ({"pruner": "median"}, "--pruner: is an Optuna option"),
    ({"storage": "sqlite:///x.db"}, "--storage: is an Optuna option"),
    ({"create_only": True}, "--create-only"),
])
def test_bad_options_are_refused_and_leave_no_run_dir(tmp_path, fake_runner, kw, match):
    space = tiny_space(tmp_path)
    with pytest.raises(UsageError, match=match):
        run(_opts(space, tmp_path / "run", **kw), fake_runner)
    assert not (tmp_path / "run").exists()  # the same --run-dir can be used again
    assert not fake_runner.jobs


def test_resume_refuses_another_tuner(tmp_path, fake_runner):
    space = tiny_space(tmp_path, trials=1, epochs=1)
    run(_opts(space, tmp_path / "run", sampler="random"), fake_runner)
    with pytest.raises(UsageError, match="this run's sampler is 'random'"):
        resume(tmp_path / "run", fake_runner, trials=2, sampler="hyperband")
    assert len(results.load_table(tmp_path / "run")) == 1
    assert math.isfinite(results.load_table(tmp_path / "run")["best_val_accuracy"][0])


def test_resume_refuses_a_missing_project(tmp_path, fake_runner):
    import shutil

    space = tiny_space(tmp_path, trials=1, epochs=1)
    run(_opts(space, tmp_path / "run", sampler="random"), fake_runner)
    shutil.rmtree(tmp_path / "run" / "keras_tuner")
    with pytest.raises(SearchError, match="keras_tuner is missing"):
        resume(tmp_path / "run", fake_runner, trials=2)


@pytest.mark.slow  # a fresh search process that imports keras_tuner and TensorFlow
def test_keras_tuner_search_prints_no_tensorflow_start_up_lines(tmp_path):
    from tests.helpers import run_cli

    space = tiny_space(tmp_path, trials=1, epochs=1)
    out = run_cli("search", str(space), "--engine", "keras-tuner", "--sampler", "random",
                  "--run-dir", str(tmp_path / "run"), "--no-progress", cwd=tmp_path, fake=True)
    assert out.returncode == 0, out.stderr[-3000:]
    for noise in ("absl::InitializeLog", "oneDNN custom operations", "cuda drivers",
                  "cpu_feature_guard"):
        assert noise not in out.stderr + out.stdout, noise


@pytest.mark.parametrize("broken", ["oracle.json", "trial_0000/trial.json",
                                    search_kt.ROW_MAP])
def test_a_resume_with_a_broken_project_file_names_it_and_changes_nothing(
        kt_random_run, tmp_path, broken):
    from resnet_nas.validation import ConfigError
    from tests.helpers import files_under

    _, summary = kt_random_run
    run_dir = tmp_path / "copy"
    shutil.copytree(summary.run_dir, run_dir)
    (run_dir / search_kt.PROJECT_NAME / broken).write_text('{"x": ')
    before = files_under(run_dir)
    with pytest.raises(ConfigError, match=re.escape(f"{search_kt.PROJECT_NAME}/{broken}")):
        run(SearchOptions(space=None, run_dir=str(run_dir), resume=True, trials=3,
                          progress=False))
    assert files_under(run_dir) == before  # run.json has no new resume entry
