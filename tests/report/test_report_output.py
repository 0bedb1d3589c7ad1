"""Rendering (text, Markdown, HTML), exports and the `report` command line."""

from __future__ import annotations

import argparse
import base64
import html as html_lib
import io
import re

import pandas as pd
import pytest

from resnet_nas.report import (ReportError, ReportOptions, add_report_arguments, build_report,
                               export_tables, render_report, run_report)
from resnet_nas.report.browser import dump_dom, find_chromium, pixel_stats, screenshot
from resnet_nas.report.fidelity import NOT_ENOUGH_DATA
from resnet_nas.report.formatting import to_markdown, to_text
from resnet_nas.report.html import render_html
from resnet_nas.report.plots import rank_legend, report_figures
from resnet_nas.report.tables import STUDY_DISPLAY_COLUMNS, STUDY_SUMMARY_COLUMNS

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
    for title in ("Leaderboard (top 3", "Per-study summary",
                  "Pareto front per data set: accuracy vs params",
                  "Pareto front per data set: accuracy vs FLOPs", "Error EDF by space",
                  "Two-sample KS statistic", "Anytime performance", "Rank stability within",
                  "Rank stability across epoch budgets"):
        assert title in text
    md = render_report(report, "markdown")
    assert "## Per-study summary" in md and "| dataset_label | rank | study_label |" in md


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
    assert [f.key for f in figures] == ["pareto_params", "pareto_flops", "edf", "anytime",
                                        "rank_stability_epochs"]
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
    assert len(IMG.findall((tmp_path / "r.html").read_text())) == 5


def test_cli_errors(tmp_path, capsys):
    assert run_report(_parse([str(tmp_path / "missing")])) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert run_report(_parse([str(tmp_path / "empty")])) == 2
    assert f"{str(tmp_path / 'empty')!r} is not a run directory" in capsys.readouterr().err
    (tmp_path / "empty" / "rows").mkdir()
    assert run_report(_parse([str(tmp_path / "empty")])) == 2
    assert f"no trials recorded yet in {str(tmp_path / 'empty')!r}" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _parse([str(tmp_path), "--normalize", "macs"])


def _headings(page: str) -> dict[str, list[str]]:
    """h2 heading -> alt texts of the figures between it and the next heading."""
    out = {}
    for chunk in page.split("<h2>")[1:]:
        title, _, body = chunk.partition("</h2>")
        out[html_lib.unescape(title)] = re.findall(r"<img alt='([^']*)'", body)
    return out


def test_every_figure_sits_under_its_own_heading(hand_frame):
    # The four complete architectures retrained for 9 epochs, so every figure has data.
    extra = hand_frame[hand_frame["state"] == "complete"].copy()
    extra["study_label"], extra["epochs_planned"] = "final", 9
    extra["best_val_accuracy"] = extra["best_val_accuracy"] + 0.05
    frame = pd.concat([hand_frame, extra], ignore_index=True)
    report = build_report(frame, ReportOptions(n_boot=0))
    titles = {s.key: s.title for s in report.sections}
    by_title = _headings(render_html(report))
    assert by_title[titles["pareto_params"]] == ["Accuracy vs params per data set"]
    assert by_title[titles["pareto_flops"]] == ["Accuracy vs FLOPs (multiply-adds) per data set"]
    assert by_title[titles["edf_summary"]] == ["Error EDF per data set"]
    assert by_title[titles["edf_ks"]] == []
    assert by_title[titles["rank_stability_epochs"]] == ["Rank stability within trials"]
    assert by_title[titles["rank_stability_budgets"]] == ["Rank stability across epoch budgets"]


