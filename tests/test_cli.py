"""The command line: listing and validating spaces, the search's output and exit codes, and
argparse-style one-line errors that name the flag (the hostile corpus is test_hostile_input)."""

import pytest

from resnet_nas.cli import main
from resnet_nas.engines import common
from tests.fakes import FakeRunner
from tests.helpers import files_under, run_cli, tiny_space


@pytest.fixture
def fake(monkeypatch):
    """Searches started by main() in this process train nothing."""
    FakeRunner.jobs, FakeRunner.script = [], {}
    monkeypatch.setattr(common, "TrialRunner", FakeRunner)
    return FakeRunner


def test_spaces_list_and_validate(capsys):
    assert main(["spaces"]) == 0
    out = capsys.readouterr().out
    for name in ("quickstart", "cifar_resnet", "slim_imagenet", "anynet"):
        assert name in out
    assert main(["spaces", "validate", "quickstart", "anynet"]) == 0


@pytest.mark.parametrize("yaml_text, expected", [
    ("name: x\nspace:\n  unit: v1_basic\n  stagse: {}\n", "did you mean 'stages'"),
    ("name: x\nspace:\n  unit: v9_basic\n  stages: {count: 2, depth: 8, units: 1, stride: 1}\n",
     "space.unit"),
    ("name: x\nspace: [unclosed\n", "bad.yaml"),
    ("name: x\nspace:\n  unit: v1_basic\n  stages: {count: 2, depth: 8, units: 1, stride: 1}\n"
     "train: {epochs: zero}\n", "train.epochs"),
])
def test_bad_space_gives_clear_error(tmp_path, capsys, yaml_text, expected):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml_text)
    code = main(["search", str(bad), "--run-dir", str(tmp_path / "run"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert "bad.yaml" in err and expected in err
    assert "Traceback" not in err and not (tmp_path / "run").exists()
    assert main(["spaces", "validate", str(bad)]) == 1


def test_missing_space_file(tmp_path, capsys):
    assert main(["search", str(tmp_path / "nope.yaml"), "--no-progress"]) == 2
    assert "nope.yaml" in capsys.readouterr().err


def test_search_prints_the_counts_the_leaderboard_and_the_export_command(tmp_path, capsys,
                                                                          fake):
    space = tiny_space(tmp_path, trials=3, epochs=1)
    assert main(["search", str(space), "--run-dir", str(tmp_path / "run"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "3 trained trials: 3 complete" in out and "leaderboard" in out
    assert f"export --run {tmp_path / 'run'} --trial best" in out
    # each accuracy with its standard error on the fake trials' validation images
    from tests.fakes import FAKE_VAL_IMAGES

    assert " ± " in out and f" {FAKE_VAL_IMAGES} " in out


def test_the_leaderboard_says_why_a_pruned_trial_is_not_ranked(tmp_path):
    from resnet_nas import results
    from resnet_nas.cli import human_count, leaderboard, left_out_note
    from tests.helpers import write_row

    for t, (state, acc) in enumerate([("complete", 0.9), ("pruned", 0.88), ("complete", 0.8)]):
        write_row(tmp_path, trial=t, state=state, best_val_accuracy=acc, val_images=400,
                  enqueued="resnet8" if t == 2 else None,
                  params=12345, flops=2_290_496, epochs_run=3 if state == "complete" else 1,
                  epochs_planned=3, train_seconds=1.23456,
                  arch={"unit": "v1_basic", "root": "cifar", "root_depth": 8, "shortcut": "A",
                        "output_stride": None, "num_classes": 10, "input_shape": [8, 8, 1],
                        "blocks": [{"scope": "block1", "units": [[8, 8, 1]]}]})
    table = results.load_table(tmp_path)
    board = leaderboard(table)
    assert board["trial"].tolist() == [0, 2] and board["val accuracy"][0] == "0.900 ± 0.015"
    assert board["FLOPs"][0] == "2.29 M" and board["train s"][0] == "1.2"
    assert board["params"][0] == "12,345"
    assert board["architecture"].tolist() == ["v1_basic cifar8 | 8x1/1",  # enqueued: named
                                              "resnet8 = v1_basic cifar8 | 8x1/1"]
    assert "1 pruned trial(s) stopped early are left out, the best of them trial 1 at 0.880 " \
           "after 1 of 3 epochs" in left_out_note(table)
    assert human_count(968_000) == "968 k" and human_count(12) == "12"


def test_run_dir_reuse_needs_resume(tmp_path, capsys, fake):
    space = tiny_space(tmp_path, trials=1, epochs=1)
    run = tmp_path / "run"
    assert main(["search", str(space), "--run-dir", str(run), "--no-progress"]) == 0
    capsys.readouterr()
    before = files_under(run)
    assert main(["search", str(space), "--run-dir", str(run), "--no-progress"]) == 2
    assert "--resume" in capsys.readouterr().err
    other = tiny_space(tmp_path, name="tiny", trials=1, epochs=2)
    assert main(["search", str(other), "--resume", "--run-dir", str(run), "--no-progress"]) == 2
    assert "another space" in capsys.readouterr().err
    assert main(["search", "--resume", "--run-dir", str(tmp_path / "none"),
                 "--no-progress"]) == 2
    assert files_under(run) == before


def test_export_missing_run(tmp_path, capsys):
    assert main(["export", "--run", str(tmp_path / "nothing")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("flag, value, expected", [
    ("--trials", "-1", "expected an integer from 1 to"),
    ("--trials", "0", "expected an integer from 1 to"),
    ("--trials", "many", "expected an integer from 1 to"),
    ("--timeout", "-1", "expected a number of seconds > 0"),
    ("--timeout", "nan", "expected a number of seconds > 0"),
    ("--epochs", "0", "expected an integer from 1 to"),
    ("--seed", "-1", "expected an integer from 0 to"),
    ("--limit-train", "0", "expected an integer from 1 to"),
    ("--max-trials-per-worker", "0", "expected an integer from 1 to"),
    ("--engine", "bogus", "expected one of optuna, keras-tuner"),
    ("--pruner", "medain", "expected one of none, median, successive_halving, hyperband (did you "
     "mean 'median'?)"),
])
def test_a_bad_flag_is_one_line_that_names_it(tmp_path, capsys, flag, value, expected):
    # text that is no number stops argparse; a value out of range or not among the names is
    # refused by the options' one check (SearchOptions.validate): both exit with status 2
    try:
        code = main(["search", "quickstart", "--run-dir", str(tmp_path / "run"), flag, value])
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and f"argument {flag}" in lines[0] and expected in lines[0]
    assert lines[0].startswith("python -m resnet_nas search: error:")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("args, expected", [
    (["--sampler", "bogus"], "argument --sampler: expected one of tpe, random, cmaes, nsga2"),
    (["--sampler", "hyperband"], "'hyperband' is a sampler of --engine keras-tuner"),
    (["--data", "/nonexistent"], "argument --data: expected an image-folder directory or tar "
     "archive (.tar, .tar.gz, .tgz, .tar.bz2, .tar.xz), or a directory of TFRecord shards (no "
     "such file or directory), got '/nonexistent'"),
    (["--study-name", "../../x"], "argument --study-name: expected a name of letters"),
    (["--resume", "--create-only"], "argument --create-only: cannot be combined"),
])
def test_a_bad_value_found_after_parsing_still_names_the_flag(tmp_path, capsys, args, expected):
    code = main(["search", str(tiny_space(tmp_path)), "--run-dir", str(tmp_path / "run"), *args])
    err = capsys.readouterr().err
    assert code == 2 and expected in err and len(err.strip().splitlines()) == 1
    assert err.startswith("python -m resnet_nas search: error: ")
    assert not (tmp_path / "run").exists()


def test_a_run_dir_that_is_a_file_is_named(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    code = main(["search", str(tiny_space(tmp_path)), "--run-dir", str(tmp_path / "afile")])
    err = capsys.readouterr().err
    assert code == 2 and "argument --run-dir: expected a directory, found a file" in err
    assert "Traceback" not in err


def test_a_mistyped_flag_gets_the_closest_ones(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["search", "--trails", "3"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--trails: did you mean --trials?" in err


def test_space_descriptions_are_cut_at_a_word(capsys):
    from resnet_nas.space import load_space, shipped_space_paths

    assert main(["spaces"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if not line.startswith(" ")]
    for line, path in zip(lines, sorted(shipped_space_paths().items())):
        desc = line.split(None, 1)[1]
        words = " ".join(load_space(path[1]).description.split()).split()
        shown = desc.removesuffix(" ...").split()
        assert shown == words[:len(shown)], line  # whole words only


def test_a_closed_pipe_ends_quietly(tmp_path):
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "resnet_nas", "spaces"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()  # as `| head -1` does
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_hints_quote_paths_with_spaces_and_create_only_says_what_comes_next(tmp_path):
    import shlex

    space = tiny_space(tmp_path, trials=1, epochs=1)
    run_dir = tmp_path / "my runs" / "a b"
    out = run_cli("search", str(space), "--run-dir", str(run_dir), "--no-progress",
                  cwd=tmp_path, fake=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert f"export --run {shlex.quote(str(run_dir))} --trial best" in out.stdout
    journal = tmp_path / "study files" / "s.journal"
    url = f"journal:///{journal.as_posix().lstrip('/')}"
    out = run_cli("search", str(space), "--run-dir", str(tmp_path / "created"), "--storage",
                  url, "--create-only", cwd=tmp_path, fake=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert (f"next, on every machine: python -m resnet_nas worker --study tiny --storage "
            f"{shlex.quote(url)}") in out.stdout


def test_a_full_disk_anywhere_in_an_errors_chain_is_one_line():
    import errno
    import sqlite3

    from resnet_nas.cli import disk_full
    from resnet_nas.errors import DiskFullError
    from resnet_nas.storage import StorageError

    assert disk_full(ValueError("other")) is None
    assert "no space left on the device of /x/rows/a.json" in disk_full(DiskFullError(
        "/x/rows/a.json"))
    try:
        try:
            raise sqlite3.OperationalError("database or disk is full")
        except sqlite3.OperationalError:
            raise StorageError("exceeding max length") from None  # what Optuna would say
    except StorageError as e:
        assert "SQLite storage (database or disk is full)" in disk_full(e)
    e = OSError(errno.ENOSPC, "No space left on device", "/tmp/f")
    assert "no space left on the device of /tmp/f" in disk_full(e)
