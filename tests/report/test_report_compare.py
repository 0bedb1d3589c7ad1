"""Like with like: fronts, EDFs, leaderboards and rank correlations never pool data sets
(see conftest.py: two digits runs and a CIFAR-10 run whose models are smaller and worse)."""

from __future__ import annotations

import pandas as pd

from resnet_nas import results
from resnet_nas.report import ReportOptions, add_derived, build_report
from resnet_nas.report.edf import default_group_column, edf_analysis
from resnet_nas.report.fidelity import curve_rank_stability
from resnet_nas.report.frame import UNKNOWN_DATA
from resnet_nas.report.tables import leaderboard, pareto_front


def _frame(rows: list[dict]) -> pd.DataFrame:
    frame = results.to_frame([{"study": "s", "trial": i, "state": "complete", **r}
                              for i, r in enumerate(rows)])
    frame["run_dir"] = "r"
    return add_derived(frame)


def test_dataset_label_names_the_data_and_tells_same_names_apart():
    f = _frame([{"dataset": "digits", "data_fingerprint": "aaaaaaaa1111"},
                {"dataset": "digits", "data_fingerprint": "bbbbbbbb2222"},
                {"dataset": "cifar10", "data_fingerprint": "cccccccc3333"},
                {"dataset": "cifar10-jpeg.tar.gz", "data_fingerprint": "cccccccc3333"},
                {"dataset": None, "data_fingerprint": None},
                {"dataset": None, "data_fingerprint": "dddddddd4444"}])
    assert f["dataset_label"].tolist() == [
        "digits [aaaaaaaa]", "digits [bbbbbbbb]",
        "cifar10 / cifar10-jpeg.tar.gz", "cifar10 / cifar10-jpeg.tar.gz",  # one fingerprint
        UNKNOWN_DATA, "data dddddddd"]


def test_pareto_front_is_per_data_set(mixed_frame):
    front = pareto_front(mixed_frame, "params")
    got = list(zip(front["dataset_label"], front["study_label"], front["trial"]))
    # Pooled, CIFAR's (20, .60) and (30, .62) would sit on the digits front and its (400, .65)
    # would be dominated by digits models; per data set each keeps its own front.
    assert got == [("cifar10", "cifar", 0), ("cifar10", "cifar", 2), ("cifar10", "cifar", 1),
                   ("digits", "rnd", 1), ("digits", "tpe", 0), ("digits", "tpe", 1)]


def test_leaderboard_ranks_within_each_data_set(mixed_frame):
    lb = leaderboard(mixed_frame, top=3)
    assert list(lb.columns[:2]) == ["dataset_label", "rank"]
    assert list(zip(lb["dataset_label"], lb["rank"], lb["best_val_accuracy"])) == [
        ("cifar10", 1, .65), ("cifar10", 2, .62), ("cifar10", 3, .60),
        ("digits", 1, .90), ("digits", 2, .85), ("digits", 3, .80)]


def test_edf_groups_and_ks_pairs_stay_within_a_data_set(mixed_frame):
    assert default_group_column(mixed_frame) == "space"  # digits has spaces A and B
    res = edf_analysis(mixed_frame, n_boot=0)
    assert list(zip(res.summary["dataset_label"], res.summary["group"])) == [
        ("cifar10", "C"), ("digits", "A"), ("digits", "B")]
    assert list(zip(res.ks["dataset_label"], res.ks["group_a"], res.ks["group_b"])) == [
        ("digits", "A", "B")]
    # Each data set's EDF runs over its own errors only.
    cifar = res.curves[res.curves["dataset_label"] == "cifar10"]
    assert sorted(cifar["error"].round(6)) == [0.35, 0.38, 0.40]


def test_default_grouping_ignores_spaces_that_only_differ_by_data_set(mixed_frame):
    # Spaces C (CIFAR) and A (digits) are never compared, so by space would show one curve
    # per data set: group by sampler instead.
    digits_a = mixed_frame[(mixed_frame["space"] != "B")]
    assert default_group_column(digits_a) == "sampler"


def test_rank_correlation_pools_studies_of_one_data_set_only(mixed_frame):
    t = curve_rank_stability(mixed_frame, short_epoch=1)
    pooled = t[t["study_label"] == "all"]
    assert pooled["dataset_label"].tolist() == ["digits"]  # cifar has a single study
    assert pooled["n"].tolist() == [4]


def test_report_says_when_runs_record_no_data_set(tmp_path):
    from resnet_nas.report import load_runs
    from tests.helpers import write_row
    for run in ("a", "b"):
        write_row(tmp_path / run, study=run, trial=0, state="complete", best_val_accuracy=0.5)
    report = build_report(load_runs([tmp_path / "a", tmp_path / "b"]), ReportOptions(n_boot=0))
    assert any("record no data set" in n for n in report.notes)
