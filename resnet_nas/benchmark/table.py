"""A benchmark table as replay reads it: one Entry per trained architecture, and the space.

Pure Python (pandas, no Keras). The table is `benchmark.parquet` in a benchmark directory, with
the space file (`space.yaml`) and `benchmark.json` beside it; the space is rebuilt from that
file and its hash checked against the table's, so a replay samples the very space the table
was built from.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from resnet_nas import results
from resnet_nas.space import SearchSpace, load_space, sample_architecture
from resnet_nas.space.sample import constraint_violations

TABLE = "benchmark.parquet"
META = "benchmark.json"
SPACE_FILE = "space.yaml"


@dataclass(frozen=True)
class BenchmarkMeta:
    """What a benchmark directory holds (benchmark.json).

    Attributes:
      space / space_hash: the space's name and result-relevant hash.
      archs: architectures planned (the enumeration's size).
      exhaustive: whether they are all the space's architectures (else unique random samples).
      epochs: epochs each architecture trains for.
      dataset / data_fingerprint: the data set.
      input_shape / num_classes: of the data set (to re-sample the space in replay).
      seeds: training seeds per architecture (1 in a benchmark.json written before seeds).
    """

    space: str
    space_hash: str
    archs: int
    exhaustive: bool
    epochs: int
    dataset: str
    data_fingerprint: str
    input_shape: tuple[int, int, int]
    num_classes: int
    seeds: int = 1

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    def check_continues(self, old: "BenchmarkMeta", where: str, instead: str) -> None:
        """Raises ValueError unless a build of this benchmark may continue `old`, found in
        `where`: same space, data, epochs and architectures, and at least its seeds (seeds may
        be added). `instead` says what to give instead (e.g. 'another output directory')."""
        for what in ("space_hash", "data_fingerprint", "epochs", "archs", "exhaustive"):
            if getattr(old, what) != getattr(self, what):
                raise ValueError(f"{where} holds a benchmark with {what} "
                                 f"{getattr(old, what)!r}, not {getattr(self, what)!r}; use "
                                 f"{instead}")
        if old.seeds > self.seeds:
            raise ValueError(f"{where} holds a benchmark of {old.seeds} seeds; resume it with "
                             f"--seeds {old.seeds} (or more), not {self.seeds}")

    @classmethod
    def from_dict(cls, data: Mapping) -> "BenchmarkMeta":
        """The inverse of asdict (benchmark.json, or a build study's attribute)."""
        return cls(**{**data, "input_shape": tuple(data["input_shape"])})

    @classmethod
    def read(cls, path: Path) -> "BenchmarkMeta":
        return cls.from_dict(json.loads(path.read_text()))


class TableError(ValueError):
    """A benchmark table that cannot be replayed (missing, empty, or of another space)."""


@dataclass(frozen=True)
class SeedRun:
    """One training of an architecture with one seed.

    Attributes:
      seed: the training seed.
      curve: validation accuracy after each epoch.
      test_accuracy: test-split accuracy after the last epoch (None when not evaluated).
      seconds: training seconds of the whole curve.
    """

    seed: int
    curve: tuple[float, ...]
    test_accuracy: float | None = None
    seconds: float = 0.0

    @property
    def score(self) -> float:
        return max(self.curve)


@dataclass(frozen=True)
class Entry:
    """One trained architecture: the mean over its seeds, and each seed's training.

    Attributes:
      arch_key: canonical key (Architecture.key()).
      curve: validation accuracy after each epoch (the mean over the seeds).
      score: what a search's study is told of it: the best validation accuracy of its curve
        (TrialRecord.objective_values('val_accuracy')); over seeds, of the mean curve, i.e.
        the architecture's expected quality, which regret is measured in.
      test_accuracy: test-split accuracy after the last epoch (None when not evaluated).
      seconds: training seconds of the whole curve.
      params / flops: complexity.
      runs: one SeedRun per seed when the table has more than one ((): a one-seed table,
        whose only run is the entry itself).
    """

    arch_key: str
    curve: tuple[float, ...]
    test_accuracy: float | None = None
    seconds: float = 0.0
    params: int | None = None
    flops: int | None = None
    runs: tuple[SeedRun, ...] = ()

    @property
    def score(self) -> float:
        return max(self.curve)

    @property
    def epochs(self) -> int:
        return len(self.curve)

    def run(self, repeat: int) -> SeedRun:
        """The training a replayed study of repeat `repeat` sees: one seed per architecture
        and repeat, as a real search trains each architecture once; different repeats see
        different seeds of one architecture, and architectures of one repeat different ones."""
        if len(self.runs) <= 1:
            return self.runs[0] if self.runs else SeedRun(0, self.curve, self.test_accuracy,
                                                           self.seconds)
        return self.runs[(repeat + zlib.crc32(self.arch_key.encode())) % len(self.runs)]


class ScoredEntries:
    """What replay and its summary read of any table: its entries (attribute `entries`,
    arch_key -> Entry) and their scores. Subclasses add `draw(trial)` (one sample: its
    Entry, or None with the constraints it breaks) and `max_duplicates`."""

    entries: Mapping[str, Entry]

    @property
    def epochs(self) -> int:
        return max(e.epochs for e in self.entries.values())

    @property
    def best_score(self) -> float:
        return max(e.score for e in self.entries.values())

    @property
    def worst_score(self) -> float:
        return min(e.score for e in self.entries.values())

    def top_keys(self, fraction: float) -> frozenset[str]:
        """The top `fraction` of architectures by score: the ceil(fraction * n) best, plus any
        tied with the last of them (accuracies on a small validation set tie often)."""
        scores = sorted((e.score for e in self.entries.values()), reverse=True)
        n = max(1, math.ceil(fraction * len(scores)))
        cut = scores[n - 1]
        return frozenset(k for k, e in self.entries.items() if e.score >= cut)


@dataclass(frozen=True)
class BenchmarkTable(ScoredEntries):
    """The entries of a benchmark and the space they come from.

    Attributes:
      space: the search space (to sample architectures through it).
      input_shape / num_classes: of the data set.
      entries: arch_key -> Entry (complete trainings only).
      source: where it was read from.
    """

    space: SearchSpace
    input_shape: tuple[int, int, int]
    num_classes: int
    entries: Mapping[str, Entry]
    source: str = "<memory>"

    @property
    def max_duplicates(self) -> int:
        """Duplicates in a row that end a study (the space's search.max_duplicates)."""
        return self.space.search.max_duplicates

    def draw(self, trial) -> tuple[Entry | None, list]:
        """Samples an architecture through the space, as the search does: (its Entry, []),
        (None, the constraints it breaks), or (None, []) when it is not in the table or the
        builders refuse it."""
        try:
            arch = sample_architecture(self.space, trial, input_shape=self.input_shape,
                                       num_classes=self.num_classes)
            violations = constraint_violations(arch, self.space)
        except ValueError:  # a sample the builders would reject
            return None, []
        return (None, violations) if violations else (self.entries.get(arch.key()), [])


def _optional_float(value: object) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _optional_int(value: object) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def entries_from_frame(df: pd.DataFrame) -> dict[str, Entry]:
    """The complete rows of a results-schema frame, one Entry per arch_key.

    One row per (arch_key, seed) is used (the first); an architecture trained with several
    seeds gets their mean curve, test accuracy and seconds, and its SeedRuns in seed order.
    Runs with a shorter curve than the architecture's longest are left out of the mean.
    """
    runs: dict[str, dict[int, SeedRun]] = {}
    complexity: dict[str, tuple[int | None, int | None]] = {}
    for row in df.itertuples(index=False):
        if row.state != "complete" or pd.isna(row.arch_key):
            continue
        curve = tuple(results.curve(row.val_accuracy_curve))
        key, seed = str(row.arch_key), _optional_int(row.seed) or 0
        if not curve or seed in runs.get(key, {}):
            continue
        runs.setdefault(key, {})[seed] = SeedRun(
            seed, curve, _optional_float(row.test_accuracy),
            _optional_float(row.train_seconds) or 0.0)
        complexity.setdefault(key, (_optional_int(row.params), _optional_int(row.flops)))
    out: dict[str, Entry] = {}
    for key, by_seed in runs.items():
        longest = max(len(r.curve) for r in by_seed.values())
        full = [by_seed[s] for s in sorted(by_seed) if len(by_seed[s].curve) == longest]
        curve = tuple(sum(c) / len(full) for c in zip(*(r.curve for r in full)))
        out[key] = Entry(arch_key=key, curve=curve,
                         test_accuracy=_mean([r.test_accuracy for r in full]),
                         seconds=_mean([r.seconds for r in full]) or 0.0,
                         params=complexity[key][0], flops=complexity[key][1],
                         runs=tuple(full) if len(full) > 1 else ())
    return out


def read_table(path: str | Path) -> BenchmarkTable:
    """Reads a benchmark (its directory, or its benchmark.parquet).

    Raises:
      TableError: no such table, no space file beside it, no complete rows, or a space whose
        hash is not the table's.
    """
    path = Path(path)
    directory = path if path.is_dir() else path.parent
    table = path / TABLE if path.is_dir() else path
    if not table.is_file():
        raise TableError(f"no benchmark table at {str(table)!r} (build one with: python -m "
                         "resnet_nas benchmark build SPACE --out DIR)")
    for needed in (SPACE_FILE, META):
        if not (directory / needed).is_file():
            raise TableError(f"{str(directory / needed)!r} is missing: a benchmark table needs "
                             "the space file and benchmark.json it was built with beside it")
    try:
        df = pd.read_parquet(table)
        meta = BenchmarkMeta.read(directory / META)
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise TableError(f"cannot read benchmark {str(table)!r}: {e}") from None
    space = load_space(directory / SPACE_FILE)
    hashes = set(df["space_hash"].dropna().astype(str))
    if hashes - {space.hash()} or meta.space_hash != space.hash():
        raise TableError(f"{str(table)!r} was built for space hash(es) "
                         f"{sorted(hashes | {meta.space_hash})}, but its space file "
                         f"hashes to {space.hash()}")
    entries = entries_from_frame(df)
    if not entries:
        raise TableError(f"{str(table)!r} has no complete architecture to replay")
    return BenchmarkTable(space=space, input_shape=meta.input_shape,
                          num_classes=meta.num_classes, entries=entries,
                          source=str(table))


def recipe(space: SearchSpace) -> dict:
    """What decides a trial's result besides its architecture: the data and the training."""
    from dataclasses import asdict

    data = asdict(space.data)
    data.pop("cache_dir", None)  # where decoded data is cached, not what it is
    return {"data": data, "train": space.train.to_dict()}


def restrict(table: BenchmarkTable, subspace: SearchSpace) -> tuple[BenchmarkTable, int]:
    """The table of a sub-space: the entries of the architectures `subspace` can produce.

    A row's result depends on its architecture, data and recipe only, so a space that trains
    the same way (same data and train sections) can be replayed on a bigger space's table.

    Returns:
      (the sub-space's table, how many architectures the sub-space has).

    Raises:
      TableError: another data set or recipe, or no entry of the sub-space in the table.
    """
    from resnet_nas.benchmark.enumerate import enumerate_architectures

    if recipe(subspace) != recipe(table.space):
        raise TableError(f"{subspace.source} trains on other data or with another recipe than "
                         f"the table's space ({table.space.source}): its rows do not apply")
    archs = enumerate_architectures(subspace, table.input_shape, table.num_classes).archs
    entries = {a.key(): table.entries[a.key()] for a in archs if a.key() in table.entries}
    if not entries:
        raise TableError(f"{table.source} holds none of the architectures of "
                         f"{subspace.source}")
    return BenchmarkTable(subspace, table.input_shape, table.num_classes, entries,
                          source=table.source), len(archs)
