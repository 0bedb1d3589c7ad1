"""Ctrl-C and SIGTERM stop a search cleanly, at a safe point.

A scheduler's `kill`, `timeout` or a preemption (SIGTERM) stops a search as Ctrl-C (SIGINT)
does: the running trial is recorded as interrupted, its trial process stopped, the finished
trials kept. Python raises KeyboardInterrupt wherever the main thread happens to be, which may
be the middle of a storage transaction (a SQLite commit that then keeps its lock, and every
later write waits for it). So within `safe_points()` (the trial loops) a signal only marks the
stop as pending; `check_stop()`, called where nothing is half-written (between trials, and
every half second while a trial trains), raises it. A second signal raises at once.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C (a KeyboardInterrupt, so every Ctrl-C handler handles it)."""


#: Exit status of a command stopped by each signal (128 + signal number, the shell's rule).
EXIT_CODES = {"SIGINT": 130, "SIGTERM": 143}

_state: dict = {"deferring": 0, "pending": None}


def signal_name(exc: BaseException) -> str:
    return "SIGTERM" if isinstance(exc, Terminated) else "SIGINT"


def _raise(name: str) -> None:
    raise Terminated() if name == "SIGTERM" else KeyboardInterrupt()


def _handler(signum, frame) -> None:
    name = "SIGTERM" if signum == signal.SIGTERM else "SIGINT"
    if _state["deferring"] and _state["pending"] is None:
        _state["pending"] = name  # acted on at the next safe point
        return
    _raise(name)  # outside the trial loops, or a second signal: now


@contextlib.contextmanager
def stop_signals() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM stop the command (see the module docstring)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        _state["pending"] = None


@contextlib.contextmanager
def safe_points() -> Iterator[None]:
    """Within the block, a stop signal waits for the next check_stop()."""
    _state["deferring"] += 1
    try:
        yield
    finally:
        _state["deferring"] -= 1


def check_stop() -> None:
    """Raises the pending stop (KeyboardInterrupt or Terminated), if a signal came."""
    pending = _state["pending"]
    if pending is not None:
        _state["pending"] = None
        _raise(pending)


def pause(seconds: float, step: float = 0.1) -> None:
    """time.sleep, with a look at a pending stop every `step` seconds."""
    end = time.monotonic() + seconds
    while True:
        check_stop()
        left = end - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(step, left))
