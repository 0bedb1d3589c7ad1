"""The tiny space of the benchmark tests (12 architectures) and a synthetic table of it."""

from __future__ import annotations

from pathlib import Path

from resnet_nas.benchmark.enumerate import enumerate_architectures
from resnet_nas.benchmark.table import BenchmarkTable, Entry
from resnet_nas.space import SearchSpace, load_space

TINY_YAML = """\
name: tiny-bench
space:
  unit: [v1_basic, v2_basic]
  root: cifar
  root_depth: 8
  shortcut: [A, B]
  stride_placement: first
  stages:
    count: 2
    depth: {low: 8, high: 16, step: 8}
    units: 1
    stride: 2
constraints:
  depths_non_decreasing: true
data:
  name: digits
  validation_split: 0.2
train:
  epochs: 2
  batch_size: 64
search:
  max_duplicates: 50
"""
SHAPE = (8, 8, 1)
CLASSES = 10
EPOCHS = 4


def tiny_space(tmp_path: Path) -> tuple[SearchSpace, Path]:
    path = tmp_path / "tiny-bench.yaml"
    path.write_text(TINY_YAML)
    return load_space(path), path


def synthetic_table(space: SearchSpace, epochs: int = EPOCHS) -> BenchmarkTable:
    """Every architecture of `space`, with curves that rise to a distinct final accuracy;
    the last enumerated architecture is the known optimum (0.99)."""
    archs = enumerate_architectures(space, SHAPE, CLASSES).archs
    entries = {}
    for i, arch in enumerate(archs):
        final = 0.5 + 0.49 * i / (len(archs) - 1)
        curve = tuple(final * (0.6 + 0.4 * e / epochs) for e in range(1, epochs + 1))
        entries[arch.key()] = Entry(arch.key(), curve, test_accuracy=final - 0.01,
                                    seconds=float(epochs))
    return BenchmarkTable(space, SHAPE, CLASSES, entries)


def optimum_key(table: BenchmarkTable) -> str:
    return max(table.entries, key=lambda k: table.entries[k].score)
