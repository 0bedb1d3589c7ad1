"""Trial records: the plain dicts that become one row of the results table (results.SCHEMA).

Shared by both engines (Optuna in resnet_nas.search, Keras Tuner in resnet_nas.search_kt).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import sys
from importlib import metadata
from typing import Any

from resnet_nas.nets import Architecture, complexity


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def library_versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for pkg in ("resnet_nas", "keras", "tensorflow", "jax", "torch", "optuna", "keras-tuner",
                "numpy", "pandas"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def base_record(meta: dict[str, Any], trial_number: int, arch: Architecture | None,
                train_epochs: int, seed: int, backend: str) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "study": meta["study"], "space": meta["space"], "space_hash": meta["space_hash"],
        "trial": trial_number, "engine": meta["engine"], "sampler": meta["sampler"],
        "pruner": meta["pruner"], "epochs_planned": train_epochs, "seed": seed,
        "backend": backend, "versions": library_versions(), "worker": f"{socket.gethostname()}:"
        f"{os.getpid()}", "started_at": _now(), "epochs_run": 0,
    }
    if arch is not None:
        c = complexity(arch)
        rec.update(arch_key=arch.key(), arch=json.dumps(arch.to_dict()),
                   blocks=json.dumps([[list(u) for u in b.units] for b in arch.blocks]),
                   unit=arch.unit, params=c.params, trainable_params=c.trainable_params,
                   flops=c.flops)
    return rec


def fill_from_result(rec: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    hist = result.get("history", [])
    accs = [h["val_accuracy"] for h in hist]
    losses = [h["val_loss"] for h in hist]
    rec.update(
        epochs_run=len(hist), val_accuracy_curve=accs, val_loss_curve=losses,
        best_val_accuracy=max(accs) if accs else None,
        final_val_accuracy=accs[-1] if accs else None,
        final_val_loss=losses[-1] if losses else None,
        train_seconds=result.get("train_seconds"), compile_seconds=result.get("compile_seconds"),
        images_per_second=result.get("images_per_second"), trainer=result.get("trainer"),
        backend=result.get("backend", rec.get("backend")), device=result.get("device"),
        test_accuracy=result.get("test_accuracy"),
    )
    return rec


def objective_values(rec: dict[str, Any], objectives: list[str]) -> list[float]:
    mapping = {"val_accuracy": rec.get("best_val_accuracy"), "params": rec.get("params"),
               "flops": rec.get("flops")}
    return [float(mapping[o]) for o in objectives]
