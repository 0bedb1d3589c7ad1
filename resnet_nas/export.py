"""Architecture configs: export a trial as YAML, load it back, retrain or build it.

An exported config is standalone: the Block tuples (width multiplier already applied), the unit
kind, root and shortcut, plus the data and training settings of the run. Rebuilding it gives a
network with identical structure and parameter count; `train` retrains it from scratch and then
evaluates once on the test split (the search only ever saw the validation split).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from resnet_nas import results
from resnet_nas.config import DataConfig, TrainConfig, data_config_from_dict
from resnet_nas.nets import Architecture, complexity
from resnet_nas.validation import ConfigError, check_keys

KIND = "resnet_nas/architecture"


@dataclass
class ArchConfig:
    """A standalone architecture config (what `export` writes and `train`/`build` read)."""

    name: str
    arch: Architecture
    data: DataConfig
    train: TrainConfig
    origin: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": KIND, "name": self.name, "origin": self.origin,
                "architecture": self.arch.to_dict(), "data": dict(self.data.__dict__),
                "train": self.train.to_dict()}


def pick_trial(table, trial: str | int) -> Any:
    """The row of trial N, or of the best complete trial for 'best'."""
    if str(trial) == "best":
        done = table[table["state"] == "complete"].dropna(subset=["best_val_accuracy"])
        if done.empty:
            raise ValueError("no complete trial in this run to export")
        return done.loc[done["best_val_accuracy"].idxmax()]
    try:
        number = int(trial)
    except ValueError:
        raise ValueError(f"--trial must be a trial number or 'best', got {trial!r}") from None
    rows = table[table["trial"] == number]
    if rows.empty:
        raise ValueError(f"trial {number} is not in this run (trials recorded: "
                         f"{sorted(int(t) for t in table['trial'].dropna())})")
    row = rows.iloc[0]
    if row["arch"] is None or str(row["arch"]) in ("", "<NA>"):
        raise ValueError(f"trial {number} has no architecture recorded")
    return row


def export_config(run_dir: str | Path, trial: str | int = "best",
                  out: str | Path | None = None) -> Path:
    """Writes trial `trial` of the run in `run_dir` as a standalone YAML config.

    Returns:
      The path written (default RUN_DIR/exports/trial_<N>.yaml).
    """
    from resnet_nas.search import RUN_META, effective_configs
    from resnet_nas.space import load_space

    run_dir = Path(run_dir)
    table = results.load_table(run_dir)
    if table.empty:
        raise ValueError(f"no trials recorded yet in {run_dir}")
    row = pick_trial(table, trial)
    arch = Architecture.from_dict(json.loads(row["arch"]))
    meta = json.loads((run_dir / RUN_META).read_text())
    space = load_space(run_dir / "space.yaml")
    data_cfg, train_cfg = effective_configs(space, meta)
    number = int(row["trial"])
    acc = row["best_val_accuracy"]
    cfg = ArchConfig(
        name=f"{meta['study']}-trial{number}", arch=arch, data=data_cfg, train=train_cfg,
        origin={"run_dir": str(run_dir), "study": meta["study"], "trial": number,
                "arch_key": arch.key(), "state": str(row["state"]),
                "best_val_accuracy": None if acc is None or acc != acc else float(acc)})
    out = Path(out) if out else run_dir / "exports" / f"trial_{number}.yaml"
    out.parent.mkdir(parents=True, exist_ok=True)
    c = complexity(arch)
    header = (f"# resnet_nas architecture config, exported from {run_dir} trial {number}\n"
              f"# {arch.describe()}\n# params {c.params:,} (trainable {c.trainable_params:,}), "
              f"FLOPs {c.flops:,}\n# retrain: python -m resnet_nas train --config {out}\n")
    out.write_text(header + yaml.safe_dump(cfg.to_dict(), sort_keys=False, default_flow_style=None))
    return out


def load_config(path: str | Path) -> ArchConfig:
    """Reads and validates an architecture config file.

    Raises:
      ConfigError: naming the file and key path of the first problem.
    """
    path = Path(path)
    source = str(path)
    if not path.exists():
        raise ConfigError(source, "", "an existing architecture config file", "missing file")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(source, "", "valid YAML", str(e).splitlines()[0]) from None
    raw = check_keys(raw, ["kind", "name", "origin", "architecture", "data", "train"], source,
                     "", required=["architecture"])
    if raw.get("kind", KIND) != KIND:
        raise ConfigError(source, "kind", repr(KIND), raw.get("kind"))
    arch = Architecture.from_dict(raw["architecture"], source, "architecture")
    data = data_config_from_dict(raw.get("data") or {}, source, "data")
    train = TrainConfig.from_dict(raw.get("train") or {}, source, "train")
    return ArchConfig(str(raw.get("name") or path.stem), arch, data, train,
                      dict(raw.get("origin") or {}))


def train_config(path: str | Path, epochs: int | None = None, save: str | None = None,
                 backend: str | None = None, data_path: str | None = None,
                 progress: bool = True) -> dict[str, Any]:
    """Retrains a config from scratch in a worker and evaluates it on the test split.

    Returns:
      A summary dict: name, arch_key, params, flops, epochs, best/final val accuracy,
      test_accuracy, train_seconds, images_per_second, device; also written next to the config
      as <config>.result.json.
    """
    from resnet_nas.worker import Job, TrialRunner

    cfg = load_config(path)
    train = cfg.train
    if epochs is not None:
        train = replace(train, epochs=epochs)
    if backend is not None:
        train = replace(train, backend=backend)
    data = cfg.data if data_path is None else replace(cfg.data, name="folder", path=data_path)
    train.validate(str(path), "train")

    def on_epoch(m: dict[str, Any]) -> bool:
        if progress:
            print(f"epoch {m['epoch']:>3}  loss {m['train_loss']:.4f}  val_acc "
                  f"{m['val_accuracy']:.4f}  {m['images_per_second']:.0f} img/s", flush=True)
        return True

    with TrialRunner(train.backend, max_trials_per_worker=1) as runner:
        outcome = runner.run(Job(arch=cfg.arch.to_dict(), train=train.to_dict(),
                                 data=dict(data.__dict__), evaluate_test=True,
                                 save_model=save), on_epoch)
    if not outcome.ok:
        raise RuntimeError(f"training {path} failed: {outcome.error.strip().splitlines()[0]}")
    res = outcome.result
    accs = [h["val_accuracy"] for h in res["history"]]
    c = complexity(cfg.arch)
    summary = {"name": cfg.name, "config": str(path), "arch_key": cfg.arch.key(),
               "params": c.params, "flops": c.flops, "epochs": res["epochs_run"],
               "best_val_accuracy": max(accs) if accs else None,
               "final_val_accuracy": accs[-1] if accs else None,
               "test_accuracy": res.get("test_accuracy"), "diverged": res["diverged"],
               "train_seconds": res["train_seconds"], "compile_seconds": res["compile_seconds"],
               "images_per_second": res["images_per_second"], "device": res["device"],
               "backend": res["backend"], "trainer": res["trainer"], "saved_model": save}
    Path(str(path) + ".result.json").write_text(json.dumps(summary, indent=1))
    return summary


def build_config(path: str | Path, out: str | Path) -> dict[str, Any]:
    """Builds the config's model and saves it as a .keras file (no training)."""
    from resnet_nas.nets.build import build_model

    cfg = load_config(path)
    model = build_model(cfg.arch, cfg.train.resnet_config(),
                        name=cfg.name.replace("/", "_"))
    out = Path(out)
    if out.suffix != ".keras":
        raise ValueError(f"output must end in .keras, got {out}")
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    c = complexity(cfg.arch)
    return {"path": str(out), "params": model.count_params(), "analytic_params": c.params,
            "flops": c.flops, "layers": len(model.layers)}
