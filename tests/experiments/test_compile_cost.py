"""Smoke test of experiments/compile_cost.py (CPU, --tiny)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.helpers import REPO


@pytest.mark.slow
def test_compile_cost_tiny_run_reports_every_mode(tmp_path):
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, str(REPO / "experiments" / "compile_cost.py"), "--tiny",
                           "--models", "8", "--repeats", "1", "--out", str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=600, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-2000:]
    data = json.loads((tmp_path / "compile_cost.json").read_text())
    by_mode = {r["mode"]: r for r in data["rows"]}
    assert set(by_mode) == {"serial", "parallel", "cached"}
    assert all(r["status"] == "ok" and r["compile_seconds"] > 0 for r in by_mode.values())
    # A filled persistent cache must make the compile cheaper than a cold one.
    assert by_mode["cached"]["compile_seconds"] < by_mode["serial"]["compile_seconds"]
