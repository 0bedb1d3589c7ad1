"""The command line: clear one-line errors for bad input, listing and validating spaces."""

import pytest

from resnet_nas.cli import main
from tests.helpers import tiny_space


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
    assert "Traceback" not in err
    assert main(["spaces", "validate", str(bad)]) == 1


def test_missing_space_file(tmp_path, capsys):
    assert main(["search", str(tmp_path / "nope.yaml"), "--no-progress"]) == 2
    assert "nope.yaml" in capsys.readouterr().err


def test_run_dir_reuse_needs_resume(tmp_path, capsys):
    space = tiny_space(tmp_path, trials=1, epochs=1)
    run = tmp_path / "run"
    assert main(["search", str(space), "--run-dir", str(run), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["search", str(space), "--run-dir", str(run), "--no-progress"]) == 2
    assert "--resume" in capsys.readouterr().err
    other = tiny_space(tmp_path, name="tiny", trials=1, epochs=2)
    assert main(["search", str(other), "--resume", "--run-dir", str(run), "--no-progress"]) == 2
    assert "differs" in capsys.readouterr().err
    assert main(["search", "--resume", "--run-dir", str(tmp_path / "none"), "--no-progress"]) == 2


def test_export_missing_run(tmp_path, capsys):
    assert main(["export", "--run", str(tmp_path / "nothing")]) == 2
    assert "does not exist" in capsys.readouterr().err
