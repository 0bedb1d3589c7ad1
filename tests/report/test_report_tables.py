"""Leaderboard, per-study summary and Pareto fronts against numbers worked out by hand
(see conftest.py for the runs)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from resnet_nas.report import ReportError
from resnet_nas.report.tables import (describe_arch, leaderboard, pareto_front, pareto_mask,
                                      study_summary)


def test_leaderboard_order_excludes_duplicates_and_unfinished(hand_frame):
    lb = leaderboard(hand_frame, top=10)
    assert list(zip(lb["study_label"], lb["trial"])) == [("tpe", 1), ("rnd", 0), ("tpe", 0),
                                                         ("rnd", 1)]
    assert lb["rank"].tolist() == [1, 2, 3, 4]
    assert lb["best_val_accuracy"].tolist() == [0.90, 0.85, 0.80, 0.70]
    assert lb["params"].tolist() == [300, 350, 100, 50]
    assert list(leaderboard(hand_frame, top=2)["trial"]) == [1, 0]


def test_leaderboard_ties_prefer_fewer_params(hand_frame):
    f = hand_frame.copy()
    f.loc[(f["study"] == "rnd") & (f["trial"] == 0), "best_val_accuracy"] = 0.90
    lb = leaderboard(f, top=2)
    assert list(zip(lb["study_label"], lb["params"])) == [("tpe", 300), ("rnd", 350)]


def test_leaderboard_rejects_bad_top(hand_frame):
    with pytest.raises(ReportError, match="--top"):
        leaderboard(hand_frame, top=0)


def test_study_summary(hand_frame):
    s = study_summary(hand_frame).set_index("study_label")
    tpe, rnd = s.loc["tpe"], s.loc["rnd"]
    assert (tpe["trials"], tpe["complete"], tpe["pruned"], tpe["failed"], tpe["duplicate"]) \
        == (4, 2, 1, 0, 1)
    assert (rnd["trials"], rnd["complete"], rnd["pruned"], rnd["failed"], rnd["duplicate"]) \
        == (3, 2, 0, 1, 0)
    assert tpe["best_val_accuracy"] == 0.90 and tpe["median_val_accuracy"] == pytest.approx(0.85)
    assert rnd["best_val_accuracy"] == 0.85 and rnd["median_val_accuracy"] == pytest.approx(0.775)
    # The duplicate's copied 1800 s is not counted again.
    assert tpe["train_hours"] == pytest.approx((3600 + 1800 + 600) / 3600)
    assert tpe["gpu_hours"] == pytest.approx((3600 + 1800 + 600) / 3600)
    assert rnd["train_hours"] == pytest.approx((7200 + 3600 + 100) / 3600)
    assert rnd["gpu_hours"] == pytest.approx(1.0)   # only the A100 row
    assert tpe["wall_hours"] == pytest.approx(3.5)  # 08:00 -> 11:30
    assert rnd["wall_hours"] == pytest.approx(4 + 10 / 60)  # 09:00 -> 13:10
    assert tpe["engine"] == "optuna" and tpe["sampler"] == "tpe" and tpe["space"] == "A"


def test_pareto_fronts_by_hand(hand_frame):
    # params: rnd1 (50, .70), tpe0 (100, .80), tpe1 (300, .90); rnd0 (350, .85) is dominated
    # by tpe1. The pruned (200, .40) and the duplicate of tpe1 must not appear.
    fp = pareto_front(hand_frame, "params")
    assert list(zip(fp["study_label"], fp["trial"])) == [("rnd", 1), ("tpe", 0), ("tpe", 1)]
    assert fp["params"].tolist() == [50, 100, 300]
    # flops: rnd1 (800, .70), tpe1 (2000, .90); tpe0 (2500, .80) and rnd0 (3000, .85) are
    # dominated; the pruned trial's 500 FLOPs would be on the front if it were counted.
    ff = pareto_front(hand_frame, "flops")
    assert list(zip(ff["study_label"], ff["trial"])) == [("rnd", 1), ("tpe", 1)]


def test_pareto_front_per_group(hand_frame):
    fp = pareto_front(hand_frame, "flops", by="space")
    assert list(zip(fp["space"], fp["trial"])) == [("A", 1), ("B", 1), ("B", 0)]


def test_pareto_mask_edge_cases():
    cost = np.array([1.0, 1.0, 2.0, 2.0, 3.0])
    acc = np.array([0.5, 0.5, 0.5, 0.7, 0.6])
    # Identical points do not dominate each other; equal cost + lower acc is dominated;
    # equal acc + higher cost is dominated.
    assert pareto_mask(cost, acc).tolist() == [True, True, False, True, False]


def test_leaderboard_and_fronts_show_the_architecture(tmp_path):
    from resnet_nas.nets.arch import Architecture, BlockSpec
    from resnet_nas.report import load_runs
    from tests.helpers import write_row
    archs = [Architecture(blocks=(BlockSpec("block1", ((16, 16, 1), (16, 16, 1))),
                                  BlockSpec("block2", ((32, 32, 2),))),
                          unit="v1_basic", root="cifar", root_depth=16),
             Architecture(blocks=(BlockSpec("block1", ((64, 16, 1),)),), unit="v2_bottleneck",
                          root="imagenet")]
    for t, (arch, acc) in enumerate(zip(archs, (.7, .8))):
        write_row(tmp_path / "r", trial=t, state="complete", best_val_accuracy=acc,
                  params=100 * (t + 1), arch=arch.to_dict(), arch_key=arch.key())
    write_row(tmp_path / "r", trial=2, state="complete", best_val_accuracy=.6, params=50)
    frame = load_runs([tmp_path / "r"])
    lb = leaderboard(frame)
    assert lb["architecture"].tolist()[:2] == [archs[1].describe(), archs[0].describe()]
    assert lb["architecture"].tolist()[0] == "v2_bottleneck imagenet64 | 64(16)x1/1"
    assert pd.isna(lb["architecture"].iloc[2])  # no arch recorded
    assert pareto_front(frame, "params")["architecture"].tolist()[-1] == archs[1].describe()
    assert describe_arch('{"blocks": "not a list"}') is None and describe_arch("{oops") is None


def test_report_never_imports_a_deep_learning_backend():
    from tests.helpers import imported_backends

    assert imported_backends("import resnet_nas.report.build, resnet_nas.report.html, "
                             "resnet_nas.report.tables") == []


def test_pareto_mask_agrees_with_the_definition_on_random_points():
    """The sweep keeps exactly the points no other point dominates (ties included)."""
    rng = np.random.default_rng(0)
    for _ in range(50):
        n = int(rng.integers(1, 40))
        cost = rng.integers(0, 6, n).astype(float)  # many ties on purpose
        acc = rng.integers(0, 6, n).astype(float)
        dominated = [any(cost[j] <= cost[i] and acc[j] >= acc[i]
                         and (cost[j] < cost[i] or acc[j] > acc[i]) for j in range(n))
                     for i in range(n)]
        assert pareto_mask(cost, acc).tolist() == [not d for d in dominated]
