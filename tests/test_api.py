"""The Python API (resnet_nas.search, load_space, load_table, export, build_model): searches with
the in-process fake trial runner (no training), models built for real (Keras, no training)."""

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import resnet_nas
from resnet_nas.errors import UsageError
from resnet_nas.validation import ConfigError
from tests.helpers import REPO, cli_env, tiny_space

API = ["__version__", "build_model", "export", "load_space", "load_table", "search"]
#: What `import resnet_nas` must not import (each function imports what it needs when used).
HEAVY = ("keras", "tensorflow", "optuna", "keras_tuner", "jax", "torch", "pandas", "numpy",
         "yaml")
DOC = REPO / "docs" / "python_api.md"


@pytest.fixture
def fake_trials(monkeypatch, fake_runner):
    """Every search's trial runner is the in-process FakeRunner (as tests.fake_cli does with
    the process runner): search() is called exactly as a notebook calls it."""
    from resnet_nas.engines import common

    monkeypatch.setattr(common, "TrialRunner", fake_runner)
    return fake_runner


def probe(code: str) -> dict:
    """Runs `code` after `import resnet_nas` in a fresh interpreter: the heavy modules and
    resnet_nas modules imported, and whether the Keras import hook is installed."""
    script = f"""
import json, sys, time
t = time.perf_counter()
import resnet_nas
seconds = time.perf_counter() - t
{code}
print("PROBE", json.dumps({{
    "heavy": [m for m in {HEAVY!r} if m in sys.modules],
    "ours": sorted(m for m in sys.modules if m.split(".")[0] == "resnet_nas"),
    "hook": any(type(f).__name__ == "_AfterKerasImport" for f in sys.meta_path),
    "seconds": seconds}}))
"""
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=cli_env(),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("PROBE ")][-1]
    return json.loads(line.split(" ", 1)[1])


def test_import_resnet_nas_imports_nothing_heavy():
    seen = probe("")
    assert seen["heavy"] == []
    assert seen["ours"] == ["resnet_nas", "resnet_nas.keras_objects"]
    assert seen["hook"]  # keras.saving.load_model of our layers still works after the import
    # naming a function imports resnet_nas.api, still without Keras, TensorFlow or Optuna
    seen = probe("resnet_nas.search, resnet_nas.build_model, resnet_nas.export")
    assert "resnet_nas.api" in seen["ours"]
    assert not {"keras", "tensorflow", "optuna", "pandas"} & set(seen["heavy"])


def test_all_is_the_api_and_each_function_is_documented():
    assert sorted(resnet_nas.__all__) == API
    assert set(API) <= set(dir(resnet_nas))
    for name in API[1:]:
        fn = getattr(resnet_nas, name)
        assert callable(fn) and fn.__module__ == "resnet_nas.api", name
        assert "Args:" in fn.__doc__ and "Returns:" in fn.__doc__, name
    with pytest.raises(AttributeError, match="no attribute 'serach'"):
        resnet_nas.serach  # noqa: B018


def test_every_api_name_is_the_function_whatever_submodules_are_imported():
    # importing a submodule binds it on the package: no submodule may share an API name
    import resnet_nas.trial_export  # noqa: F401
    for name in set(resnet_nas.__all__) - {"__version__"}:
        assert f"resnet_nas.{name}" not in sys.modules, name
        assert getattr(resnet_nas, name) is getattr(resnet_nas.api, name)


def test_search_runs_the_trials_and_returns_the_table(tmp_path, fake_trials):
    space = tiny_space(tmp_path, trials=4, epochs=2)
    lines = []
    result = resnet_nas.search(space, trials=3, run_dir=tmp_path / "run", seed=2,
                               out=lines.append, progress=False)
    assert result.run_dir == tmp_path / "run" and (tmp_path / "run" / "run.json").exists()
    assert (tmp_path / "run" / "results.csv").exists() and result.study == "tiny"
    table = result.table
    assert sorted(table["trial"]) == [0, 1, 2] and set(table["state"]) == {"complete"}
    assert len(fake_trials.jobs) == 3 and (table["trainer"] == "fake").all()
    # trials=3 overrode the space's 4, seed=2 its 0 (recorded in run.json)
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert meta["trials"] == 3 and meta["seed"] == 2
    best = result.best
    # (seed 2: the best is not the first trial, and the three accuracies differ)
    assert table["best_val_accuracy"].nunique() == 3
    assert best["best_val_accuracy"] == table["best_val_accuracy"].max()
    assert int(best["trial"]) == int(table.loc[table["best_val_accuracy"].idxmax(), "trial"])
    assert result.leaderboard(1)["trial"].tolist() == [int(best["trial"])]
    assert f"run: {tmp_path / 'run'}  study: tiny" in lines
    assert "3 trained trials: 3 complete" in lines
    assert not result.interrupted and not result.all_failed
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.study = "other"
    assert "storage" not in repr(result) and "table" not in repr(result)
    # the run directory reads back as the same table
    again = resnet_nas.load_table(tmp_path / "run")
    assert again["trial"].tolist() == table["trial"].tolist()
    assert again["best_val_accuracy"].tolist() == table["best_val_accuracy"].tolist()
    # resume continues the same run up to the new target
    more = resnet_nas.search(resume=True, run_dir=str(tmp_path / "run"), trials=5, out=None)
    assert sorted(more.table["trial"]) == [0, 1, 2, 3, 4] and more.study == "tiny"


