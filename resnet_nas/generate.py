"""A space's architectures as configs, without training (`python -m resnet_nas configs`).

Each config is in exactly the format `export` writes (resnet_nas.arch_config), so `train
--config` and `build --config` take it, with the space's data and training settings; the
folder's `index.csv` lists them: file, arch_key, params, FLOPs, depth (the N of ResNet-N) and
the one-line description. Samples are distinct (canonical architecture keys) and feasible (the
space's constraints applied); `--all` enumerates a finite space completely
(resnet_nas.benchmark.enumerate). The same space, options and seed write the same files.

    from resnet_nas.generate import GenerateOptions, generate_configs
    written = generate_configs(GenerateOptions(space="cifar_resnet", out="cfgs", count=20))
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from resnet_nas.arch_config import ArchConfig, Origin, config_text
from resnet_nas.errors import UsageError
from resnet_nas.fileio import UMASK, write_atomic
from resnet_nas.nets.arch import Architecture
from resnet_nas.nets.complexity import complexity
from resnet_nas.run import absolute_path
from resnet_nas.space import SearchSpace, load_space, parse_overrides, sample_architecture
from resnet_nas.space.sample import check_constraints
from resnet_nas.vocabulary import MAX_SEED

#: The most configs one command writes (--count, --all).
MAX_CONFIGS = 10_000
#: Samplers that need no trained trials: random draws, or a scrambled Sobol sequence that
#: spreads the numeric parameters evenly (Optuna's QMCSampler).
SAMPLERS = ("random", "qmc")
ORDERS = ("params", "flops")
INDEX = "index.csv"
INDEX_COLUMNS = ("file", "arch_key", "params", "flops", "depth", "description")


@dataclass(frozen=True)
class GenerateOptions:
    """What `configs` takes.

    Attributes:
      space: a shipped space's name or a space file.
      out: the folder to write (must not exist, or be empty).
      count: distinct feasible architectures to sample; None with `all`.
      all: every architecture of a finite space instead.
      seed: the sampler's seed.
      sampler: one of SAMPLERS.
      order: sort the index by 'params' or 'flops' (None: the order drawn).
      sets: `--set dotted.key=value` texts for the space file.
      data: --data PATH: the configs' data set instead of the space's.
    """

    space: str
    out: str
    count: int | None = None
    all: bool = False
    seed: int = 0
    sampler: str = "random"
    order: str | None = None
    sets: tuple[str, ...] = ()
    data: str | None = None

    def validate(self) -> None:
        """Raises UsageError naming the flag."""
        if self.all == (self.count is not None):
            raise UsageError("--count", self.count, "give either --count N or --all")
        if self.count is not None and not (isinstance(self.count, int)
                                           and 1 <= self.count <= MAX_CONFIGS):
            raise UsageError("--count", self.count, f"expected an integer from 1 to "
                             f"{MAX_CONFIGS}")
        if not (isinstance(self.seed, int) and 0 <= self.seed <= MAX_SEED):
            raise UsageError("--seed", self.seed, f"expected an integer from 0 to {MAX_SEED}")
        if self.sampler not in SAMPLERS:
            raise UsageError("--sampler", self.sampler, f"expected one of {', '.join(SAMPLERS)}"
                             " (the others learn from trained trials' accuracies, which "
                             "configs written without training do not have)")
        if self.order not in (None, *ORDERS):
            raise UsageError("--order", self.order, f"expected one of {', '.join(ORDERS)}")
        _check_out(Path(self.out))


@dataclass(frozen=True)
class GeneratedConfig:
    """One config written: its file name (in the folder) and what the index says of it."""

    file: str
    arch: Architecture
    params: int
    flops: int

    def index_row(self) -> list[object]:
        return [self.file, self.arch.key(), self.params, self.flops, self.arch.layers,
                self.arch.describe()]


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise UsageError("--out", str(out), "expected a folder to create, found a file")
    if out.is_dir() and any(out.iterdir()):
        raise UsageError("--out", str(out), "expected a new or empty folder (it holds files; "
                         "configs are never written over others)")
    parent = out if out.is_dir() else next((p for p in out.parents if p.exists()), Path("."))
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError("--out", str(out), f"cannot write in {parent} (permission denied)")


def _io(space: SearchSpace, data_cfg) -> tuple[tuple[int, int, int], int]:
    """The input shape and classes the configs are for: the space's, else the data's (read
    as cheaply as they can be known: no download, no decoding)."""
    shape, classes = space.input_shape, space.num_classes
    if shape is None or classes is None:
        from resnet_nas.data import data_shape

        own_shape, own_classes = data_shape(data_cfg)
        shape, classes = shape or own_shape, classes or own_classes
    if shape is None:
        raise UsageError("--set", None, f"space {space.name!r} takes its input shape from "
                         "photos of mixed sizes: give one, --set space.input_shape=[224,224,3]")
    return tuple(shape), int(classes)  # type: ignore[return-value]


def _sample(space: SearchSpace, opts: GenerateOptions, shape, classes) -> list[Architecture]:
    import optuna

    sampler = (optuna.samplers.RandomSampler(seed=opts.seed) if opts.sampler == "random" else
               optuna.samplers.QMCSampler(seed=opts.seed, warn_independent_sampling=False))
    study = optuna.create_study(sampler=sampler)
    seen: set[str] = set()
    out: list[Architecture] = []
    misses, limit = 0, max(1000, 20 * int(opts.count or 0))
    while len(out) < int(opts.count or 0):
        trial = study.ask()
        try:
            arch = sample_architecture(space, trial, input_shape=shape, num_classes=classes)
            fresh = not check_constraints(arch, space) and arch.key() not in seen
        except ValueError:  # a sample the builders refuse
            arch, fresh = None, False
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)  # nothing trained
        if not fresh:
            misses += 1
            if misses > limit:
                raise UsageError("--count", opts.count, f"found only {len(out)} distinct "
                                 f"feasible architectures of space {space.name!r} in "
                                 f"{study.trials[-1].number + 1} samples ({limit} in a row "
                                 "were repeats or infeasible); the space may hold fewer: "
                                 "--all lists every one")
            continue
        misses = 0
        seen.add(arch.key())
        out.append(arch)
    return out


def _enumerate(space: SearchSpace, shape, classes) -> list[Architecture]:
    from resnet_nas.benchmark.enumerate import Infinite, enumerate_architectures

    try:
        found = enumerate_architectures(space, shape, classes, limit=MAX_CONFIGS)
    except Infinite:
        raise UsageError("--all", None, f"space {space.name!r} has a continuous parameter: it "
                         "cannot be listed; sample it with --count N") from None
    if not found.exhaustive:
        raise UsageError("--all", None, f"space {space.name!r} holds more than {MAX_CONFIGS:,} "
                         "architectures (the most --all writes); sample it with --count N")
    return list(found.archs)


def generate_configs(opts: GenerateOptions) -> list[GeneratedConfig]:
    """Writes the configs `opts` asks for and their index (all or nothing: a folder is
    written beside `opts.out` and renamed into place).

    Returns:
      The configs written, in index order.

    Raises:
      UsageError, ConfigError, DataError: bad input, found before anything is written.
    """
    opts.validate()
    space = load_space(opts.space, overrides=parse_overrides(opts.sets))
    data_cfg = space.data
    if opts.data is not None:
        from resnet_nas.data import source_name
        from resnet_nas.run import check_data_path

        check_data_path(opts.data)
        data_cfg = replace(data_cfg, name=source_name(opts.data), path=opts.data)
    if data_cfg.path:  # a config travels: never a path relative to this shell's directory
        data_cfg = replace(data_cfg, path=absolute_path(data_cfg.path))
    data_cfg.validate(space.source, "data")
    shape, classes = _io(space, data_cfg)
    archs = (_enumerate(space, shape, classes) if opts.all
             else _sample(space, opts, shape, classes))
    width = max(4, len(str(len(archs) - 1)))
    written = []
    for i, arch in enumerate(archs):
        c = complexity(arch)
        written.append(GeneratedConfig(f"{space.name}-{i:0{width}d}.yaml", arch, c.params,
                                       c.flops))
    if opts.order is not None:
        written.sort(key=lambda g: (getattr(g, opts.order), g.file))
    _write(Path(opts.out), written, space, data_cfg, opts)
    return written


def _write(out: Path, written: Sequence[GeneratedConfig], space: SearchSpace, data_cfg,
           opts: GenerateOptions) -> None:
    out = out.expanduser()
    parent = out.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    how = (f"every architecture of space {space.name}" if opts.all else
           f"sampled from space {space.name} ({opts.sampler}, seed {opts.seed})")
    tmp = Path(tempfile.mkdtemp(dir=parent, prefix=f".{out.name}.tmp-"))
    try:
        for g in written:
            cfg = ArchConfig(name=Path(g.file).stem, arch=g.arch, data=data_cfg,
                             train=space.train, origin=Origin(arch_key=g.arch.key()))
            write_atomic(tmp / g.file, config_text(cfg, how, "train", out / g.file))
        table = io.StringIO()
        w = csv.writer(table, lineterminator="\n")
        w.writerow(INDEX_COLUMNS)
        w.writerows(g.index_row() for g in written)
        write_atomic(tmp / INDEX, table.getvalue())
        os.chmod(tmp, 0o777 & ~UMASK)  # mkdtemp made it 0700
        if out.is_dir():
            out.rmdir()  # empty (checked): replaced by the finished folder
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
