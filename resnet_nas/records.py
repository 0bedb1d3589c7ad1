"""Trial records: one finished trial, typed (`TrialRecord`), as it becomes one row of the results
table (resnet_nas.results.SCHEMA). Shared by both engines and the distributed workers.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import os
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from importlib import metadata
from typing import TYPE_CHECKING, Any

from resnet_nas import trial_attrs
from resnet_nas.nets import Architecture, complexity
from resnet_nas.run import Run, now

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

    from resnet_nas.train.metrics import TrainResult

STATES = ("complete", "pruned", "failed", "duplicate")
#: Reason prefix of a trial that a stopped search cut short: it does not count towards the
#: run's trial target (its architecture may run again).
INTERRUPTED = "interrupted"
#: Columns that a duplicate copies from the trial whose result it reuses.
RESULT_FIELDS = ("epochs_run", "val_accuracy_curve", "val_loss_curve", "best_val_accuracy",
                 "final_val_accuracy", "final_val_loss", "val_images", "images_per_second",
                 "trainer", "device", "backend", "skipped_images", "normalization")
# Columns kept in rows as JSON text.
_JSON_FIELDS = ("arch", "blocks", "val_accuracy_curve", "val_loss_curve", "versions",
                "normalization")


@functools.cache
def library_versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for pkg in ("resnet_nas", "keras", "tensorflow", "jax", "torch", "optuna", "keras-tuner",
                "numpy", "pandas"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class TrialRecord:
    """One trial, as one row of the results table (see results.SCHEMA for each column).

    `state` says what happened: 'complete' (ran all its epochs), 'pruned' (a pruner stopped
    it early), 'failed' (crashed, diverged, interrupted), 'duplicate' (an architecture trained
    already: its result is reused, nothing trained).
    """

    study: str
    space: str
    space_hash: str
    trial: int
    engine: str
    sampler: str
    pruner: str
    state: str = "failed"
    reason: str = ""
    arch_key: str | None = None
    arch: dict[str, Any] | None = None
    blocks: list[list[list[int]]] | None = None
    unit: str | None = None
    params: int | None = None
    trainable_params: int | None = None
    flops: int | None = None
    epochs_planned: int = 0
    epochs_run: int = 0
    val_accuracy_curve: tuple[float, ...] = ()
    val_loss_curve: tuple[float, ...] = ()
    best_val_accuracy: float | None = None
    final_val_accuracy: float | None = None
    final_val_loss: float | None = None
    val_images: int | None = None
    test_accuracy: float | None = None
    train_seconds: float | None = None
    compile_seconds: float | None = None
    eval_seconds: float | None = None
    wall_seconds: float | None = None
    ahead_seconds: float | None = None
    images_per_second: float | None = None
    duplicate_of: int | None = None
    rejections: int = 0
    seed: int | None = None
    backend: str | None = None
    trainer: str | None = None
    device: str | None = None
    versions: dict[str, str] | None = None
    started_at: str | None = None
    finished_at: str | None = None
    worker: str | None = None
    dataset: str | None = None
    data_fingerprint: str | None = None
    skipped_images: int | None = None
    normalization: dict[str, list[float]] | None = None
    enqueued: str | None = None

    @property
    def interrupted(self) -> bool:
        return self.state == "failed" and self.reason.startswith(INTERRUPTED)

    @property
    def counts(self) -> bool:
        """Whether the trial counts towards the run's trial target: a trained trial (complete,
        pruned, failed), but not a duplicate and not one an interruption cut short."""
        return self.state != "duplicate" and not self.interrupted

    def to_row(self) -> dict[str, Any]:
        """The JSON row (nested values as JSON text, non-finite numbers as null)."""
        if self.state not in STATES:
            raise ValueError(f"record state must be one of {STATES}, got {self.state!r}")
        row: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _JSON_FIELDS and value is not None:
                value = json.dumps(list(value) if isinstance(value, tuple) else value)
            elif isinstance(value, float) and not math.isfinite(value):
                value = None
            row[f.name] = value
        return row

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "TrialRecord":
        """Reads a row back (columns outside the record, such as run_dir, are ignored)."""
        names = {f.name for f in fields(cls)}
        data = {k: v for k, v in row.items() if k in names}
        for key in _JSON_FIELDS:
            if isinstance(data.get(key), str):
                data[key] = json.loads(data[key])
        for key in ("val_accuracy_curve", "val_loss_curve"):
            data[key] = tuple(data.get(key) or ())
        data["reason"] = data.get("reason") or ""
        return cls(**data)

    def with_result(self, result: "TrainResult", test_accuracy: float | None = None
                    ) -> "TrialRecord":
        """The record with a training result's curves and timings."""
        accs = tuple(float(m.val_accuracy) for m in result.history)
        losses = tuple(float(m.val_loss) for m in result.history)
        return replace(
            self, epochs_run=len(result.history), val_accuracy_curve=accs,
            val_loss_curve=losses, best_val_accuracy=max(accs) if accs else None,
            final_val_accuracy=accs[-1] if accs else None,
            final_val_loss=losses[-1] if losses else None, train_seconds=result.train_seconds,
            compile_seconds=result.compile_seconds, eval_seconds=result.eval_seconds,
            images_per_second=result.images_per_second,
            trainer=result.trainer, backend=result.backend, device=result.device,
            test_accuracy=test_accuracy)

    def reusing(self, original: "TrialRecord", reason: str) -> "TrialRecord":
        """A duplicate of `original`: its result, no training of its own."""
        return replace(self, **{k: getattr(original, k) for k in RESULT_FIELDS},
                       state="duplicate", reason=reason, duplicate_of=original.trial,
                       train_seconds=0.0, compile_seconds=0.0, eval_seconds=0.0,
                       wall_seconds=0.0, ahead_seconds=None)

    def objective_values(self, objectives: tuple[str, ...] | list[str]) -> list[float]:
        mapping = {"val_accuracy": self.best_val_accuracy, "params": self.params,
                   "flops": self.flops}
        return [float(mapping[o]) for o in objectives]


