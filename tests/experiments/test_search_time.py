"""experiments/search_time.py: a whole search's wall time split into its parts."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from tests.helpers import REPO

sys.path.insert(0, str(REPO))
spec = importlib.util.spec_from_file_location("search_time",
                                              REPO / "experiments" / "search_time.py")
search_time = importlib.util.module_from_spec(spec)
spec.loader.exec_module(search_time)


def test_the_parts_add_up_to_the_wall_time():
    rows = [{"wall": 10.0, "start_up": 3.0, "compile": 2.0, "training": 4.0, "evaluation": 1.0},
            {"wall": 5.0, "start_up": 1.0, "compile": 1.0, "training": 2.5, "evaluation": 0.5}]
    parts = search_time.split(20.0, rows)
    assert parts == {"training": 6.5, "compile": 3.0, "evaluation": 1.5, "trial start": 4.0,
                     "search": 5.0}
    assert sum(parts.values()) == 20.0


def test_a_comparison_alternates_the_two_checkouts_run_by_run():
    assert search_time.alternation(3) == [("baseline", 1), ("this", 1), ("baseline", 2),
                                          ("this", 2), ("baseline", 3), ("this", 3)]


def _result(wall: float, training: float, compile_s: float) -> dict:
    return {"wall": wall, "parts": {"training": training, "compile": compile_s}}


def test_the_comparison_gives_each_side_its_median_and_range():
    summary = search_time.summarize({
        "baseline": [_result(10.0, 5.0, 1.0), _result(12.0, 6.0, 1.2), _result(20.0, 8.0, 1.1)],
        "this": [_result(10.0, 6.0, 0.8), _result(8.0, 6.0, 0.9), _result(9.0, 4.5, 0.7)]})
    assert summary["baseline"]["training share %"] == [50.0, 50.0, 40.0]
    assert summary["this"]["all but training"] == [4.0, 2.0, 4.5]
    table = search_time.comparison_table(summary)
    assert table[0] == "| median (range) | baseline | this |"
    rows = {line.split(" | ")[0].lstrip("| "): line for line in table[2:]}
    assert rows["wall"].endswith("| 12.00 (10.00-20.00) | 9.00 (8.00-10.00) |")
    assert rows["training share %"].endswith("| 50.00 (40.00-50.00) | 60.00 (50.00-75.00) |")
    assert rows["compile"].endswith("| 1.10 (1.00-1.20) | 0.80 (0.70-0.90) |")


@pytest.mark.parametrize("script", ["search_time.py", "startup_time.py"])
@pytest.mark.parametrize("flags, refused", [
    (["--against", "{tmp}"], "holds no resnet_nas package"),
    (["--repeat", "0"], "--repeat: expected a whole number >= 1")])
def test_a_bad_comparison_is_refused_before_any_run(tmp_path, script, flags, refused):
    """Both side-by-side scripts (the search's and a trial process's start-up) check their
    flags the same way (search_time.check_comparison_args)."""
    import subprocess

    proc = subprocess.run([sys.executable, str(REPO / "experiments" / script),
                           *[f.format(tmp=tmp_path) for f in flags],
                           "--out", str(tmp_path / "out")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert refused in proc.stderr
    assert not (tmp_path / "out").exists()


def test_the_checkout_timed_is_the_one_imported(tmp_path):
    search_time.check_checkout(REPO)  # this one: the package beside the script
    other = tmp_path / "other"
    (other / "resnet_nas").mkdir(parents=True)
    (other / "resnet_nas" / "__init__.py").write_text("")
    search_time.check_checkout(other)  # first on the path, whatever the current directory
    # a folder without the package's __init__ would not be the package imported
    (other / "resnet_nas" / "__init__.py").unlink()
    with pytest.raises(SystemExit, match="not from this checkout"):
        search_time.check_checkout(other)


def test_the_cpu_share_is_the_busy_part_of_all_cores_time():
    assert search_time.busy_share((100, 1000), (150, 1200)) == 0.75  # 50 idle of 200
    assert search_time.busy_share(None, (150, 1200)) is None
    assert search_time.busy_share((100, 1000), (100, 1000)) is None  # no time passed


def test_the_busy_samples_are_averaged_per_whole_second():
    samples = [(0.25, 0.5), (0.5, 0.7), (1.0, 0.9), (1.25, 1.0), (1.5, 0.8), (2.75, 0.2)]
    assert search_time.busy_by_second(samples) == [70, 90, 20]
    assert search_time.busy_by_second([]) == []


def test_a_searchs_cpu_is_sampled_while_it_runs(tmp_path, monkeypatch):
    """A stand-in for `python -m resnet_nas`: sleeps, writes nothing; the rows are empty."""
    fake = tmp_path / "fake" / "resnet_nas"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "__main__.py").write_text("import time; time.sleep(0.6)\n")
    monkeypatch.setattr(search_time, "timing", lambda run_dir: [])
    result = search_time.time_search(tmp_path / "fake", tmp_path / "run", [],
                                     sample_every=0.1)
    assert result["wall"] >= 0.6
    if search_time.cpu_times() is not None:  # Linux
        assert len(result["cpu_busy"]) >= 3
        assert all(0.0 <= share <= 1.0 for _, share in result["cpu_busy"])
        times = [t for t, _ in result["cpu_busy"]]
        assert times == sorted(times) and times[-1] <= result["wall"]
