"""Benchmark replays kept in a run directory join its report: their table and regret figure."""

import pandas as pd

from resnet_nas.report import build_report, load_runs
from resnet_nas.report.html import render_html
from resnet_nas.report.plots import report_figures
from resnet_nas.report.replays import SHOWN, find_replays


def _write_replay(directory, combos=(("tpe", "none"), ("random", "hyperband"))):
    directory.mkdir(parents=True, exist_ok=True)
    summary = []
    for i, (sampler, pruner) in enumerate(combos):
        row = {c: 0.1 * (i + 1) for c in SHOWN}
        row.update(combo=f"{sampler}+{pruner}", sampler=sampler, pruner=pruner, repeats=20)
        summary.append(row)
    pd.DataFrame(summary).to_csv(directory / "replay.csv", index=False)
    curves = [{"combo": r["combo"], "compute_epochs": float(c), "regret_mean": 0.1 / (c + 1),
               "regret_low": 0.05 / (c + 1), "regret_high": 0.2 / (c + 1)}
              for r in summary for c in range(5)]
    pd.DataFrame(curves).to_csv(directory / "curves.csv", index=False)


def test_a_replay_beside_the_rows_gets_a_section_and_a_figure(hand_runs):
    r1, r2 = hand_runs
    _write_replay(r1 / "replay-20x100")
    report = build_report(load_runs([r1, r2]))
    section = report.section("replay_1")
    assert section.title.endswith("r1/replay-20x100")
    assert list(section.shown()["pruner"]) == ["none", "hyperband"]
    figures = [f for f in report_figures(report) if f.section == "replay_1"]
    assert len(figures) == 1 and figures[0].png.startswith(b"\x89PNG")
    page = render_html(report, figures=figures)
    assert "Replayed search on the benchmark in r1/replay-20x100" in page
    assert page.index("Replayed search") < page.index("anytime regret of the replay")


def test_no_replay_no_section(hand_runs):
    report = build_report(load_runs(list(hand_runs)))
    assert not report.replays and not [s for s in report.sections if s.key.startswith("replay")]


def test_an_unreadable_replay_is_left_out_with_a_note(tmp_path, hand_runs):
    r1, _ = hand_runs
    bad = r1 / "replay-bad"
    _write_replay(bad)
    pd.DataFrame({"combo": ["x"]}).to_csv(bad / "replay.csv", index=False)  # columns missing
    found, notes = find_replays([r1])
    assert found == [] and len(notes) == 1 and "replay-bad" in notes[0]
    assert "no column" in notes[0]
