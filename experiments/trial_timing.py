"""Where a search's time goes, per trial, from its rows: start-up, compile, training, evaluation.

    python experiments/trial_timing.py RUN_DIR [--out DIR]

For each trained trial (complete or pruned):
  wall        wall_seconds (job handed to the trial process -> result back; rows written
              before that column existed: finished_at - started_at, whole seconds)
  compile     compile_seconds (JAX trainer: the ahead-of-time compile of the train and eval
              functions; model.fit: the first train step and validation batch minus steady
              ones)
  training    the training steps: train_seconds - compile - evaluation (rows without
              eval_seconds: epochs_run * training images / images_per_second, which counts a
              compile inside epoch 1 twice when epoch 1 is the only epoch)
  evaluation  eval_seconds (validation), else the rest of train_seconds
  start-up    wall - train_seconds (train_seconds includes the compile, for every trainer):
              the trial process's start, data loading, model building, scheduling
  ahead       ahead_seconds: set up (model build, compile) while the previous trial trained,
              outside this trial's wall time; its compile is then not in the compile column
Prints a table (and the sums); writes trial_timing.{csv,json} under --out.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from resnet_nas import results  # noqa: E402
from resnet_nas.data import load_dataset  # noqa: E402
from resnet_nas.run import read_run, run_space  # noqa: E402


def _seconds(a: str, b: str) -> float:
    return (dt.datetime.fromisoformat(b) - dt.datetime.fromisoformat(a)).total_seconds()


def timing(run_dir: Path) -> list[dict]:
    run = read_run(run_dir)
    data_cfg, train_cfg = run.configs(run_space(run_dir, run))
    n_train = len(load_dataset(data_cfg, seed=train_cfg.seed).x_train)
    steps_images = (n_train // train_cfg.batch_size) * train_cfg.batch_size
    return [split_row(row, steps_images) for row in results.read_rows(run_dir, run.study)
            if row["state"] in ("complete", "pruned") and row.get("images_per_second")]


def split_row(row: dict, steps_images: int) -> dict:
    """One trained trial's parts (seconds); `steps_images`: training images an epoch."""
    wall = row.get("wall_seconds") or _seconds(row["started_at"], row["finished_at"])
    compile_s = row.get("compile_seconds") or 0.0
    train_s = row.get("train_seconds") or 0.0
    ahead = row.get("ahead_seconds")
    # set up ahead, the trial compiled while the previous one trained: outside its wall
    compile_in_turn = compile_s if ahead is None else 0.0
    evaluation = row.get("eval_seconds")
    if evaluation is not None:
        training = max(0.0, train_s - compile_in_turn - evaluation)
    else:
        training = row["epochs_run"] * steps_images / row["images_per_second"]
        evaluation = max(0.0, train_s - compile_in_turn - training)
    return {"trial": row["trial"], "state": row["state"], "trainer": row.get("trainer"),
            "device": row.get("device"), "epochs": row["epochs_run"], "wall": wall,
            "start_up": max(0.0, wall - train_s), "compile": compile_in_turn,
            "training": training, "evaluation": evaluation, "ahead": ahead or 0.0,
            "images_per_second": row["images_per_second"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--out", help="folder for trial_timing.{csv,json} (default RUN_DIR)")
    args = parser.parse_args()
    rows = timing(Path(args.run_dir))
    if not rows:
        print("no trained trials in this run", file=sys.stderr)
        return 1
    cols = ["trial", "state", "epochs", "wall", "start_up", "compile", "training", "evaluation",
            "ahead", "images_per_second"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(f"{r[c]:.1f}" if isinstance(r[c], float) else str(r[c])
                                for c in cols) + " |")
    total = {c: sum(r[c] for r in rows) for c in ("wall", "start_up", "compile", "training",
                                                   "evaluation", "ahead")}
    print("| all | | | " + " | ".join(f"{total[c]:.1f}" for c in total) + " | |")
    share = {c: total[c] / total["wall"] for c in total
             if c not in ("wall", "ahead") and total["wall"]}
    print("shares of wall time: " + ", ".join(f"{c} {v:.0%}" for c, v in share.items()))
    out = Path(args.out or args.run_dir)
    out.mkdir(parents=True, exist_ok=True)
    import pandas as pd
    pd.DataFrame(rows).to_csv(out / "trial_timing.csv", index=False)
    (out / "trial_timing.json").write_text(json.dumps({"rows": rows, "total": total,
                                                       "share": share}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
