"""`train --config` and `build --config`: an exported architecture config retrained from scratch
(and evaluated once on the test split, which the search never saw) or built and saved."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

from resnet_nas.arch_config import load_config
from resnet_nas.data import source_name
from resnet_nas.errors import TrainingError, UsageError
from resnet_nas.nets import complexity
from resnet_nas.nets.size_limits import size_problems
from resnet_nas.run import check_data_path
from resnet_nas.space import parse_overrides
from resnet_nas.train.metrics import StepProgress
from resnet_nas.validation import ConfigError


def train_config(path: str | Path, epochs: int | None = None, save: str | None = None,
                 backend: str | None = None, data_path: str | None = None,
                 progress: bool = True, sets: tuple[str, ...] = (),
                 allow_large: bool = False) -> dict[str, Any]:
    """Retrains a config from scratch in a trial process and evaluates it on the test split.

    Args:
      epochs / backend / data_path: the flags that replace the config's train.epochs,
        train.backend and data (path; the source kind found there).
      sets: `--set dotted.key=value` texts applied to the config before it is validated (a
        final retrain: data.limit_train=null, train.batch_size=...).
      allow_large: train a model past the size limits (resnet_nas.nets.size_limits).

    Returns:
      A summary dict: name, arch_key, params, flops, epochs, best/final val accuracy,
      test_accuracy, train_seconds, images_per_second, device, and `changed`: every setting
      the flags changed from the config file ({'dotted.key': [in the file, retrained with]});
      also written next to the config as <config>.result.json.
    """
    from resnet_nas.trial_process import Job, TrialRunner

    original = load_config(path)
    cfg = load_config(path, parse_overrides(sets))
    train = cfg.train
    if epochs is not None:
        train = replace(train, epochs=epochs)
    if backend is not None:
        train = replace(train, backend=backend)
    if data_path is not None:
        check_data_path(data_path)
    data = cfg.data if data_path is None else replace(cfg.data, name=source_name(data_path),
                                                      path=data_path)
    train.validate(str(path), "train")
    data.validate(str(path), "data")
    check_size(cfg.arch, train, str(path), allow_large, "train")
    if data_path is None and data.name in ("folder", "tfrecord"):
        try:  # before any process starts or model is built
            check_data_path(data.path)
        except UsageError as e:
            raise ConfigError(str(path), "data.path", "an image-folder directory or a .tar.gz "
                              "(a relative path is relative to the config file)", data.path,
                              hint=f"{e}; give --data PATH for its place on this machine"
                              ) from None

    def on_epoch(m: dict[str, Any]) -> bool:
        if progress:
            print(f"epoch {m['epoch']:>3}  loss {m['train_loss']:.4f}  val_acc "
                  f"{m['val_accuracy']:.4f}  {m['images_per_second']:.0f} img/s", flush=True)
        return True

    def on_step(p: dict[str, Any]) -> None:  # inside long epochs, every few seconds
        if progress:
            print(f"  {StepProgress(**p).describe()}", flush=True)

    with TrialRunner(train.backend, max_trials_per_worker=1) as runner:
        outcome = runner.run(Job(arch=cfg.arch, train=train, data=data, evaluate_test=True,
                                 save_model=save), on_epoch, on_step)
    if not outcome.ok or outcome.train is None:
        lines = outcome.error.strip().splitlines() or ["no error message"]
        raise TrainingError(f"training {path} failed: {lines[-1]}")
    res = outcome.train
    accs = [m.val_accuracy for m in res.history]
    c = complexity(cfg.arch)
    changed = config_changes(original, replace(cfg, train=train, data=data))
    summary = {"name": cfg.name, "config": str(path), "arch_key": cfg.arch.key(),
               "params": c.params, "flops": c.flops, "epochs": res.epochs_run,
               "best_val_accuracy": max(accs) if accs else None,
               "final_val_accuracy": accs[-1] if accs else None,
               "test_accuracy": outcome.test_accuracy, "diverged": res.diverged,
               "train_seconds": res.train_seconds, "compile_seconds": res.compile_seconds,
               "images_per_second": res.images_per_second, "device": res.device,
               "backend": res.backend, "trainer": res.trainer, "saved_model": save,
               "skipped_images": outcome.skipped_images,
               "normalization": outcome.normalization, "changed": changed}
    summary = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
               for k, v in summary.items()}  # JSON has no NaN
    Path(str(path) + ".result.json").write_text(json.dumps(summary, indent=1, allow_nan=False))
    return summary


def _flat(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_flat(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: data}


def config_changes(before: Any, after: Any) -> dict[str, list[Any]]:
    """The settings of two architecture configs that differ: {'dotted.key': [before,
    after]} (the origin left out)."""
    a, b = (_flat({k: v for k, v in c.to_dict().items() if k != "origin"})
            for c in (before, after))
    return {key: [a.get(key), b.get(key)] for key in sorted(set(a) | set(b))
            if a.get(key) != b.get(key)}


def config_normalization(cfg: Any) -> Any:
    """The input normalisation of a config's model: the config's own (an export records its
    trial's), else the data's (opened for it: the statistics of its training split, or the
    preprocessing's scaling)."""
    if cfg.normalization is not None:
        return cfg.normalization
    from resnet_nas.input import open_input

    return open_input(cfg.data, cfg.train.seed, tuple(cfg.arch.input_shape)).normalization


def check_size(arch: Any, train: Any, source: str, allow_large: bool, verb: str) -> None:
    """Refuses a model past the size limits (counted analytically: nothing is built).

    Raises:
      ConfigError: naming the config file and each limit passed.
    """
    if allow_large:
        return
    problems = size_problems(arch, train.resnet_config())
    if problems:
        raise ConfigError(source, "architecture", "a model within the size limits",
                          "; ".join(p.describe() for p in problems),
                          hint=f"pass --allow-large to {verb} it anyway")


def build_config(path: str | Path, out: str | Path, sets: tuple[str, ...] = (),
                 allow_large: bool = False) -> dict[str, Any]:
    """Builds the config's model (raw pixels in) and saves it as a .keras file (no
    training); past the size limits only with `allow_large`."""
    out = Path(out)
    if out.suffix != ".keras":
        raise ValueError(f"--out must end in .keras, got {out}")
    cfg = load_config(path, parse_overrides(sets))  # a bad config is refused before Keras loads
    check_size(cfg.arch, cfg.train, str(path), allow_large, "build")
    from resnet_nas.nets.build import build_model

    model = build_model(cfg.arch, cfg.train.resnet_config(), name=cfg.name.replace("/", "_"),
                        normalization=config_normalization(cfg))
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    c = complexity(cfg.arch)
    return {"path": str(out), "params": model.count_params(), "analytic_params": c.params,
            "flops": c.flops, "layers": len(model.layers)}
