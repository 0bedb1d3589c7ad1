"""A corpus of hostile and malformed input, fed to the command line as a user would: YAML
aliases, size, depth, encodings, tags, NaN/inf, huge numbers, path-like names, bad flags,
corrupted rows, run.json and study.db.

Every case must give exit status 2, one message that names the file / field / flag, no
traceback, and leave the disk as it was. "Refused without expanding" is asserted by what the
loader says (aliases refused, a size cap) and by the process's peak memory, never by wall time.
"""

from __future__ import annotations

import json
import resource
from pathlib import Path

import pytest

from resnet_nas.cli import main
from resnet_nas.engines import SearchOptions, run_search
from tests.fakes import FakeRunner
from tests.helpers import files_under, run_cli, tiny_space

BOMB = "\n".join(['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'] + [
    f"{c}: &{c} [{', '.join(['*' + p] * 9)}]"
    for p, c in zip("abcdefghi", "bcdefghij")]) + "\nname: bomb\n"


def run_main(capsys, *argv: str) -> tuple[int, str]:
    try:
        code = main(list(argv))
    except SystemExit as e:  # argparse
        code = e.code
    captured = capsys.readouterr()
    return code, captured.err


def assert_refused(code: int, err: str, *names: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err, err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    for name in names:
        assert name in lines[0], (name, lines[0])


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ---------------------------------------------------------------------------------------------
# Space files.
def _space_with(tmp_path: Path, old: str, new: str) -> Path:
    path = tiny_space(tmp_path)
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    return path


SPACE_CASES = {
    "alias bomb": (lambda p: p.write_text(BOMB), ["aliases (*name) are not accepted"]),
    "one alias": (lambda p: p.write_text("name: x\nspace: &s {unit: v1_basic}\nb: *s\n"),
                  ["aliases"]),
    "merge key": (lambda p: p.write_text("d: &d {epochs: 1}\ntrain:\n  <<: *d\n"), ["aliases"]),
    "20,000-deep flow list": (lambda p: p.write_text("space: " + "[" * 20000 + "]" * 20000),
                              ["nesting deeper than 64 levels"]),
    "100-deep block mapping": (lambda p: p.write_text(
        "".join("  " * i + f"k{i}:\n" for i in range(100)) + "  " * 100 + "v: 1\n"),
        ["nesting deeper than 64 levels"]),
    "2 MB file": (lambda p: p.write_text("name: big\ndescription: " + "x" * (2 << 20) + "\n"),
                  ["of at most 1,048,576 bytes"]),
    "UTF-16": (lambda p: p.write_bytes("name: x\n".encode("utf-16")), ["in UTF-8"]),
    "latin-1": (lambda p: p.write_bytes("name: caf\xe9\n".encode("latin-1")), ["in UTF-8"]),
    "NUL bytes": (lambda p: p.write_bytes(b"name: x\n\x00\x00\x00"), ["valid YAML"]),
    "python tag": (lambda p: p.write_text("name: !!python/object/apply:os.system [echo hi]\n"),
                   ["valid YAML"]),
    "unknown tag": (lambda p: p.write_text("name: !foo bar\n"), ["valid YAML"]),
    "empty file": (lambda p: p.write_text(""), ["expected a mapping"]),
    "a list": (lambda p: p.write_text("- 1\n- 2\n"), ["expected a mapping"]),
    "5,000-digit integer": (lambda p: p.write_text("name: x\nn: " + "9" * 5000 + "\n"),
                            ["values Python can hold"]),
}


@pytest.mark.parametrize("case", sorted(SPACE_CASES))
def test_a_hostile_space_file_is_refused(tmp_path, capsys, case):
    make, expected = SPACE_CASES[case]
    path = tmp_path / "hostile.yaml"
    make(path)
    before = files_under(tmp_path)
    rss = peak_rss_mb()
    code, err = run_main(capsys, "search", str(path), "--run-dir", str(tmp_path / "run"),
                         "--no-progress")
    assert_refused(code, err, str(path), *expected)
    assert files_under(tmp_path) == before
    assert peak_rss_mb() - rss < 200  # refused without expanding anything


@pytest.mark.parametrize("old, new, field", [
    ("learning_rate: 0.05", "learning_rate: .nan", "train.learning_rate"),
    ("learning_rate: 0.05", "learning_rate: .inf", "train.learning_rate"),
    ("learning_rate: 0.05", "learning_rate: -.inf", "train.learning_rate"),
    ("epochs: 2", "epochs: 1" + "0" * 400, "train.epochs"),
    ("batch_size: 64", "batch_size: 100000000000000000000", "train.batch_size"),
    ("validation_split: 0.25", "validation_split: .nan", "data.validation_split"),
    ("trials: 4", "trials: 1000000000", "search.trials"),
    ("seed: 0", "seed: 99999999999999999999", "search.seed"),
    ("name: tiny", "name: ../../escape", "name"),
    ("name: tiny", "name: /abs/path", "name"),
    ("name: tiny", "name: two words", "name"),
    ("name: tiny", "name: 2026-12-02", "name"),
    ("depths_non_decreasing: false", "max_params: 1" + "0" * 30, "constraints.max_params"),
    ("units: 1", "units: {choices: [" + ", ".join(str(i) for i in range(1, 5001)) + "]}",
     "space.stages.units"),
])
def test_absurd_values_are_refused_by_name(tmp_path, capsys, old, new, field):
    path = _space_with(tmp_path, old, new)
    before = files_under(tmp_path)
    code, err = run_main(capsys, "search", str(path), "--run-dir", str(tmp_path / "run"))
    assert_refused(code, err, str(path), field)
    assert files_under(tmp_path) == before
    code, _ = run_main(capsys, "spaces", "validate", str(path))
    assert code == 1


def test_a_space_file_that_is_not_a_regular_file_is_not_read(tmp_path, capsys):
    for target in (tmp_path, Path("/dev/zero")):  # /dev/zero would never end
        code = main(["spaces", "validate", str(target)])
        out = capsys.readouterr().out
        assert code == 1 and out.startswith(f"INVALID {target}: ") and "file not found" in out


def test_an_exported_config_with_an_alias_bomb_is_refused(tmp_path, capsys):
    path = tmp_path / "config.yaml"
    path.write_text(BOMB)
    code, err = run_main(capsys, "build", "--config", str(path), "--out", str(tmp_path / "m.keras"))
    assert_refused(code, err, str(path), "aliases")
    assert not (tmp_path / "m.keras").exists()


# ---------------------------------------------------------------------------------------------
# Flags.
@pytest.mark.parametrize("args, flag", [
    (["--trials", "-1"], "--trials"), (["--trials", "0"], "--trials"),
    (["--timeout", "-1"], "--timeout"), (["--timeout", "inf"], "--timeout"),
    (["--epochs", "0"], "--epochs"), (["--epochs", "1e400"], "--epochs"),
    (["--seed", "-1"], "--seed"), (["--sampler", "bogus"], "--sampler"),
    (["--data", "/nonexistent"], "--data"), (["--study-name", "../../x"], "--study-name"),
    (["--study-name", "/abs/x"], "--study-name"), (["--limit-train", "-5"], "--limit-train"),
    (["--sampler", "cmaes"], "--sampler"), (["--pruner", "median"], "--pruner"),
    (["--sampler-history", "5"], "--sampler-history"),
    (["--sampler", "random", "--sampler-history", "50"], "--sampler-history"),
])
def test_a_bad_flag_names_itself_and_creates_nothing(tmp_path, capsys, args, flag):
    # a multi-objective space: CMA-ES and pruners cannot serve it
    space = tiny_space(tmp_path, objectives=["val_accuracy", "params"])
    before = files_under(tmp_path)
    code, err = run_main(capsys, "search", str(space), "--run-dir", str(tmp_path / "run"), *args)
    assert_refused(code, err, f"argument {flag}")
    assert files_under(tmp_path) == before


def test_a_storage_password_never_reaches_a_file_or_a_message(tmp_path, capsys):
    space = tiny_space(tmp_path)
    for url in ("postgresql://user:S3CRET@127.0.0.1:1/db",
                "postgresql://127.0.0.1:1/db?user=u&password=S3CRET",
                "mysql+pymysql://u:S3CRET@127.0.0.1:1/db?ssl_key=x"):
        code, err = run_main(capsys, "search", str(space), "--run-dir", str(tmp_path / "run"),
                             "--storage", url)
        assert_refused(code, err, "cannot open storage")
        assert "S3CRET" not in err
    assert not (tmp_path / "run").exists()
    assert not any(b"S3CRET" in data for data in files_under(tmp_path).values())


# ---------------------------------------------------------------------------------------------
# Corrupted run directories.
@pytest.fixture
def run_dir(tmp_path):
    space = tiny_space(tmp_path, trials=2, epochs=1)
    run_search(SearchOptions(space=str(space), run_dir=str(tmp_path / "run"), progress=False),
               out=lambda line: None, runner_factory=FakeRunner)
    return tmp_path / "run"


def _resume(capsys, run_dir: Path, *extra: str) -> tuple[int, str]:
    return run_main(capsys, "search", "--resume", "--run-dir", str(run_dir), "--trials", "3",
                    "--no-progress", *extra)


@pytest.mark.parametrize("content, expected", [
    ("{}", "run.json: study: expected a value (required key is missing)"),
    ("[1, 2]", "run.json: <top level>: expected run metadata (a JSON object)"),
    ("{not json", "run.json: line 1, column 2"),
    ("[" * 20000 + "]" * 20000, "run.json"),
    ('{"format": 2, "engine": "optuna"}', "run.json: run_id"),
])
def test_a_corrupted_run_json_is_named_and_nothing_changes(run_dir, capsys, content, expected):
    (run_dir / "run.json").write_text(content)
    before = files_under(run_dir)
    code, err = _resume(capsys, run_dir)
    assert_refused(code, err, expected)
    assert files_under(run_dir) == before


def test_a_run_json_with_a_wrong_field_names_it(run_dir, capsys):
    meta = json.loads((run_dir / "run.json").read_text())
    meta["trials"] = -3
    (run_dir / "run.json").write_text(json.dumps(meta))
    code, err = _resume(capsys, run_dir)
    assert_refused(code, err, "run.json: trials: expected an integer >= 1")


@pytest.mark.parametrize("content, expected", [
    ("[1, 2]", "expected a results row (a JSON object)"),
    ('{"study": "tiny"', "expected a results row (valid JSON)"),
    ('{"study": "tiny", "trial": 0, "state": "exploded"}', "state: expected one of"),
])
def test_a_corrupted_row_is_named(run_dir, capsys, content, expected):
    row = sorted((run_dir / "rows").glob("*.json"))[0]
    row.write_text(content)
    before = files_under(run_dir)
    for argv in (["report", str(run_dir)], ["search", "--resume", "--run-dir", str(run_dir)],
                 ["export", "--run", str(run_dir)]):
        code, err = run_main(capsys, *argv)
        assert_refused(code, err, str(row), expected)
    assert files_under(run_dir) == before


def test_an_edited_space_yaml_in_a_run_dir_is_refused(run_dir, capsys):
    path = run_dir / "space.yaml"
    path.write_text(path.read_text() + "# an innocent-looking comment\n")
    before = files_under(run_dir)
    code, err = _resume(capsys, run_dir)
    assert_refused(code, err, "space.yaml was changed after the run started")
    assert files_under(run_dir) == before


def test_a_study_db_that_is_not_a_database_is_named(run_dir, capsys):
    (run_dir / "study.db").write_bytes(b"this is not a SQLite file" * 100)
    before = files_under(run_dir)
    code, err = _resume(capsys, run_dir)
    assert_refused(code, err, "cannot open storage", "study.db")
    assert files_under(run_dir) == before


@pytest.mark.parametrize("args, expected", [
    (["--epochs", "5"], "argument --epochs: this run's epochs per trial is 1"),
    (["--limit-train", "100"], "argument --limit-train: this run's training-set limit is None"),
    (["--sampler", "tpe"], "argument --sampler: this run's sampler is 'random'"),
    (["--seed", "7"], "argument --seed: this run's sampler seed is 0"),
    (["--engine", "keras-tuner"], "argument --engine: this run's engine is 'optuna'"),
    (["--storage", "sqlite:////tmp/other.db"], "argument --storage: this run's study is in"),
])
def test_a_resume_refuses_flags_it_cannot_honour(run_dir, capsys, tmp_path, args, expected):
    before = files_under(run_dir)
    code, err = _resume(capsys, run_dir, *args)
    assert_refused(code, err, expected)
    assert files_under(run_dir) == before


def test_a_resume_honours_and_records_a_new_backend_and_trial_target(run_dir, capsys,
                                                                     monkeypatch):
    from resnet_nas.engines import common
    monkeypatch.setattr(common, "TrialRunner", FakeRunner)
    code, err = _resume(capsys, run_dir, "--backend", "jax")
    assert code == 0, err
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["trials"] == 3 and meta["overrides"]["backend"] == "jax"
    assert meta["resumes"][-1]["backend"] == "jax"
    rows = [json.loads(p.read_text()) for p in sorted((run_dir / "rows").glob("*.json"))]
    assert [r["backend"] for r in rows] == ["tensorflow", "tensorflow", "jax"]


def test_a_resume_takes_a_moved_image_folder_but_not_other_data(tmp_path, capsys, monkeypatch):
    import shutil

    from PIL import Image
    from resnet_nas.engines import common

    monkeypatch.setattr(common, "TrialRunner", FakeRunner)
    for split, n in (("train", 40), ("test", 8)):
        for c in range(2):
            d = tmp_path / "images" / split / f"c{c}"
            d.mkdir(parents=True)
            for i in range(n):
                Image.new("RGB", (8, 8), (100 * c, i, 0)).save(d / f"{i}.png")
    space = tiny_space(tmp_path, trials=1, epochs=1)
    space.write_text(space.read_text().replace("batch_size: 64", "batch_size: 8"))
    cache = {"RESNET_NAS_CACHE": str(tmp_path / "cache")}
    for k, v in cache.items():
        monkeypatch.setenv(k, v)
    run = tmp_path / "run"
    assert main(["search", str(space), "--run-dir", str(run), "--data",
                 str(tmp_path / "images"), "--no-progress"]) == 0
    shutil.move(tmp_path / "images", tmp_path / "moved")
    capsys.readouterr()
    assert main(["search", "--resume", "--run-dir", str(run), "--trials", "2", "--data",
                 str(tmp_path / "moved"), "--no-progress"]) == 0
    assert json.loads((run / "run.json").read_text())["overrides"]["data"] == str(
        tmp_path / "moved")
    (tmp_path / "moved" / "train" / "c1" / "0.png").unlink()  # other data now
    capsys.readouterr()
    before = files_under(run)
    code, err = run_main(capsys, "search", "--resume", "--run-dir", str(run), "--trials", "3",
                         "--data", str(tmp_path / "moved"), "--no-progress")
    assert_refused(code, err, "the data set is not the one this run was started with")
    assert files_under(run) == before


def test_shards_without_images_are_refused_before_any_run_directory(tmp_path):
    from tests.data.helpers import encoded_image, write_tfrecords

    items = [(encoded_image((10, 0, 200), (8, 8), "PNG"), 0)] * 4
    shards = write_tfrecords(tmp_path / "shards", {"train": items, "validation": items},
                             drop_image=True)
    out = run_cli("search", "--data", str(shards), "--run-dir", str(tmp_path / "run"),
                  "--no-progress", cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "has no image/encoded" in out.stderr and "train-00000-of-00002" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert not (tmp_path / "run").exists()
