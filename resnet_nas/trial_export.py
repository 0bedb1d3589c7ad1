"""The `export` command: one trial of a run as a standalone architecture config."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from resnet_nas import results
from resnet_nas.arch_config import ArchConfig, Origin, write_config
from resnet_nas.errors import SearchError
from resnet_nas.nets import Architecture
from resnet_nas.nets.normalization import InputNormalization
from resnet_nas.run import absolute_path, read_run, run_space


def pick_trial(table, trial: str | int) -> Any:
    """The row of trial N, or of the best complete trial for 'best'."""
    if str(trial) == "best":
        done = table[table["state"] == "complete"].dropna(subset=["best_val_accuracy"])
        if done.empty:
            raise ValueError("no complete trial in this run to export")
        return done.loc[done["best_val_accuracy"].idxmax()]
    try:
        number = int(trial)
    except ValueError:
        raise ValueError(f"--trial must be a trial number or 'best', got {trial!r}") from None
    rows = table[table["trial"] == number]
    if rows.empty:
        raise ValueError(f"trial {number} is not in this run (trials recorded: "
                         f"{sorted(int(t) for t in table['trial'].dropna())})")
    row = rows.iloc[0]
    if row["arch"] is None or str(row["arch"]) in ("", "<NA>"):
        raise ValueError(f"trial {number} has no architecture recorded")
    return row


def export_config(run_dir: str | Path, trial: str | int = "best",
                  out: str | Path | None = None) -> Path:
    """Writes trial `trial` of the run in `run_dir` as a standalone YAML config.

    Returns:
      The path written (default RUN_DIR/exports/trial_<N>.yaml).
    """
    run_dir = Path(run_dir)
    table = results.load_table(run_dir)
    if table.empty:
        raise ValueError(f"no trials recorded yet in {run_dir}")
    row = pick_trial(table, trial)
    arch = Architecture.from_dict(json.loads(row["arch"]))
    run = read_run(run_dir, flag="--run")
    data_cfg, train_cfg = run.configs(run_space(run_dir, run))
    if data_cfg.path:  # a config travels: never a path relative to this shell's directory
        data_cfg = replace(data_cfg, path=absolute_path(data_cfg.path))
    number = int(row["trial"])
    acc = row["best_val_accuracy"]
    norm = row.get("normalization")
    normalization = (InputNormalization.from_dict(json.loads(norm))
                     if isinstance(norm, str) and norm else None)
    cfg = ArchConfig(
        name=f"{run.study}-trial{number}", arch=arch, data=data_cfg, train=train_cfg,
        origin=Origin(run_dir=str(run_dir), study=run.study, trial=number, arch_key=arch.key(),
                      state=str(row["state"]),
                      best_val_accuracy=None if acc is None or acc != acc else float(acc)),
        normalization=normalization)
    if out is None and (run_dir / "exports").is_symlink():
        raise SearchError(f"{run_dir / 'exports'} is a symbolic link (to "
                          f"{os.readlink(run_dir / 'exports')}): a run directory's exports "
                          "must be its own; replace it with the folder, or give --out")
    out = Path(out) if out else run_dir / "exports" / f"trial_{number}.yaml"
    out.parent.mkdir(parents=True, exist_ok=True)
    return write_config(out, cfg, f"exported from {run_dir} trial {number}", "retrain")
