"""experiments/bn_compile.py: Keras' batch norm against TensorFlow's fused kernel, compiled."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from tests.helpers import REPO

sys.path.insert(0, str(REPO))
spec = importlib.util.spec_from_file_location("bn_compile", REPO / "experiments" / "bn_compile.py")
bn_compile = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bn_compile)


def _run(warm: float, epoch: float) -> dict:
    return {"setup": 0.1, "warm_up": warm, "epoch": epoch, "val_accuracy": 0.5}


def test_each_mode_gets_its_median_and_range():
    lines = bn_compile.table({"keras": [_run(0.6, 0.12), _run(0.7, 0.11), _run(0.65, 0.13)],
                              "fused": [_run(0.5, 0.14), _run(0.55, 0.13), _run(0.52, 0.15)]})
    assert lines[0] == "| median (range) | keras | fused |"
    rows = {line.split(" | ")[0].lstrip("| "): line for line in lines[2:]}
    assert rows["warm_up"].endswith("| 0.65 (0.6-0.7) | 0.52 (0.5-0.55) |")
    assert rows["epoch"].endswith("| 0.12 (0.11-0.13) | 0.14 (0.13-0.15) |")


def test_the_snippet_is_valid_python_in_both_modes():
    for mode in bn_compile.MODES:
        compile(bn_compile.SNIPPET.format(mode=mode, depth=8), "<snippet>", "exec")


@pytest.mark.parametrize("flags, refused", [(["--repeat", "0"], "--repeat"),
                                            (["--depth", "10"], "--depth")])
def test_bad_flags_are_refused_before_any_run(tmp_path, flags, refused):
    proc = subprocess.run([sys.executable, str(REPO / "experiments" / "bn_compile.py"), *flags,
                           "--out", str(tmp_path / "out")], capture_output=True, text=True)
    assert proc.returncode == 2 and refused in proc.stderr
    assert not (tmp_path / "out").exists()
