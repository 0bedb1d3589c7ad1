"""Renders a report's HTML in headless Chromium and checks the page shows its figures.

Usage:
  python experiments/render_report.py [RUN_DIR ...] [--out DIR] [--height PX]

Without run directories it first writes three synthetic runs (two Optuna samplers on space 'A',
a Keras Tuner Hyperband run on space 'B'; accuracies are made up, only their shape is realistic)
so the whole report can be exercised without training anything. Writes DIR/report.html and
DIR/screenshot.png, prints how many pixels are painted, and exits 1 when the page looks blank
(almost no painted pixels, or no coloured pixels, i.e. no figure rendered).

Needs Chromium: `apt-get install -y chromium` (Debian).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from resnet_nas.report import ReportOptions, build_report, load_runs  # noqa: E402
from resnet_nas.report.browser import find_chromium, pixel_stats, screenshot  # noqa: E402
from resnet_nas.report.html import write_html  # noqa: E402
from resnet_nas.records import TrialRecord  # noqa: E402
from resnet_nas.results import write_record  # noqa: E402

#: Columns every synthetic row shares.
ROW = {"space_hash": "synthetic", "pruner": "none", "dataset": "cifar10",
       "data_fingerprint": "0123456789abcdef"}

MIN_NON_WHITE_FRACTION = 0.02
MIN_COLORED_PIXELS = 5000


def write_synthetic_runs(root: Path, trials: int = 40, seed: int = 0) -> list[Path]:
    """Writes three made-up run directories under `root`; returns them."""
    rng = random.Random(seed)
    runs = []
    for i, (space, sampler, engine, device) in enumerate([
            ("A", "tpe", "optuna", "NVIDIA H100 80GB HBM3"), ("A", "random", "optuna", "cpu"),
            ("B", "hyperband", "keras-tuner", "NVIDIA H100 80GB HBM3")]):
        run = root / f"run-{sampler}"
        for t in range(trials):
            params = int(10 ** rng.uniform(5, 7))
            base = 0.5 + 0.1 * (params / 1e7) ** 0.3 + (0.05 if space == "B" else 0.0)
            curve = [min(0.99, base * (0.7 + 0.1 * e) + rng.gauss(0, 0.02)) for e in range(4)]
            state = rng.choice(["complete"] * 8 + ["pruned", "failed"])
            curve = {"pruned": curve[:1], "failed": []}.get(state, curve)
            write_record(run, TrialRecord(**{**ROW, **{
                "study": f"cifar-{sampler}", "trial": t, "state": state, "space": space,
                "sampler": sampler, "engine": engine, "device": device,
                "arch_key": f"{space}-{t}", "params": params, "flops": params * 50,
                "epochs_planned": 4, "epochs_run": len(curve), "val_accuracy_curve": curve,
                "best_val_accuracy": max(curve) if curve else None,
                "final_val_accuracy": curve[-1] if curve else None,
                "train_seconds": rng.uniform(100, 500),
                "started_at": f"2025-01-01T{8 + t // 6:02d}:{(t * 7) % 60:02d}:00+00:00",
                "finished_at": f"2025-01-01T{9 + t // 6:02d}:{(t * 7) % 60:02d}:00+00:00",
            }}))
        runs.append(run)
    # A "final training" run: the first 15 architectures of space A retrained for 12 epochs,
    # so the rank-stability-across-budgets table has data.
    final = root / "run-final"
    for t in range(15):
        row = load_runs([runs[0]]).iloc[t]
        if row["state"] != "complete":
            continue
        write_record(final, TrialRecord(**{**ROW, **{
            "study": "cifar-final", "trial": t, "state": "complete", "space": "A",
            "sampler": "final", "engine": "optuna", "device": row["device"],
            "arch_key": row["arch_key"], "params": int(row["params"]),
            "flops": int(row["flops"]), "epochs_planned": 12, "epochs_run": 12,
            "best_val_accuracy": min(0.99, row["best_val_accuracy"] + 0.2 + rng.gauss(0, 0.01)),
            "train_seconds": 3 * row["train_seconds"],
            "started_at": "2025-01-02T00:00:00+00:00", "finished_at": "2025-01-02T01:00:00+00:00",
        }}))
    runs.append(final)
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dirs", nargs="*", metavar="RUN_DIR")
    parser.add_argument("--out", default=None, help="output folder (default: a temp folder)")
    parser.add_argument("--height", type=int, default=6000, help="window height in pixels")
    args = parser.parse_args(argv)
    if find_chromium() is None:
        print("chromium not found: apt-get install -y chromium", file=sys.stderr)
        return 2
    out = Path(args.out or tempfile.mkdtemp(prefix="render-report-"))
    out.mkdir(parents=True, exist_ok=True)
    runs = [Path(d) for d in args.run_dirs] or write_synthetic_runs(out / "runs")
    report = build_report(load_runs(runs), ReportOptions(normalize="params"))
    html = write_html(report, out / "report.html")
    png = screenshot(html, out / "screenshot.png", height=args.height)
    st = pixel_stats(png)
    print(f"{html}\n{png}: {st.non_white_fraction:.1%} painted, {st.colored} coloured pixels")
    if st.non_white_fraction < MIN_NON_WHITE_FRACTION or st.colored < MIN_COLORED_PIXELS:
        print("the rendered page looks blank or shows no figure", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
