"""The heartbeat settings of the processes sharing a study, recorded in the study.

A worker fails a RUNNING trial as stale when it has seen no heartbeat of it for its grace
period. A process that beats less often than that (a worker started with `--grace-period 5`
beside a search beating every 10 s) loses live trials: their training is thrown away and the
architecture trained twice. So every process records its interval (the largest so far is kept)
and every worker its grace period (the smallest so far), and a process joins only when its
grace period is at least twice every interval in use and its interval at most half of every
grace period in use: one missed beat is then never taken for a dead process.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import optuna

#: Study user attribute: {"interval": largest interval, "grace": smallest grace period}.
STUDY_HEARTBEAT = "heartbeat"
#: A grace period must cover this many intervals.
MARGIN = 2


@dataclass(frozen=True)
class HeartbeatsInUse:
    """interval: the largest heartbeat interval recorded; grace: the smallest grace period
    (None: none recorded yet)."""

    interval: int | None = None
    grace: int | None = None

    @classmethod
    def of(cls, study_attrs: Mapping[str, Any]) -> "HeartbeatsInUse":
        raw = study_attrs.get(STUDY_HEARTBEAT)
        if not isinstance(raw, Mapping):
            return cls()

        def whole(v: Any) -> int | None:
            return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else None

        return cls(whole(raw.get("interval")), whole(raw.get("grace")))

    def joined(self, interval: int, grace: int | None) -> "HeartbeatsInUse":
        return HeartbeatsInUse(max(interval, self.interval or 0),
                               min(g for g in (grace, self.grace) if g is not None)
                               if grace is not None or self.grace is not None else None)


def heartbeat_problem(in_use: HeartbeatsInUse, interval: int, grace: int | None
                      ) -> tuple[str, int] | None:
    """Why a process with these settings must not join the study: ('interval', the largest
    it may use) or ('grace', the smallest it may use); None when it may."""
    if grace is not None and in_use.interval is not None and grace < MARGIN * in_use.interval:
        return "grace", MARGIN * in_use.interval
    if in_use.grace is not None and MARGIN * interval > in_use.grace:
        return "interval", in_use.grace // MARGIN
    return None


def describe_problem(study: str, in_use: HeartbeatsInUse, what: str, bound: int) -> str:
    if what == "grace":
        return (f"must be at least {bound} s: twice the largest heartbeat interval in use in "
                f"study {study!r} ({in_use.interval} s), or live trials of the process beating "
                "that slowly would be failed as stale")
    return (f"must be at most {bound} s: half the shortest grace period in use in study "
            f"{study!r} ({in_use.grace} s), or a worker would fail this process's live trials "
            "as stale")


def record_heartbeat(study: optuna.Study, interval: int, grace: int | None) -> None:
    """Keeps this process's settings in the study (the largest interval, the smallest grace)."""
    now = HeartbeatsInUse.of(study.user_attrs)
    new = now.joined(interval, grace)
    if new != now:
        study.set_user_attr(STUDY_HEARTBEAT, {"interval": new.interval, "grace": new.grace})
