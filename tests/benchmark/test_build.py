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
    assert all(len(c) == 2 for c in df["val_accuracy_curve"])
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


def test_seeds_train_every_architecture_once_per_seed_on_one_split(tmp_path, fake_runner):
    _, path = tiny_space(tmp_path)
    out = tmp_path / "bench"
    report = build_space(path, out, None, seeds=2, runner_factory=fake_runner,
                         log=lambda _: None)
    assert report.rows == 24 and report.trained == 24
    jobs = fake_runner.jobs
    # all architectures with the first seed before any with the second
    assert [j.train.seed for j in jobs] == [0] * 12 + [1] * 12
    assert {j.data_seed for j in jobs} == {0}  # the split is the space's, for every seed
    assert [j.arch.key() for j in jobs[:12]] == [j.arch.key() for j in jobs[12:]]
    df = pd.read_parquet(out / "benchmark.parquet")
    assert sorted(df["trial"]) == list(range(24))
    assert {k: sorted(g) for k, g in df.groupby("arch_key")["seed"]} == {
        k: [0, 1] for k in df["arch_key"]}
    table = read_table(out)
    assert len(table.entries) == 12
    assert all([r.seed for r in e.runs] == [0, 1] for e in table.entries.values())
    assert json.loads((out / "benchmark.json").read_text())["seeds"] == 2


def test_a_build_resumes_with_more_seeds_and_refuses_fewer(tmp_path, fake_runner):
    _, path = tiny_space(tmp_path)
    out = tmp_path / "bench"
    build_space(path, out, None, runner_factory=fake_runner, log=lambda _: None)
    before = {p.name: p.read_text() for p in (out / "rows").glob("*.json")}
    more = build_space(path, out, None, seeds=2, runner_factory=fake_runner,
                       log=lambda _: None)
    assert more.trained == 12 and more.rows == 24
    assert all((out / "rows" / name).read_text() == text for name, text in before.items())
    assert {j.train.seed for j in fake_runner.jobs[12:]} == {1}
    with pytest.raises(ValueError, match="--seeds 2"):
        build_space(path, out, None, seeds=1, runner_factory=fake_runner, log=lambda _: None)


def test_one_build_per_benchmark_directory(tmp_path, fake_runner):
    from resnet_nas.errors import RunBusyError
    from resnet_nas.lock import RunLock

    _, path = tiny_space(tmp_path)
    out = tmp_path / "bench"
    build_space(path, out, 3, runner_factory=fake_runner, log=lambda _: None)
    with RunLock(out).acquire("benchmark build"):
        with pytest.raises(RunBusyError, match="in use"):
            build_space(path, out, 3, runner_factory=fake_runner, log=lambda _: None)
    assert len(fake_runner.jobs) == 3
