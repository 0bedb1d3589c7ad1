"""Architecture configs: the standalone YAML form of one trial (what `export` writes and
`train` / `build` read).

An exported config is standalone: the Block tuples (width multiplier already applied), the unit
kind, root and shortcut, the input normalisation its trial's model had (so `build --config`
makes a model that takes raw pixels without the data at hand), plus the data and training
settings of the run. Rebuilding it gives a network with identical structure and parameter
count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from resnet_nas.config import DataConfig, TrainConfig, data_config_from_dict
from resnet_nas.fileio import read_yaml_file, write_atomic
from resnet_nas.space.loader import apply_overrides
from resnet_nas.nets import Architecture
from resnet_nas.nets.normalization import InputNormalization
from resnet_nas.validation import ConfigError, check_keys

KIND = "resnet_nas/architecture"


@dataclass(frozen=True)
class Origin:
    """Where an exported architecture came from (informational)."""

    run_dir: str | None = None
    study: str | None = None
    trial: int | None = None
    arch_key: str | None = None
    state: str | None = None
    best_val_accuracy: float | None = None


@dataclass(frozen=True)
class ArchConfig:
    """A standalone architecture config.

    Attributes:
      normalization: the input normalisation of the model (its trial's; None for a config
        written before it was recorded: `build` then takes it from the data).
    """

    name: str
    arch: Architecture
    data: DataConfig
    train: TrainConfig
    origin: Origin = Origin()
    normalization: InputNormalization | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"kind": KIND, "name": self.name, "origin": asdict(self.origin),
               "architecture": self.arch.to_dict()}
        if self.normalization is not None:
            out["normalization"] = self.normalization.to_dict()
        return {**out, "data": asdict(self.data), "train": self.train.to_dict()}


def config_text(cfg: ArchConfig, origin: str, verb: str, path: str | Path) -> str:
    """The YAML text of `cfg`, after comment lines that say where it comes from, what the
    network is and how to train it (`verb`: 'train', 'retrain')."""
    import shlex

    import yaml

    from resnet_nas.nets.complexity import complexity

    c = complexity(cfg.arch)
    header = (f"# resnet_nas architecture config, {origin}\n# {cfg.arch.describe()}\n"
              f"# params {c.params:,} (trainable {c.trainable_params:,}), FLOPs {c.flops:,}\n"
              f"# {verb}: python -m resnet_nas train --config {shlex.quote(str(path))}\n")
    return header + yaml.safe_dump(cfg.to_dict(), sort_keys=False, default_flow_style=None)


def write_config(path: str | Path, cfg: ArchConfig, origin: str, verb: str) -> Path:
    """Writes `cfg` to `path` atomically (config_text); returns the path."""
    return write_atomic(Path(path), config_text(cfg, origin, verb, path))


def load_config(path: str | Path, overrides: Mapping[str, Any] | None = None) -> ArchConfig:
    """Reads and validates an architecture config file (bounded: see resnet_nas.fileio).

    Args:
      overrides: {'dotted.key': value} set before validation (`--set`), e.g.
        {'data.limit_train': None, 'train.batch_size': 256}.

    Raises:
      ConfigError: naming the file and key path of the first problem.
    """
    path = Path(path)
    source = str(path)
    raw, _ = read_yaml_file(path, "an architecture config file")
    if overrides:
        raw = apply_overrides(raw, overrides, source)
    raw = check_keys(raw, ["kind", "name", "origin", "architecture", "normalization", "data",
                           "train"], source, "", required=["architecture"])
    if raw.get("kind", KIND) != KIND:
        raise ConfigError(source, "kind", repr(KIND), raw.get("kind"))
    name = raw.get("name") or path.stem
    if not isinstance(name, str):
        raise ConfigError(source, "name", "a string", name)
    arch = Architecture.from_dict(raw["architecture"], source, "architecture")
    data = data_config_from_dict(raw.get("data") or {}, source, "data")
    if data.path and not Path(data.path).expanduser().is_absolute():
        # A relative data path is relative to the config file, so the config works from any
        # directory (exports write absolute paths).
        data = replace(data, path=str((path.parent / data.path).resolve()))
    train = TrainConfig.from_dict(raw.get("train") or {}, source, "train")
    origin = check_keys(raw.get("origin") or {}, Origin.__dataclass_fields__, source, "origin")
    norm = raw.get("normalization")
    normalization = None if norm is None else InputNormalization.from_dict(norm, source,
                                                                           "normalization")
    if normalization is not None and len(normalization.mean) != arch.input_shape[-1]:
        raise ConfigError(source, "normalization.mean", f"{arch.input_shape[-1]} value(s), one "
                          "per input channel", list(normalization.mean))
    return ArchConfig(name, arch, data, train, Origin(**dict(origin)), normalization)