def new_record(run: Run, number: int, arch: Architecture | None, epochs: int, seed: int | None,
               backend: str | None) -> TrialRecord:
    """A trial's record before it runs: the run's settings and the architecture's complexity."""
    rec = TrialRecord(study=run.study, space=run.space, space_hash=run.space_hash,
                      trial=int(number), engine=run.engine, sampler=run.sampler,
                      pruner=run.pruner, epochs_planned=int(epochs), seed=seed, backend=backend,
                      versions=library_versions(), worker=this_process(), started_at=now(),
                      dataset=run.dataset, data_fingerprint=run.data_fingerprint)
    if arch is None:
        return rec
    c = complexity(arch)
    return replace(rec, arch_key=arch.key(), arch=arch.to_dict(),
                   blocks=[[list(u) for u in b.units] for b in arch.blocks], unit=arch.unit,
                   params=c.params, trainable_params=c.trainable_params, flops=c.flops)


def record_from_trial(t: "FrozenTrial", run: Run, state: str, reason: str) -> TrialRecord:
    """A record for a storage trial that left none of its own (its process died, or a stop cut
    it short): what the trial's attributes say, plus the state and reason."""
    plan, owner = trial_attrs.plan_of(t.user_attrs), trial_attrs.owner_of(t.user_attrs)
    arch = Architecture.from_dict(plan.arch) if plan is not None else None
    rec = new_record(run, t.number, arch, plan.epochs if plan else 0, run.seed,
                     plan.backend if plan else None)
    rec = replace(rec, state=state, reason=reason, worker=owner.worker if owner else None,
                  started_at=_iso(t.datetime_start), finished_at=_iso(t.datetime_complete)
                  or now())
    if trial_attrs.RECORD in t.user_attrs:  # written just before its process died: keep it
        old = TrialRecord.from_row(json.loads(t.user_attrs[trial_attrs.RECORD]))
        rec = replace(rec, **{k: getattr(old, k) for k in ("worker", "started_at", "versions",
                                                            "seed", "rejections")
                              if getattr(old, k) is not None})
    return rec


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.timezone.utc).isoformat(timespec="seconds")
