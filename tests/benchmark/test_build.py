import json

import pandas as pd
import pytest

from resnet_nas.benchmark.build import build_space
from resnet_nas.benchmark.replay import Combo, replay_study
from resnet_nas.benchmark.table import TableError, read_table
from tests.benchmark.spaces import tiny_space


def test_build_trains_each_architecture_once_and_resumes(tmp_path, fake_runner):
    _, path = tiny_space(tmp_path)
    out = tmp_path / "bench"
    report = build_space(path, out, None, runner_factory=fake_runner, log=lambda _: None)
    assert report.rows == 12 and report.trained == 12 and report.failed == 0
    assert len(fake_runner.jobs) == 12
    assert all(job.evaluate_test and job.train.epochs == 2 for job in fake_runner.jobs)
    df = pd.read_parquet(out / "benchmark.parquet")
    assert df["arch_key"].nunique() == 12 and set(df["state"]) == {"complete"}
    assert all(len(json.loads(c)) == 2 for c in df["val_accuracy_curve"])
    assert (out / "space.yaml").read_text() == path.read_text()
    again = build_space(path, out, None, runner_factory=fake_runner, log=lambda _: None)
    assert again.trained == 0 and again.rows == 12 and len(fake_runner.jobs) == 12


def test_a_stopped_build_resumes_where_it_stopped(tmp_path, fake_runner):
    _, path = tiny_space(tmp_path)
    out = tmp_path / "bench"
    fake_runner.script = {4: "interrupt"}
    with pytest.raises(KeyboardInterrupt):
        build_space(path, out, None, runner_factory=fake_runner, log=lambda _: None)
    rows = len(list((out / "rows").glob("*.json")))
    assert 4 <= rows < 12
    fake_runner.script = {}
    report = build_space(path, out, None, runner_factory=fake_runner, log=lambda _: None)
    assert report.rows == 12


def test_parallel_build_and_replay_of_the_table(tmp_path, fake_runner):
    space, path = tiny_space(tmp_path)
    out = tmp_path / "bench"
    build_space(path, out, None, workers=2, runner_factory=fake_runner, log=lambda _: None)
    table = read_table(out)
    assert len(table.entries) == 12 and table.epochs == 2
    assert table.space.hash() == space.hash()
    r = replay_study(table, Combo("random", "none"), 0, trials=12)
    assert r.steps[-1].regret == pytest.approx(0.0)


def test_a_benchmark_of_another_space_is_refused(tmp_path, fake_runner):
    _, path = tiny_space(tmp_path)
    out = tmp_path / "bench"
    build_space(path, out, None, runner_factory=fake_runner, log=lambda _: None)
    with pytest.raises(ValueError, match="epochs"):
        build_space(path, out, None, epochs=3, runner_factory=fake_runner, log=lambda _: None)
    (out / "space.yaml").write_text(path.read_text().replace("epochs: 2", "epochs: 5"))
    with pytest.raises(TableError, match="hash"):
        read_table(out)


def test_a_sub_space_replays_on_the_bigger_table_and_builds_first(tmp_path, fake_runner):
    from resnet_nas.benchmark.table import restrict
    from resnet_nas.space import load_space

    _, path = tiny_space(tmp_path)
    sub_path = tmp_path / "sub.yaml"
    sub_path.write_text(path.read_text().replace("unit: [v1_basic, v2_basic]", "unit: v2_basic"))
    out = tmp_path / "bench"
    fake_runner.script = {6: "interrupt"}
    with pytest.raises(KeyboardInterrupt):
        build_space(path, out, None, first=sub_path, runner_factory=fake_runner,
                    log=lambda _: None)
    fake_runner.script = {}
    assert {job.arch.unit for job in fake_runner.jobs[:6]} == {"v2_basic"}
    build_space(path, out, None, runner_factory=fake_runner, log=lambda _: None)
    table, size = restrict(read_table(out), load_space(sub_path))
    assert size == 6 and len(table.entries) == 6
    r = replay_study(table, Combo("random", "none"), 0, trials=6)
    assert {s.arch_key for s in r.steps} == set(table.entries) and r.missing == 0
    other = tmp_path / "other.yaml"
    other.write_text(sub_path.read_text().replace("epochs: 2", "epochs: 3"))
    with pytest.raises(TableError, match="recipe"):
        restrict(read_table(out), load_space(other))
