"""Result dashboards: `python -m resnet_nas report RUN_DIR [RUN_DIR ...]`.

Loads one or many runs (any engine, sampler, search space) into one pandas DataFrame, the
*report frame*: exactly the results-table schema (`resnet_nas.results.SCHEMA`, one row per
trial, read from `RUN_DIR/rows/*.json`) followed by the derived columns in `DERIVED_COLUMNS`:

  error        1 - best_val_accuracy
  is_gpu       device is set and does not mention 'cpu' (missing device: not GPU)
  train_hours  train_seconds / 3600
  gpu_hours    train_hours of rows whose device is not a CPU, else 0
  started_ts, finished_ts   parsed started_at / finished_at (UTC)
  study_label  study name, prefixed by the run directory's name when the same study name occurs
               in several run directories
  dataset_label  the data set (`dataset`, told apart by `data_fingerprint` where one name
               covers different data; 'unknown data' for rows that record neither)

Accuracies are only compared on the same data set: every leaderboard, front, EDF and rank
correlation is computed per `dataset_label` (each table has it as its first column, and each
figure one panel per data set); all of them rank by best_val_accuracy.

From it the report prints (plain text, or Markdown with `--format markdown`):

* leaderboard: top-k complete trials per data set by best_val_accuracy, with a readable
  architecture (`Architecture.describe()`), params, FLOPs, time (`--top`);
* per-study summary: trials by state, best and median accuracy of complete trials, training
  hours and GPU-hours (duplicates excluded: they reuse another trial's result and trained
  nothing), wall-clock hours (the terminal and HTML show the main columns, exports all);
* Pareto fronts of accuracy vs params and vs FLOPs (complete trials only);
* design-space comparison (Radosavovic et al. 2019/2020): error EDFs per group (`--by`, default
  'space' when some data set has several spaces, else 'sampler'), optionally complexity-normalized
  (`--normalize params|flops`), with bootstrap bands (`--bootstrap N`), and pairwise two-sample
  KS statistics (see `resnet_nas.report.edf`);
* anytime performance: best-so-far accuracy per study against trial number and against
  cumulative training hours in order of finish (samplers/engines on one chart);
* rank stability between fidelities: Spearman and Kendall correlation of val accuracy at
  `--short-epoch` vs the long/final epoch within trials, and across runs for the same arch_key
  trained with different epochs_planned ("not enough data" where a correlation is undefined).

`--out DIR` exports the combined frame (`results.csv/.parquet`) and every table
(`<section>.csv/.parquet`); `--html PATH` writes one self-contained HTML file (inline CSS,
figures as base64 PNG, no external URLs) that opens offline. Figures use Matplotlib's Agg
canvas, so no display is needed.

Optuna's own dashboard works on the same storage of an Optuna run:
`optuna-dashboard sqlite:///RUN_DIR/study.db`.

Public API: `load_runs`, `add_derived`, `build_report`, `ReportOptions`, `render_report`,
`export_tables`, `html.render_html`/`html.write_html` (in `resnet_nas.report.html`), and for the CLI
`add_report_arguments(parser)` / `run_report(args)`.
"""

import importlib
from typing import Any

# Public name -> submodule. Resolved lazily (PEP 562) so `from resnet_nas.report import
# add_report_arguments` does not import pandas, scipy or matplotlib.
_EXPORTS = {
    "Report": "build", "ReportOptions": "build", "Section": "build", "build_report": "build",
    "add_report_arguments": "cli", "main": "cli", "run_report": "cli",
    "export_tables": "export", "render_report": "export",
    "DERIVED_COLUMNS": "frame", "REPORT_COLUMNS": "frame", "ReportError": "frame",
    "add_derived": "frame", "load_runs": "frame", "parse_curve": "frame",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'resnet_nas.report' has no attribute {name!r}")
    return getattr(importlib.import_module(f"resnet_nas.report.{_EXPORTS[name]}"), name)
