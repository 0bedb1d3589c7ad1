"""`configs`: a space's architectures as configs, without training."""

import csv
import os
import shutil

import pytest

from resnet_nas import cli
from resnet_nas.arch_config import load_config
from resnet_nas.generate import GenerateOptions, generate_configs
from resnet_nas.space import load_space
from tests.helpers import files_under, tiny_space


def _main(argv) -> int:
    """cli.main, with argparse's refusals (SystemExit) as their exit status."""
    try:
        return cli.main(argv)
    except SystemExit as e:
        return int(e.code)


def _index(folder):
    with open(folder / "index.csv") as f:
        return list(csv.DictReader(f))


def test_generated_configs_build_to_the_params_of_their_index(tmp_path):
    from resnet_nas.retrain import build_config

    space = tiny_space(tmp_path)
    written = generate_configs(GenerateOptions(space=str(space), out=str(tmp_path / "c"),
                                               count=3, seed=1))
    rows = _index(tmp_path / "c")
    assert [r["file"] for r in rows] == [g.file for g in written] and len(rows) == 3
    assert len({r["arch_key"] for r in rows}) == 3
    for row in rows[:2]:
        info = build_config(tmp_path / "c" / row["file"], tmp_path / f"{row['file']}.keras")
        assert info["params"] == int(row["params"])
        cfg = load_config(tmp_path / "c" / row["file"])
        assert cfg.arch.key() == row["arch_key"] and cfg.arch.layers == int(row["depth"])
        assert cfg.data.name == "synthetic" and cfg.train.epochs == 2


def test_the_same_seed_writes_the_same_files_and_another_seed_others(tmp_path):
    space = str(tiny_space(tmp_path))
    out = tmp_path / "c"
    generate_configs(GenerateOptions(space=space, out=str(out), count=5, seed=4))
    first = files_under(out)
    shutil.rmtree(out)
    generate_configs(GenerateOptions(space=space, out=str(out), count=5, seed=4))
    assert files_under(out) == first
    generate_configs(GenerateOptions(space=space, out=str(tmp_path / "d"), count=5, seed=5))
    assert [r["arch_key"] for r in _index(tmp_path / "d")] != [r["arch_key"]
                                                                for r in _index(out)]


def test_all_lists_every_architecture_and_order_sorts_the_index(tmp_path):
    written = generate_configs(GenerateOptions(space="cifar_resnet", out=str(tmp_path / "c"),
                                               all=True, order="flops"))
    assert len(written) == 2 * 4 * 2 * 5  # units x multipliers x shortcuts x n
    flops = [int(r["flops"]) for r in _index(tmp_path / "c")]
    assert flops == sorted(flops)
    depths = {int(r["depth"]) for r in _index(tmp_path / "c")}
    assert depths == {20, 32, 44, 56, 110}


def test_qmc_samples_are_distinct_and_feasible(tmp_path):
    space = tiny_space(tmp_path, extra_constraints={"max_params": 3000})
    written = generate_configs(GenerateOptions(space=str(space), out=str(tmp_path / "c"),
                                               count=4, sampler="qmc"))
    assert len({g.arch.key() for g in written}) == 4
    assert all(g.params <= 3000 for g in written)


def test_generated_configs_can_start_a_search(tmp_path, fake_runner):
    from resnet_nas.engines import SearchOptions, run_search

    space = tiny_space(tmp_path, trials=3)
    generate_configs(GenerateOptions(space=str(space), out=str(tmp_path / "c"), count=2))
    summary = run_search(SearchOptions(space=str(space), run_dir=str(tmp_path / "run"),
                                       enqueue=(str(tmp_path / "c"),), progress=False),
                         out=lambda line: None, runner_factory=fake_runner)
    keys = [r["arch_key"] for r in _index(tmp_path / "c")]
    assert summary.table.set_index("trial")["arch_key"].iloc[:2].tolist() == keys


@pytest.mark.parametrize("argv, says", [
    (["--count", "0"], "argument --count: expected an integer from 1 to 10000, got '0'"),
    (["--count", "2", "--seed", "-1"], "argument --seed: expected an integer from 0"),
    (["--count", "2", "--sampler", "tpe"], "argument --sampler: invalid choice: 'tpe'"),
    (["--count", "2", "--all"], "argument --all: not allowed with argument --count"),
    (["--count", "2", "--set", "space.unit=v9"], "space.unit: expected one of"),
])
def test_bad_flags_are_one_line_and_write_nothing(tmp_path, capsys, argv, says):
    space = tiny_space(tmp_path)
    before = files_under(tmp_path)
    assert _main(["configs", str(space), "--out", str(tmp_path / "c"), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0], err
    assert files_under(tmp_path) == before and not (tmp_path / "c").exists()


def test_a_folder_with_other_files_is_refused(tmp_path, capsys):
    space = tiny_space(tmp_path)
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "mine.txt").write_text("keep")
    assert cli.main(["configs", str(space), "--out", str(tmp_path / "c"), "--count", "1"]) == 2
    assert "expected a new or empty folder" in capsys.readouterr().err
    assert os.listdir(tmp_path / "c") == ["mine.txt"]
    (tmp_path / "f").write_text("x")
    assert cli.main(["configs", str(space), "--out", str(tmp_path / "f"), "--count", "1"]) == 2
    assert "found a file" in capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_folder_is_refused(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    assert cli.main(["configs", str(tiny_space(tmp_path)), "--out", str(locked / "c"),
                     "--count", "1"]) == 2
    assert "permission denied" in capsys.readouterr().err


def test_a_space_smaller_than_the_count_or_too_large_to_list_is_said(tmp_path, capsys):
    fixed = tiny_space(tmp_path, name="one", fixed=True)
    assert cli.main(["configs", str(fixed), "--out", str(tmp_path / "c"), "--count", "2"]) == 2
    assert "found only 1 distinct feasible architectures" in capsys.readouterr().err
    wide = tiny_space(tmp_path, name="wide")
    space = load_space(wide, overrides={"space.stages.depth": {"low": 1, "high": 4096}})
    assert space.stages.depth.high == 4096
    assert cli.main(["configs", str(wide), "--out", str(tmp_path / "c"), "--all", "--set",
                     "space.stages.depth={low: 1, high: 4096}"]) == 2
    assert "holds more than 10,000 architectures" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()
