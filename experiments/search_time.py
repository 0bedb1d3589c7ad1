"""Where a whole search's wall time goes: the README's quickstart, run and split.

    python experiments/search_time.py [--out DIR] [-- SEARCH ARGS...]

Runs `python -m resnet_nas search --run-dir DIR/run SEARCH ARGS` (default: the quickstart
space, 6 trials, as the README's first command) in a fresh process, timing it from the outside,
then splits that wall time with the run's rows (experiments/trial_timing.py):

  training     epochs of training steps (epochs_run x images / images_per_second)
  compile      tracing/compiling each architecture's train and eval functions
  evaluation   validation after each epoch
  trial start  the rest of each trial's wall_seconds (trial process start, data, model build)
  search       everything else: the search process's own start (imports, data set, study),
               sampling, dedup, rows, the table at the end, the trial process's shutdown

A trial set up ahead (resnet_nas.lookahead: built and compiled while the previous trial
trained) holds no compile in its wall time; what that set-up took is printed on its own line,
outside the parts (it overlapped them).

Prints a table with each part's share; writes search_time.json under --out.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments.trial_timing import timing  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def split(wall: float, rows: list[dict]) -> dict[str, float]:
    """The parts of a search's wall time (seconds) from its trained trials' timing rows."""
    parts = {"training": sum(r["training"] for r in rows),
             "compile": sum(r["compile"] for r in rows),
             "evaluation": sum(r["evaluation"] for r in rows),
             "trial start": sum(r["start_up"] for r in rows)}
    parts["search"] = max(0.0, wall - sum(r["wall"] for r in rows))
    return parts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="experiments/results/search-time")
    parser.add_argument("search_args", nargs="*", help="after --: flags of `search`")
    args = parser.parse_args()
    out = Path(args.out)
    run_dir = out / "run"
    if run_dir.exists():
        raise SystemExit(f"{run_dir} exists: remove it or give another --out")
    cmd = [sys.executable, "-m", "resnet_nas", "search", "--run-dir", str(run_dir),
           "--no-progress", *args.search_args]
    t0 = time.perf_counter()
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    proc = subprocess.run(cmd, env={**os.environ, "PYTHONPATH": path}, cwd=os.getcwd(),
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-3000:], file=sys.stderr)
        return proc.returncode
    rows = timing(run_dir)
    parts = split(wall, rows)
    print(f"{' '.join(['search', *args.search_args]) or 'search'}: {len(rows)} trained trials, "
          f"{wall:.1f} s wall")
    print("| part | seconds | share |")
    print("|---|---|---|")
    for name, s in parts.items():
        print(f"| {name} | {s:.1f} | {s / wall:.0%} |")
    ahead = sum(r.get("ahead", 0.0) for r in rows)
    if ahead:
        print(f"set up ahead, while other trials trained (not a part of the wall): "
              f"{ahead:.1f} s in {sum(1 for r in rows if r.get('ahead'))} trials")
    (out / "search_time.json").write_text(json.dumps(
        {"command": cmd[1:], "wall": wall, "parts": parts, "trials": rows}, indent=1))
    print(f"wrote {out / 'search_time.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
