"""A hand-made pair of run directories whose report numbers are checked by hand in the tests.

run "r1", study "tpe" (optuna/tpe, space A, GPU):
  t0 complete acc .80 params 100 flops 2500 train 3600 s  finished 10:00  curve .5 .7 .8
  t1 complete acc .90 params 300 flops 2000 train 1800 s  finished 09:00  curve .6 .85 .9
  t2 pruned   acc .40 params 200 flops  500 train  600 s  finished 11:00  curve .4
  t3 duplicate of t1 (same numbers, 1800 s copied)         finished 11:30
  all started 08:00
run "r2", study "rnd" (optuna/random, space B):
  t0 complete acc .85 params 350 flops 3000 train 7200 s cpu          finished 12:00 curve .7 .8 .85
  t1 complete acc .70 params  50 flops  800 train 3600 s NVIDIA A100  finished 13:00 curve .3 .6 .7
  t2 failed                               train  100 s cpu          finished 13:10
  all started 09:00
Both runs trained on the same data set ('digits', one fingerprint), so they are compared.

run "r3" (`write_cifar_run`), study "cifar" (optuna/tpe, space C) on CIFAR-10:
  t0 complete acc .60 params  20 flops  100     t1 complete acc .65 params 400 flops 5000
  t2 complete acc .62 params  30 flops  300     t3 pruned   acc .30 params  10 flops   50
Its accuracies are lower (harder data) and its models smaller: pooled with the digits runs it
would crowd their front and leaderboard.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import write_row

GPU = "NVIDIA H100 80GB HBM3"
DIGITS = {"dataset": "digits", "data_fingerprint": "f28fee3682af1229"}


def _rec(study, trial, state, acc=None, params=None, flops=None, secs=None, curve=None,
         device=GPU, finished="10:00", **extra):
    rec = {"study": study, "trial": trial, "state": state, "best_val_accuracy": acc,
           "final_val_accuracy": curve[-1] if curve else None, "params": params,
           "flops": flops, "train_seconds": secs, "val_accuracy_curve": curve,
           "device": device, "finished_at": f"2025-01-01T{finished}:00+00:00",
           "epochs_planned": 3, "epochs_run": len(curve or [])}
    rec.update(DIGITS)
    rec.update(extra)
    return rec


def write_hand_runs(root: Path) -> tuple[Path, Path]:
    r1, r2 = root / "r1", root / "r2"
    tpe = dict(space="A", sampler="tpe", engine="optuna", started_at="2025-01-01T08:00:00Z")
    rnd = dict(space="B", sampler="random", engine="optuna", started_at="2025-01-01T09:00:00Z")
    for rec in [
        _rec("tpe", 0, "complete", .80, 100, 2500, 3600, [.5, .7, .8], arch_key="a0", **tpe),
        _rec("tpe", 1, "complete", .90, 300, 2000, 1800, [.6, .85, .9], finished="09:00",
             arch_key="a1", **tpe),
        _rec("tpe", 2, "pruned", .40, 200, 500, 600, [.4], finished="11:00", arch_key="a2",
             **tpe),
        _rec("tpe", 3, "duplicate", .90, 300, 2000, 1800, [.6, .85, .9], finished="11:30",
             arch_key="a1", duplicate_of=1, **tpe),
    ]:
        write_row(r1, **rec)
    for rec in [
        _rec("rnd", 0, "complete", .85, 350, 3000, 7200, [.7, .8, .85], device="cpu",
             finished="12:00", arch_key="b0", **rnd),
        _rec("rnd", 1, "complete", .70, 50, 800, 3600, [.3, .6, .7], device="NVIDIA A100",
             finished="13:00", arch_key="b1", **rnd),
        _rec("rnd", 2, "failed", None, None, None, 100, None, device="cpu", finished="13:10",
             arch_key="b2", reason="OOM", **rnd),
    ]:
        write_row(r2, **rec)
    return r1, r2


CIFAR10 = {"dataset": "cifar10", "data_fingerprint": "9c1e6d0b7a2f4e11"}


def write_cifar_run(root: Path) -> Path:
    r3 = root / "r3"
    cifar = dict(space="C", sampler="tpe", engine="optuna", started_at="2025-01-01T08:00:00Z",
                 **CIFAR10)
    for rec in [
        _rec("cifar", 0, "complete", .60, 20, 100, 600, [.4, .5, .6], arch_key="c0", **cifar),
        _rec("cifar", 1, "complete", .65, 400, 5000, 600, [.5, .6, .65], arch_key="c1",
             **cifar),
        _rec("cifar", 2, "complete", .62, 30, 300, 600, [.45, .55, .62], arch_key="c2",
             **cifar),
        _rec("cifar", 3, "pruned", .30, 10, 50, 100, [.3], arch_key="c3", **cifar),
    ]:
        write_row(r3, **rec)
    return r3


@pytest.fixture
def mixed_frame(tmp_path):
    """The two digits runs and the CIFAR-10 run in one report frame."""
    from resnet_nas.report import load_runs
    return load_runs([*write_hand_runs(tmp_path / "runs"), write_cifar_run(tmp_path / "runs")])


@pytest.fixture
def hand_runs(tmp_path) -> tuple[Path, Path]:
    return write_hand_runs(tmp_path / "runs")


@pytest.fixture
def hand_frame(hand_runs):
    from resnet_nas.report import load_runs
    return load_runs(hand_runs)
