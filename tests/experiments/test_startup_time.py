"""experiments/startup_time.py: a trial process's start-up, timed in fresh processes."""

from __future__ import annotations

import importlib.util
import sys

from tests.helpers import REPO

sys.path.insert(0, str(REPO))
spec = importlib.util.spec_from_file_location("startup_time",
                                              REPO / "experiments" / "startup_time.py")
startup_time = importlib.util.module_from_spec(spec)
spec.loader.exec_module(startup_time)


def _run(seconds: float, wall: float, full: int) -> dict:
    return {"seconds": seconds, "process_wall": wall, "collections": [30, 3, full],
            "full_collection_s": 0.1, "garbage": 1500}


def test_each_side_gets_its_median_and_range():
    table = startup_time.summarize({
        "baseline": [_run(2.0, 2.1, 5), _run(2.4, 2.5, 5), _run(1.9, 2.0, 6)],
        "this": [_run(1.7, 1.8, 0), _run(1.6, 1.7, 0), _run(1.8, 1.9, 0)]})
    assert table[0] == "| median (range) | baseline | this |"
    rows = {line.split(" | ")[0].lstrip("| "): line for line in table[2:]}
    assert rows["start-up s"].endswith("| 2.00 (1.90-2.40) | 1.70 (1.60-1.80) |")
    assert rows["process wall s"].endswith("| 2.10 (2.00-2.50) | 1.80 (1.70-1.90) |")
    assert rows["full collections"].endswith("| 5.00 (5.00-6.00) | 0.00 (0.00-0.00) |")
    assert rows["garbage it finds, objects"].endswith("| 1500.00 (1500.00-1500.00) | "
                                                       "1500.00 (1500.00-1500.00) |")


def test_the_timed_snippet_is_valid_python_for_each_backend():
    for backend in ("tensorflow", "jax"):
        code = startup_time.SNIPPET.format(backend=backend)
        compile(code, "<snippet>", "exec")
        assert f"start_trial_process({backend!r})" in code
