"""End-to-end search tests on tiny synthetic data, all on CPU."""

import json
import os
import signal
import subprocess
import sys
import time

import optuna

from resnet_nas import results
from resnet_nas.search import SearchOptions, run_search
from tests.helpers import REPO, default_sigint, run_cli, tiny_space


def _opts(space, run_dir, **kw):
    return SearchOptions(space=str(space), run_dir=str(run_dir), progress=False, **kw)


def test_search_records_every_trial(tmp_path):
    space = tiny_space(tmp_path, trials=3)
    summary = run_search(_opts(space, tmp_path / "run"))
    table = summary.table
    assert len(table) == 3 and list(table.columns) == results.COLUMNS
    assert set(table["state"]) <= {"complete", "duplicate", "pruned"}
    done = table[table["state"] == "complete"]
    assert (done["epochs_run"] == 2).all()
    for _, row in done.iterrows():
        curve = json.loads(row["val_accuracy_curve"])
        assert len(curve) == 2 and row["best_val_accuracy"] == max(curve)
        assert row["params"] > 0 and row["flops"] > 0 and row["images_per_second"] > 0
        assert row["backend"] == "tensorflow" and row["device"]
        assert "optuna" in json.loads(row["versions"])
    assert (tmp_path / "run" / "results.csv").exists()
    assert (tmp_path / "run" / "results.parquet").exists()
    study = optuna.load_study(study_name="tiny", storage=summary.storage)
    finished = [t for t in study.trials if "record" in t.user_attrs]
    assert len(finished) == 3


def test_duplicates_are_not_trained_twice(tmp_path):
    space = tiny_space(tmp_path, fixed=True, trials=3, epochs=1)
    table = run_search(_opts(space, tmp_path / "run")).table
    assert list(table["state"]) == ["complete", "duplicate", "duplicate"]
    assert table["arch_key"].nunique() == 1
    dup = table[table["state"] == "duplicate"]
    assert (dup["duplicate_of"] == 0).all() and (dup["train_seconds"] == 0).all()
    assert (dup["best_val_accuracy"] == table.loc[0, "best_val_accuracy"]).all()


def test_diverged_trial_is_recorded_failed_and_search_goes_on(tmp_path):
    space = tiny_space(tmp_path, trials=2, epochs=2, learning_rate=1e12)
    table = run_search(_opts(space, tmp_path / "run")).table
    assert len(table) == 2
    failed = table[table["state"] == "failed"]
    assert len(failed) >= 1
    assert failed["reason"].str.contains("diverged").all()


def test_infeasible_samples_are_rejected_without_training(tmp_path):
    # only the smallest nets fit the budget: many samples are rejected and resampled
    space = tiny_space(tmp_path, trials=2, epochs=1,
                       extra_constraints={"max_params": 1500})
    summary = run_search(_opts(space, tmp_path / "run"))
    table = summary.table
    assert len(table) == 2 and (table["params"] <= 1500).all()
    study = optuna.load_study(study_name="tiny", storage=summary.storage)
    rejected = [t for t in study.trials if "rejected" in t.user_attrs]
    assert table["rejections"].sum() == len(rejected) > 0
    assert all("max_params" in t.user_attrs["rejected"] for t in rejected)


def test_pruning_happens(tmp_path):
    space = tiny_space(tmp_path, trials=8, epochs=3, pruner="median", sampler="random")
    table = run_search(_opts(space, tmp_path / "run")).table
    pruned = table[table["state"] == "pruned"]
    assert len(pruned) >= 1, table[["trial", "state", "val_accuracy_curve"]]
    assert (pruned["epochs_run"] < 3).all()
    assert pruned["reason"].str.contains("MedianPruner").all()


def test_multi_objective_nsga2(tmp_path):
    space = tiny_space(tmp_path, trials=3, epochs=1, sampler="random",
                       objectives=["val_accuracy", "params"])
    summary = run_search(_opts(space, tmp_path / "run", sampler="nsga2"))
    study = optuna.load_study(study_name="tiny", storage=summary.storage)
    assert len(study.directions) == 2
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert done and all(len(t.values) == 2 for t in done)


def _spawn_search(space, run_dir, cwd, **popen):
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen([sys.executable, "-m", "resnet_nas", "search", str(space),
                             "--run-dir", str(run_dir), "--no-progress"], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, **popen)


def test_resume_after_kill_loses_nothing(tmp_path):
    space = tiny_space(tmp_path, trials=4, epochs=2)
    run_dir = tmp_path / "run"
    proc = _spawn_search(space, run_dir, tmp_path, stderr=subprocess.STDOUT,
                         start_new_session=True)
    rows = run_dir / "rows"
    deadline = time.time() + 300
    while time.time() < deadline and len(list(rows.glob("*.json"))) < 1:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the search and its worker, mid-run
    proc.wait(timeout=30)
    before = results.load_table(run_dir)
    assert 1 <= len(before) < 4
    out = run_cli("search", "--resume", "--run-dir", str(run_dir), "--no-progress",
                  cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    after = results.load_table(run_dir)
    # finished trials kept unchanged, the killed one failed, the target reached
    merged = after.set_index("trial").loc[before["trial"]]
    assert list(merged["best_val_accuracy"]) == list(before["best_val_accuracy"])
    meta = json.loads((run_dir / "run.json").read_text())
    study = optuna.load_study(study_name=meta["study"], storage=meta["storage"])
    assert not [t for t in study.trials if t.state == optuna.trial.TrialState.RUNNING]
    interrupted = after[after["reason"].fillna("").str.startswith("interrupted")]
    # the trial cut short (if any) is recorded failed and does not count towards --trials
    assert len(interrupted) <= 1 and len(after) - len(interrupted) == 4


def test_ctrl_c_marks_running_trial_and_resume_hint(tmp_path):
    space = tiny_space(tmp_path, trials=50, epochs=30)
    run_dir = tmp_path / "run"
    proc = _spawn_search(space, run_dir, tmp_path, stderr=subprocess.PIPE, text=True,
                         preexec_fn=default_sigint)
    deadline = time.time() + 120
    db = run_dir / "study.db"
    while time.time() < deadline:
        if db.exists():
            storage = f"sqlite:///{db}"
            try:
                s = optuna.load_study(study_name="tiny", storage=storage)
                if any(t.state == optuna.trial.TrialState.RUNNING and "arch_key" in t.user_attrs
                       for t in s.trials):
                    break
            except Exception:
                pass
        time.sleep(0.5)
    time.sleep(3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    assert "--resume" in err
    table = results.load_table(run_dir)
    assert (table["reason"].fillna("").str.contains("interrupted")).sum() == 1
    s = optuna.load_study(study_name="tiny", storage=f"sqlite:///{db}")
    assert not [t for t in s.trials if t.state == optuna.trial.TrialState.RUNNING]


def test_resume_keeps_the_run_target_and_can_extend_it(tmp_path):
    space = tiny_space(tmp_path, trials=6, epochs=1)
    run_dir = tmp_path / "run"
    assert len(run_search(_opts(space, run_dir, trials=2)).table) == 2
    # resuming without --trials keeps the run's own target (2), not the space default (6)
    assert len(run_search(SearchOptions(run_dir=str(run_dir), space=None, resume=True,
                                        progress=False)).table) == 2
    assert len(run_search(SearchOptions(run_dir=str(run_dir), space=None, resume=True,
                                        trials=3, progress=False)).table) == 3
    assert json.loads((run_dir / "run.json").read_text())["trials"] == 3
