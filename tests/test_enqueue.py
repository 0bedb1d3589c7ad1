"""`search --enqueue`: known architectures as the study's first trials."""

import json

import optuna
import pytest

from resnet_nas import cli, results
from resnet_nas.engines import SearchOptions, run_search
from resnet_nas.errors import UsageError
from resnet_nas.trial_export import export_config
from resnet_nas.nets.known import known_architecture
from resnet_nas.space.locate import structure
from tests.helpers import files_under, tiny_space

CIFAR_ON_SYNTHETIC = ("data.name=synthetic", "train.epochs=1", "train.batch_size=16")


def search(runner, **kw):
    kw.setdefault("progress", False)
    return run_search(SearchOptions(**kw), out=lambda line: None, runner_factory=runner)


def test_baselines_are_the_first_trials_and_their_rows_say_so(tmp_path, fake_runner):
    summary = search(fake_runner, space="cifar_resnet", run_dir=str(tmp_path / "run"),
                     trials=6, sampler="random", pruner="none", sets=CIFAR_ON_SYNTHETIC,
                     enqueue=("baselines",))
    table = summary.table.set_index("trial")
    names = ["resnet20", "resnet32", "resnet44", "resnet56", "resnet110"]
    assert table["enqueued"].iloc[:5].tolist() == names and table["enqueued"].isna().iloc[5]
    for trial, name in enumerate(names):
        assert json.loads(table.loc[trial, "arch"])["blocks"] == [
            {"scope": b.scope, "units": [list(u) for u in b.units]}
            for b in known_architecture(name).blocks]
    assert set(table["state"]) == {"complete"}


def test_an_exported_config_is_trial_0_of_a_new_search(tmp_path, fake_runner):
    space = tiny_space(tmp_path, trials=3)
    first = search(fake_runner, space=str(space), run_dir=str(tmp_path / "a"))
    best = first.table.sort_values("best_val_accuracy").iloc[-1]
    config = export_config(tmp_path / "a", str(int(best["trial"])))
    second = search(fake_runner, space=str(space), run_dir=str(tmp_path / "b"), seed=7,
                    enqueue=(str(config),))
    row = second.table.set_index("trial").loc[0]
    assert row["arch_key"] == best["arch_key"] and row["enqueued"] == config.name
    study = optuna.load_study(study_name="tiny", storage=second.storage)
    assert study.trials[0].user_attrs["enqueued"] == config.name


def test_a_directory_of_configs_and_names_are_enqueued_once_each(tmp_path, fake_runner):
    space = tiny_space(tmp_path, trials=3)
    first = search(fake_runner, space=str(space), run_dir=str(tmp_path / "a"))
    folder = tmp_path / "picked"
    for t in first.table["trial"]:
        export_config(tmp_path / "a", str(int(t)), folder / f"t{int(t)}.yaml")
    keys = set(first.table["arch_key"])
    second = search(fake_runner, space=str(space), run_dir=str(tmp_path / "b"), trials=4,
                    enqueue=(str(folder), str(folder / "t0.yaml")))
    enqueued = second.table.dropna(subset=["enqueued"])
    assert set(enqueued["arch_key"]) == keys and len(enqueued) == len(keys)


@pytest.mark.parametrize("enqueue, says", [
    (("resnet_v1_50",), "argument --enqueue: is not a point of space 'cifar_resnet': unit "
                        "v1_bottleneck is not one of ['v1_basic', 'v2_basic']"),
    (("resnet57",), "did you mean 'resnet56'?"),
    (("nope/x.yaml",), "expected 'baselines', a known architecture"),
])
def test_what_cannot_be_enqueued_is_one_line_and_nothing_is_created(tmp_path, capsys, enqueue,
                                                                   says):
    argv = ["search", "cifar_resnet", "--run-dir", str(tmp_path / "run"), "--enqueue",
            *enqueue]
    for s in CIFAR_ON_SYNTHETIC:
        argv += ["--set", s]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0], err
    assert not (tmp_path / "run").exists()


def test_a_malformed_config_names_its_file(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("architecture: {blocks: 3}\n")
    assert cli.main(["search", str(tiny_space(tmp_path)), "--run-dir", str(tmp_path / "run"),
                     "--enqueue", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: architecture.blocks" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_enqueue_with_resume_keras_tuner_or_too_few_trials_is_refused(tmp_path, fake_runner):
    space = tiny_space(tmp_path, trials=1)
    with pytest.raises(UsageError, match="a resumed run keeps the trials it has"):
        search(fake_runner, space=None, run_dir=str(tmp_path / "r"), resume=True,
               enqueue=("baselines",))
    with pytest.raises(UsageError, match="keras-tuner engine's oracles take no given trials"):
        search(fake_runner, space=str(space), run_dir=str(tmp_path / "r"), engine="keras-tuner",
               enqueue=("x",))
    before = files_under(tmp_path)
    with pytest.raises(UsageError, match="5 architectures to enqueue, more than the run's 2"):
        search(fake_runner, space="cifar_resnet", run_dir=str(tmp_path / "r"), trials=2,
               sets=CIFAR_ON_SYNTHETIC, enqueue=("baselines",))
    assert files_under(tmp_path) == before


def test_a_known_network_of_another_data_set_is_the_same_network_here():
    a, b = known_architecture("resnet_v1_50"), known_architecture("resnet_v1_50", 10, (64, 64, 3))
    assert structure(a) == structure(b) and a.key() != b.key()
    assert results.SCHEMA["enqueued"][0] == "string"


def test_workers_run_the_architectures_enqueued_at_create_only(tmp_path):
    from resnet_nas.distributed.fanout import run_workers
    from resnet_nas.distributed.worker import WorkerOptions
    from tests.distributed.conftest import journal_url
    from tests.fakes import FakeRunner

    url = journal_url(tmp_path)
    space = tiny_space(tmp_path, trials=3)
    first = search(FakeRunner, space=str(space), run_dir=str(tmp_path / "a"), trials=1)
    config = export_config(tmp_path / "a", "0")
    search(FakeRunner, space=str(space), run_dir=str(tmp_path / "created"), storage=url,
           study_name="shared", create_only=True, enqueue=(str(config),))
    run_workers(WorkerOptions(study="shared", storage=url, run_dir=str(tmp_path / "w"),
                              progress=False), out=lambda s: None, runner_factory=FakeRunner)
    rows = results.load_table(tmp_path / "w").set_index("trial")
    assert rows.loc[0, "arch_key"] == first.table["arch_key"].iloc[0]
    assert rows.loc[0, "enqueued"] == config.name
