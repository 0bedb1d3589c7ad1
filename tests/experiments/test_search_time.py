"""experiments/search_time.py: a whole search's wall time split into its parts."""

from __future__ import annotations

import importlib.util
import sys

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