def test_undefined_correlations_say_not_enough_data(hand_frame):
    # tpe and rnd have 2 trials each reaching epoch 3: too few for a rank correlation.
    report = build_report(hand_frame, ReportOptions(n_boot=0))
    section = report.section("rank_stability_epochs")
    assert section.table["spearman"].isna().sum() == 2  # exports keep NaN
    for text in (render_report(report, "text"), render_report(report, "markdown"),
                 render_html(report, figures=[])):
        part = text[text.index(section.title):]
        part = part[:part.index("Rank stability across")]
        # spearman and kendall of both studies (the description names it once more)
        assert part.count(NOT_ENOUGH_DATA) == 5 and "nan" not in part.lower()
    assert rank_legend("tpe: epoch 1 vs 3", 2, float("nan"), float("nan")) \
        == "tpe: epoch 1 vs 3 (n=2): rho, tau: not enough data"
    assert rank_legend("all", 4, 0.8, 2 / 3) == "all (n=4): rho=0.80, tau=0.67"


def test_study_table_shows_what_a_person_needs_and_exports_everything(hand_frame, tmp_path):
    report = build_report(hand_frame, ReportOptions(n_boot=0))
    shown = report.section("studies").shown()
    assert list(shown.columns) == STUDY_DISPLAY_COLUMNS
    assert {"engine", "gpu_hours", "run_dir"}.isdisjoint(shown.columns)
    text = render_report(report, "text")
    table = text[text.index("Per-study summary"):].split("\n\n")[2]
    assert max(len(line) for line in table.splitlines()) <= 160
    export_tables(report, tmp_path)
    assert list(pd.read_csv(tmp_path / "studies.csv").columns) == list(STUDY_SUMMARY_COLUMNS)


@pytest.mark.skipif(find_chromium() is None, reason="chromium is not installed")
def test_html_renders_in_headless_chromium(hand_frame, tmp_path):
    report = build_report(hand_frame, ReportOptions(n_boot=50))
    figures = report_figures(report)
    page = render_html(report, figures=figures)
    # The browser records how many images it decoded, and --dump-dom shows it.
    probe = ("<script>window.addEventListener('load', () => document.body.setAttribute("
             "'data-decoded', [...document.images].filter(i => i.naturalWidth > 0).length));"
             "</script></body>")
    html = tmp_path / "report.html"
    html.write_text(page.replace("</body>", probe))
    dom = dump_dom(html)
    assert f'data-decoded="{len(figures)}"' in dom
    headings = [html_lib.unescape(h) for h in re.findall(r"<h2>(.*?)</h2>", dom)]
    assert headings == [s.title for s in report.sections if s.terminal] + ["About"]
    st = pixel_stats(screenshot(html, tmp_path / "shot.png", width=1200, height=9000))
    # Tables and text are grey: coloured pixels (markers, lines, bands) come from the figures,
    # which the DOM above says the browser decoded.
    assert st.non_white_fraction > 0.02 and st.colored > 2000


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
    from tests.helpers import imported_backends

    code = ("import argparse; from resnet_nas.report import add_report_arguments; "
            "add_report_arguments(argparse.ArgumentParser())")
    assert imported_backends(code, ("pandas", "scipy", "matplotlib")) == []


def test_run_report_accepts_a_minimal_namespace(hand_runs, tmp_path, capsys):
    ns = argparse.Namespace(run_dirs=[str(hand_runs[0])], bootstrap=0)
    assert run_report(ns) == 0
    assert "Leaderboard (top 10" in capsys.readouterr().out
    (tmp_path / "blocker").write_text("a file where --out wants a folder")
    ns = argparse.Namespace(run_dirs=[str(hand_runs[0])], bootstrap=0,
                            out=str(tmp_path / "blocker"))
    assert run_report(ns) == 1
    assert "cannot write report output" in capsys.readouterr().err


def test_numbers_read_alike_down_a_column():
    from resnet_nas.report.formatting import format_value
    assert [format_value(v, "params") for v in (780, 2740, 31010)] == ["780", "2,740", "31,010"]
    assert [format_value(v, c) for v, c in ((0.8, "best@5"), (0.8, "best"),
                                            (0.0009869, "hours_to_best"))] \
        == ["0.8000", "0.8000", "0.0009869"]