def test_a_quiet_search_prints_nothing(tmp_path, fake_trials, capsys):
    result = resnet_nas.search(tiny_space(tmp_path, trials=2), run_dir=tmp_path / "run",
                               out=None)
    assert len(result.table) == 2
    assert capsys.readouterr() == ("", "")


def test_bad_arguments_are_refused_before_anything_is_written(tmp_path, fake_trials):
    space = tiny_space(tmp_path)
    with pytest.raises(TypeError, match="unexpected keyword argument 'trails'"):
        resnet_nas.search(space, run_dir=tmp_path / "run", trails=3)
    with pytest.raises(TypeError, match="'space_opt'"):
        resnet_nas.search(space, run_dir=tmp_path / "run", space_opt=str(space))
    # values are checked by SearchOptions, as the command's flags are
    with pytest.raises(UsageError, match="--trials"):
        resnet_nas.search(space, run_dir=tmp_path / "run", trials=0)
    with pytest.raises(UsageError, match="--sampler"):
        resnet_nas.search(space, run_dir=tmp_path / "run", sampler="nope", out=None)
    with pytest.raises(ConfigError, match="--set"):
        resnet_nas.search(space, run_dir=tmp_path / "run", sets="no-equals-sign")
    assert not (tmp_path / "run").exists() and fake_trials.jobs == []


def test_load_space_reads_a_shipped_space_or_a_file(tmp_path):
    space = resnet_nas.load_space("quickstart")
    assert space.name == "quickstart" and Path(space.source).name == "quickstart.yaml"
    assert resnet_nas.load_space("quickstart", {"train.epochs": 3}).train.epochs == 3
    assert resnet_nas.load_space(tiny_space(tmp_path)).name == "tiny"
    with pytest.raises(ConfigError, match="shipped spaces"):
        resnet_nas.load_space("no_such_space")


def test_export_and_build_model_give_the_trials_network(tmp_path, fake_trials):
    result = resnet_nas.search(tiny_space(tmp_path, trials=3), run_dir=tmp_path / "run",
                               out=None)
    table, best = result.table, result.best
    path = resnet_nas.export(result.run_dir)
    assert path == tmp_path / "run" / "exports" / f"trial_{int(best['trial'])}.yaml"
    model = resnet_nas.build_model(path)
    assert model.count_params() == int(best["params"])
    assert model.get_layer("normalize") is not None  # the trial's input normalisation
    # a run directory's trial, without a file: the same network
    assert resnet_nas.build_model(result.run_dir).count_params() == int(best["params"])
    other = table[table["params"] != best["params"]].iloc[0]  # the tiny space's nets differ
    built = resnet_nas.build_model(result.run_dir, trial=int(other["trial"]))
    assert built.count_params() == int(other["params"])
    written = resnet_nas.export(result.run_dir, trial=int(other["trial"]), out=tmp_path / "o.yaml")
    assert written == tmp_path / "o.yaml"
    assert resnet_nas.build_model(written).count_params() == int(other["params"])
    with pytest.raises(ValueError, match="leave trial out"):
        resnet_nas.build_model(path, trial=0)
    with pytest.raises(ValueError, match="trial 99 is not in this run"):
        resnet_nas.export(result.run_dir, trial=99)


def doc_code() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def test_the_docs_name_only_the_api():
    text = DOC.read_text()
    used = set(re.findall(r"resnet_nas\.(\w+)\(", text))
    assert used and used <= set(API), sorted(used - set(API))
    for name in API[1:]:
        assert f"resnet_nas.{name}(" in text, name


def test_the_docs_python_runs(tmp_path, monkeypatch, fake_trials, capsys):
    # every block, in order, as a notebook runs them (the trials fake, the models real)
    monkeypatch.chdir(tmp_path)
    blocks = doc_code()
    assert len(blocks) >= 5
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)  # noqa: S102 - our own docs
    assert len(namespace["more"].table) == 8 and namespace["path"].exists()
    assert "unexpected keyword argument 'trails'" in capsys.readouterr().out

