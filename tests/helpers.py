"""Shared helpers of the tests: a tiny search space, running the CLI, and a few checks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
#: Modules the search process must never import (it samples and records; trials train).
BACKEND_MODULES = ("keras", "tensorflow", "jax", "torch", "keras_tuner")


def tiny_space(tmp_path: Path, name: str = "tiny", *, fixed: bool = False, trials: int = 4,
               epochs: int = 2, pruner: str = "none", sampler: str = "random",
               learning_rate: float = 0.05, objectives: list[str] | None = None,
               extra_constraints: dict | None = None, search: dict | None = None) -> Path:
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
                   "objectives": objectives or ["val_accuracy"], "seed": 0, **(search or {})},
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def cli_env(extra: dict | None = None) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3", **(extra or {})}


def run_cli(*args: str, cwd: Path, timeout: float = 600, env: dict | None = None,
            fake: bool = False) -> subprocess.CompletedProcess:
    """Runs `python -m resnet_nas ARGS` (with fake=True: tests.fake_cli, no training)."""
    module = "tests.fake_cli" if fake else "resnet_nas"
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=cli_env(env),
                          capture_output=True, text=True, timeout=timeout)


def spawn_cli(*args: str, cwd: Path, env: dict | None = None, fake: bool = True,
              **popen) -> subprocess.Popen:
    """Starts the CLI in its own process group, with Ctrl-C at its default (see
    default_sigint)."""
    module = "tests.fake_cli" if fake else "resnet_nas"
    popen.setdefault("stdout", subprocess.PIPE)
    popen.setdefault("stderr", subprocess.STDOUT)
    return subprocess.Popen([sys.executable, "-m", module, *args], cwd=cwd, env=cli_env(env),
                            text=True, start_new_session=True, preexec_fn=default_sigint,
                            **popen)


def default_sigint() -> None:
    """preexec_fn for a child that a test interrupts with SIGINT: a shell runs background jobs
    with SIGINT ignored, children inherit that, and Python then never raises KeyboardInterrupt;
    so a test launched that way (`cmd &`) would test nothing. Restore the default first."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def imported_backends(code: str, modules: tuple[str, ...] = BACKEND_MODULES) -> list[str]:
    """Runs `code` in a fresh interpreter; which of `modules` (default: the deep-learning
    backends) it imported."""
    probe = (f"{code}\nimport sys\n"
             f"print('IMPORTED', [m for m in {tuple(modules)!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, env=cli_env(),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("IMPORTED")][-1]
    return eval(line.split(" ", 1)[1])  # noqa: S307 - our own repr of a list of names


def files_under(path: Path) -> dict[str, bytes]:
    """Every file below `path` with its bytes (to assert that nothing changed)."""
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*"))
            if p.is_file()} if path.exists() else {}


def write_row(run_dir: Path, **fields) -> Path:
    """Writes one hand-made row (the columns given, defaults for the run's settings)."""
    from resnet_nas import results
    from resnet_nas.records import TrialRecord

    base = dict(study="s", space="x", space_hash="h", trial=0, engine="optuna", sampler="tpe",
                pruner="none")
    return results.write_record(run_dir, TrialRecord(**{**base, **fields}))
