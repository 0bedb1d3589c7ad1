import pytest

from resnet_nas.cli import main


@pytest.mark.parametrize("argv, flag", [
    (["replay", "T", "--samplers", "tpe,grid"], "--samplers"),
    (["replay", "T", "--pruners", "median,asha"], "--pruners"),
    (["replay", "T", "--repeats", "0"], "--repeats"),
    (["replay", "T", "--sampler-history", "5"], "--sampler-history"),
    (["replay", "T", "--samplers", "random", "--sampler-history", "20"], "--sampler-history"),
    (["replay", "T"], "TABLE"),
    (["build", "quickstart", "--out", "OUT", "--archs", "0"], "--archs"),
    (["build", "quickstart", "--out", "OUT", "--workers", "x"], "--workers"),
    (["build", "quickstart", "--out", "OUT", "--seeds", "0"], "--seeds"),
    (["build", "quickstart", "--out", "OUT", "--data", "T"], "--data"),
])
def test_bad_input_is_one_line_exit_2_nothing_written(tmp_path, capsys, argv, flag):
    argv = [str(tmp_path / a) if a in ("T", "OUT") else a for a in argv]
    assert main(["benchmark", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and flag in err
    assert list(tmp_path.iterdir()) == []


def test_replay_writes_its_tables(tmp_path, capsys, fake_runner):
    from resnet_nas.benchmark.build import build_space
    from tests.benchmark.spaces import tiny_space

    _, path = tiny_space(tmp_path)
    build_space(path, tmp_path / "bench", None, runner_factory=fake_runner, log=lambda _: None)
    assert main(["benchmark", "replay", str(tmp_path / "bench"), "--samplers", "random",
                 "--pruners", "none,hyperband", "--repeats", "2", "--trials", "5",
                 "--processes", "1", "--out", str(tmp_path / "r")]) == 0
    assert {p.name for p in (tmp_path / "r").iterdir()} == {"replay.csv", "curves.csv",
                                                            "replay.md", "replay.html"}
    assert "random+hyperband" in capsys.readouterr().out


@pytest.mark.slow
def test_a_real_tiny_build_and_replay(tmp_path, capsys):
    """Real training (Keras in trial processes): 3 architectures of the tiny space, 1 epoch."""
    from tests.benchmark.spaces import tiny_space

    _, path = tiny_space(tmp_path)
    out = tmp_path / "bench"
    assert main(["benchmark", "build", str(path), "--out", str(out), "--archs", "3",
                 "--epochs", "1"]) == 0
    assert "3 architectures" in capsys.readouterr().out
    assert main(["benchmark", "replay", str(out), "--samplers", "random", "--pruners", "none",
                 "--repeats", "2", "--trials", "3", "--processes", "1"]) == 0
    assert (out / "replay.csv").exists()


def test_a_build_of_two_seeds_replays_and_says_how_the_seeds_agree(tmp_path, capsys, monkeypatch,
                                                                    fake_runner):
    from resnet_nas.benchmark import build
    from tests.benchmark.spaces import tiny_space

    monkeypatch.setattr(build, "TrialRunner", fake_runner)
    _, path = tiny_space(tmp_path)
    out = tmp_path / "bench"
    assert main(["benchmark", "build", str(path), "--out", str(out), "--seeds", "2"]) == 0
    assert "24 rows" in capsys.readouterr().out
    assert main(["benchmark", "replay", str(out), "--samplers", "random", "--pruners", "none",
                 "--repeats", "2", "--trials", "4", "--processes", "1"]) == 0
    printed = capsys.readouterr().out
    # the fake trains every seed alike: the two seeds agree perfectly
    assert "2 seeds per architecture (12 architectures)" in printed and "Spearman 1.000" in printed
    assert "Spearman 1.000" in (out / "replay.md").read_text()
