"""Shared helpers for the end-to-end tests: a tiny search space on synthetic data."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def tiny_space(tmp_path: Path, name: str = "tiny", *, fixed: bool = False, trials: int = 4,
               epochs: int = 2, pruner: str = "none", sampler: str = "random",
               learning_rate: float = 0.05, objectives: list[str] | None = None,
               extra_constraints: dict | None = None) -> Path:
    """Writes a search-space file over tiny basic-unit nets on the synthetic data set."""
    space = {
        "unit": "v1_basic" if fixed else ["v1_basic", "v2_basic"],
        "root": "cifar",
        "root_depth": 4 if fixed else {"low": 4, "high": 8, "step": 4},
        "shortcut": "B",
        "stride_placement": "first",
        "stages": {"count": 2 if fixed else {"low": 1, "high": 2},
                   "depth": 8 if fixed else {"low": 4, "high": 12, "step": 4},
                   "units": 1, "stride": 2},
    }
    doc = {
        "name": name,
        "description": "tiny test space",
        "space": space,
        "constraints": {"depths_non_decreasing": False, **(extra_constraints or {})},
        "data": {"name": "synthetic", "validation_split": 0.25},
        "train": {"epochs": epochs, "batch_size": 64, "learning_rate": learning_rate,
                  "optimizer": "nesterov", "schedule": "cosine"},
        "search": {"trials": trials, "sampler": sampler, "pruner": pruner,
                   "objectives": objectives or ["val_accuracy"], "seed": 0},
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def run_cli(*args: str, cwd: Path, timeout: float = 600,
            env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3",
                **(env or {})}
    return subprocess.run([sys.executable, "-m", "resnet_nas", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def default_sigint() -> None:
    """preexec_fn for a child that a test interrupts with SIGINT: a shell runs background jobs
    with SIGINT ignored, children inherit that, and Python then never raises KeyboardInterrupt;
    so a test launched that way (`cmd &`) would test nothing. Restore the default first."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
