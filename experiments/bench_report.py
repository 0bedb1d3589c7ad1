"""How long reading a big run's table and reporting on it take.

    python experiments/bench_loop.py --trials 10000 --storages journal --sampler random \
        --keep /tmp/bench-loop-runs
    python experiments/bench_report.py /tmp/bench-loop-runs/run-journal-random-10000 \
        [--out experiments/results/bench-report]

Times, each in a fresh Python process (imports included, no warm cache of this process):
reading every row file, rebuilding results.csv/.parquet and their index (`write_tables`),
reading the table through that index (`load_table`), `python -m resnet_nas report RUN_DIR`
(terminal) and with `--html` (the size of the self-contained page too). The operating system's
file cache is warm after the first step (rows read just before), as after a search. Prints a table; writes bench_report.{csv,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def timed(code: str | None, args: list[str] | None = None) -> float:
    """Seconds of one fresh process running `code` (python -c) or `python -m resnet_nas ARGS`."""
    cmd = [sys.executable, "-c", code] if code is not None else [sys.executable, "-m",
                                                                  "resnet_nas", *args]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    took = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])}... failed ({proc.returncode}):\n{proc.stderr}")
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--out", default="experiments/results/bench-report")
    args = parser.parse_args()
    run_dir = Path(args.run_dir).resolve()
    n_rows = len(list((run_dir / "rows").glob("*.json")))
    base = timed("import resnet_nas.results, pandas")
    rows = []
    every = timed("from resnet_nas import results; "
                  f"results.to_frame(results.read_rows({str(run_dir)!r}))")
    rows.append(("read every row file (no Parquet index)", every, every - base))
    write = timed(f"from resnet_nas import results; results.write_tables({str(run_dir)!r})")
    rows.append(("rebuild results.csv + .parquet (+ index)", write, write - base))
    load = timed(f"from resnet_nas import results; results.load_table({str(run_dir)!r})")
    rows.append(("read the table (load_table, with the index)", load, load - base))
    text = timed(None, ["report", str(run_dir), "--bootstrap", "200"])
    rows.append(("report (terminal)", text, None))
    with tempfile.TemporaryDirectory() as tmp:
        html = Path(tmp) / "report.html"
        page = timed(None, ["report", str(run_dir), "--html", str(html), "--bootstrap", "200"])
        size = html.stat().st_size
    rows.append(("report --html", page, None))
    print(f"{run_dir.name}: {n_rows} rows; each step in a fresh process (import of "
          f"resnet_nas.results + pandas alone: {base:.2f} s)")
    print("| step | seconds | minus the import |")
    print("|---|---|---|")
    for name, s, net in rows:
        print(f"| {name} | {s:.2f} | {'' if net is None else f'{net:.2f}'} |")
    print(f"HTML page: {size / 2**20:.2f} MiB")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    record = {"rows": n_rows, "import_seconds": base, "html_bytes": size,
              "steps": [{"step": n, "seconds": s, "minus_import": d} for n, s, d in rows]}
    (out / "bench_report.json").write_text(json.dumps(record, indent=1))
    lines = ["step,seconds,minus_import"] + [f"{n},{s:.3f},{'' if d is None else f'{d:.3f}'}"
                                             for n, s, d in rows]
    (out / "bench_report.csv").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / 'bench_report.csv'} and {out / 'bench_report.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
