"""The report's comparison of a search with the baselines it started from."""

import math

from resnet_nas.report import ReportOptions, build_report, load_runs
from resnet_nas.report.baselines import baseline_comparison
from tests.helpers import write_row


def _run(tmp_path, enqueued=True):
    rows = [(0, "resnet20" if enqueued else None, 0.80, 1000),
            (1, "resnet56" if enqueued else None, 0.85, 3000),
            (2, None, 0.90, 1500), (3, None, 0.70, 500)]
    for trial, label, acc, params in rows:
        write_row(tmp_path, trial=trial, state="complete", best_val_accuracy=acc,
                  params=params, flops=params * 10, val_images=1000, enqueued=label,
                  val_accuracy_curve=(acc,), epochs_run=1, epochs_planned=1)
    return load_runs([tmp_path])


def test_the_best_found_trial_is_set_against_the_best_baseline(tmp_path):
    table = baseline_comparison(_run(tmp_path))
    row = table.iloc[0]
    assert (row["baseline"], row["baseline_trial"], row["found_trial"]) == ("resnet56", 1, 2)
    assert math.isclose(row["gain"], 0.05)
    se = math.hypot(math.sqrt(0.85 * 0.15 / 1000), math.sqrt(0.9 * 0.1 / 1000))
    assert math.isclose(row["gain_se"], se) and bool(row["beyond_noise"])
    assert math.isclose(row["params_ratio"], 0.5)


def test_the_section_is_shown_only_for_searches_with_baselines(tmp_path):
    report = build_report(_run(tmp_path / "a"), ReportOptions(n_boot=0))
    shown = report.section("baselines").shown()
    assert shown["best baseline"].tolist() == ["resnet56 (trial 1)"]
    assert shown["gain"].tolist()[0].startswith("0.050 ± 0.0")
    plain = build_report(_run(tmp_path / "b", enqueued=False), ReportOptions(n_boot=0))
    assert "baselines" not in [s.key for s in plain.sections]
