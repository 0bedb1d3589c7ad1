"""Rendering (text, Markdown, HTML), exports and the `report` command line."""

from __future__ import annotations

import argparse
import base64
import io
import re

import pandas as pd
import pytest

from resnet_nas.report import (ReportError, ReportOptions, add_report_arguments, build_report,
                               export_tables, render_report, run_report)
from resnet_nas.report.browser import find_chromium, pixel_stats, screenshot
from resnet_nas.report.formatting import to_markdown, to_text
from resnet_nas.report.html import render_html
from resnet_nas.report.plots import report_figures

IMG = re.compile(r'<img [^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def _parse(argv):
    parser = argparse.ArgumentParser()
    add_report_arguments(parser)
    return parser.parse_args(argv)


def test_markdown_table_exact():
    df = pd.DataFrame({"name": ["a|b", None], "val_accuracy": [0.5, float("nan")],
                       "hours": [0.123456, 2.0],
                       "params": pd.array([12345, 7], dtype="Int64")})
    assert to_markdown(df) == ("| name | val_accuracy | hours | params |\n"
                               "|:---|---:|---:|---:|\n"
                               "| a\\|b | 0.5000 | 0.1235 | 12,345 |\n"
                               "| - | - | 2 | 7 |")


def test_text_table_aligns_numbers_right():
    df = pd.DataFrame({"study": ["x", "long"], "trials": [3, 12]})
    assert to_text(df).splitlines() == ["study  trials", "-----  ------", "x           3",
                                        "long       12"]


def test_render_report_text_and_markdown(hand_frame):
    report = build_report(hand_frame, ReportOptions(n_boot=50, top=3))
    text = render_report(report, "text")
    for title in ("Leaderboard (top 3", "Per-study summary", "Pareto front: accuracy vs params",
                  "Pareto front: accuracy vs FLOPs", "Error EDF by space",
                  "Two-sample KS statistic", "Anytime performance", "Rank stability within",
                  "Rank stability across epoch budgets"):
        assert title in text
    md = render_report(report, "markdown")
    assert "## Per-study summary" in md and "| rank | study_label |" in md


def test_build_report_options(hand_frame):
    with pytest.raises(ReportError, match="did you mean 'sampler'"):
        build_report(hand_frame, ReportOptions(by="samplr"))
    r = build_report(hand_frame, ReportOptions(by="engine", n_boot=0))
    assert r.section("edf_summary").table["group"].tolist() == ["optuna"]
    assert r.section("edf_ks").table.empty
    # params: A = 100, 300 and B = 50, 350 share no bin of 10 -> falls back with a note
    r = build_report(hand_frame, ReportOptions(normalize="flops", n_boot=0, bins=10))
    assert r.edf.normalize == "none" and "normalized EDF unavailable" in r.notes[0]


def test_html_is_self_contained_with_every_figure(hand_frame):
    report = build_report(hand_frame, ReportOptions(n_boot=50))
    figures = report_figures(report)
    assert [f.key for f in figures] == ["pareto", "edf", "anytime", "rank_stability"]
    page = render_html(report, figures=figures)
    images = IMG.findall(page)
    assert len(images) == len(figures)
    from PIL import Image
    for data in images:
        with Image.open(io.BytesIO(base64.b64decode(data))) as im:
            assert im.format == "PNG" and im.width > 300
    assert not re.search(r"https?://", page)
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page
    assert "optuna-dashboard sqlite:///RUN_DIR/study.db" in page


def test_export_tables_round_trip(hand_frame, tmp_path):
    report = build_report(hand_frame, ReportOptions(n_boot=0))
    paths = export_tables(report, tmp_path / "out")
    names = {p.name for p in paths}
    for key in ["results"] + [s.key for s in report.sections]:
        assert {f"{key}.csv", f"{key}.parquet"} <= names
    combined = pd.read_parquet(tmp_path / "out" / "results.parquet")
    assert list(combined.columns) == list(hand_frame.columns) and len(combined) == 7
    lb = pd.read_csv(tmp_path / "out" / "leaderboard.csv")
    assert lb["best_val_accuracy"].tolist() == [0.90, 0.85, 0.80, 0.70]
    summary = pd.read_parquet(tmp_path / "out" / "studies.parquet").set_index("study_label")
    assert summary.loc["rnd", "gpu_hours"] == pytest.approx(1.0)


def test_cli_writes_everything(hand_runs, tmp_path, capsys):
    args = _parse([str(d) for d in hand_runs] + [
        "--top", "2", "--format", "markdown", "--bootstrap", "20", "--out", str(tmp_path / "o"),
        "--html", str(tmp_path / "r.html"), "--normalize", "params", "--bins", "1"])
    assert run_report(args) == 0
    out = capsys.readouterr().out
    assert "## Leaderboard (top 2" in out and "normalized for params" in out
    assert (tmp_path / "o" / "edf_ks.csv").exists()
    assert len(IMG.findall((tmp_path / "r.html").read_text())) == 4


def test_cli_errors(tmp_path, capsys):
    assert run_report(_parse([str(tmp_path / "missing")])) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert run_report(_parse([str(tmp_path / "empty")])) == 2
    assert f"no trials recorded yet in {str(tmp_path / 'empty')!r}" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _parse([str(tmp_path), "--normalize", "macs"])


@pytest.mark.skipif(find_chromium() is None, reason="chromium is not installed")
def test_html_renders_in_headless_chromium(hand_frame, tmp_path):
    page = render_html(build_report(hand_frame, ReportOptions(n_boot=50)))
    html = tmp_path / "report.html"
    html.write_text(page)
    st = pixel_stats(screenshot(html, tmp_path / "shot.png", width=1200, height=2400))
    assert st.non_white_fraction > 0.02
    # Control: the same page without its images. Tables and text are grey, so the coloured
    # pixels (markers, lines, bands) can only come from figures that really rendered.
    bare = tmp_path / "bare.html"
    bare.write_text(IMG.sub("<img alt=''", page))
    control = pixel_stats(screenshot(bare, tmp_path / "bare.png", width=1200, height=2400))
    assert control.colored < 100
    assert st.colored > 2000 + control.colored


def test_report_of_a_run_with_nothing_complete(tmp_path):
    from resnet_nas.report import load_runs
    from tests.helpers import write_row
    for t, state in enumerate(["failed", "pruned"]):
        write_row(tmp_path / "r", study="s", trial=t, state=state,
                  val_accuracy_curve=[0.3] if state == "pruned" else None,
                  best_val_accuracy=0.3 if state == "pruned" else None)
    report = build_report(load_runs([tmp_path / "r"]), ReportOptions(normalize="flops"))
    assert "no complete trials yet" in report.notes[0]
    assert report.section("leaderboard").table.empty
    assert report.section("studies").table["pruned"].tolist() == [1]
    assert report_figures(report) == []
    page = render_html(report)
    assert "no complete trials yet" in page and "(no rows)" in render_report(report)


@pytest.mark.parametrize("kwargs, flag", [({"top": 0}, "--top"), ({"n_boot": -1}, "--bootstrap"),
                                          ({"level": 1.0}, "--level"), ({"bins": 0}, "--bins"),
                                          ({"short_epoch": 0}, "--short-epoch")])
def test_bad_options_name_the_flag(hand_frame, kwargs, flag):
    with pytest.raises(ReportError, match=f"{flag} expects"):
        build_report(hand_frame, ReportOptions(**kwargs))


def test_cli_parser_is_cheap_to_build():
    import subprocess
    import sys
    code = ("import sys, argparse; from resnet_nas.report import add_report_arguments; "
            "add_report_arguments(argparse.ArgumentParser()); "
            "print([m for m in ('pandas', 'scipy', 'matplotlib') if m in sys.modules])")
    from pathlib import Path
    root = str(Path(__file__).resolve().parents[2])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=root).stdout
    assert out.strip() == "[]"


def test_run_report_accepts_a_minimal_namespace(hand_runs, tmp_path, capsys):
    ns = argparse.Namespace(run_dirs=[str(hand_runs[0])], bootstrap=0)
    assert run_report(ns) == 0
    assert "Leaderboard (top 10" in capsys.readouterr().out
    (tmp_path / "blocker").write_text("a file where --out wants a folder")
    ns = argparse.Namespace(run_dirs=[str(hand_runs[0])], bootstrap=0,
                            out=str(tmp_path / "blocker"))
    assert run_report(ns) == 1
    assert "cannot write report output" in capsys.readouterr().err
