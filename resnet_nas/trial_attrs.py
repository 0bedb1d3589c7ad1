"""What a storage trial's user attributes say about it: the keys and their typed readers.

The Optuna engine writes them; the records, the stale-trial machinery and `collect` read them.
Each attribute is one storage round trip (several SQL statements on PostgreSQL), so what is
known at one moment travels as one attribute: the owner right after `ask`, the plan once the
architecture is sampled, the record when the trial ends. Runs written before the owner and
the plan were grouped kept them as single keys ('run_id', 'worker', 'arch',
'epochs_planned', 'backend'); the readers accept both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

ARCH_KEY = "arch_key"
DUPLICATE_OF = "duplicate_of"
RECORD = "record"
REJECTED = "rejected"
OWNER = "owner"
PLAN = "plan"
#: A trial enqueued from a known architecture (search --enqueue): its name or config file.
ENQUEUED = "enqueued"
#: Record fields also kept as attributes of their own: optuna-dashboard sorts and plots by them.
DASHBOARD = ("params", "flops")


@dataclass(frozen=True)
class TrialOwner:
    """Which search run and which process asked for the trial (set before it is sampled, so
    that a worker never takes another's half-sampled trial for an orphan of its own)."""

    run_id: str
    worker: str

    def to_attr(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class TrialPlan:
    """What the trial was set to train: enough to record it when its process dies."""

    arch: dict[str, Any]
    epochs: int
    backend: str | None

    def to_attr(self) -> dict[str, Any]:
        return asdict(self)


def owner_of(attrs: Mapping[str, Any]) -> TrialOwner | None:
    """The trial's owner, or None when it was never set (a trial asked by another tool)."""
    value = attrs.get(OWNER)
    if isinstance(value, Mapping):
        return TrialOwner(str(value.get("run_id", "")), str(value.get("worker", "")))
    if "run_id" in attrs or "worker" in attrs:  # written before the owner was one attribute
        return TrialOwner(str(attrs.get("run_id", "")), str(attrs.get("worker", "")))
    return None


def plan_of(attrs: Mapping[str, Any]) -> TrialPlan | None:
    """The trial's plan, or None when it died before its architecture was sampled."""
    value = attrs.get(PLAN)
    if isinstance(value, Mapping) and isinstance(value.get("arch"), Mapping):
        return TrialPlan(dict(value["arch"]), int(value.get("epochs") or 0),
                         value.get("backend"))
    if isinstance(attrs.get("arch"), Mapping):  # written before the plan was one attribute
        return TrialPlan(dict(attrs["arch"]), int(attrs.get("epochs_planned") or 0),
                         attrs.get("backend"))
    return None
