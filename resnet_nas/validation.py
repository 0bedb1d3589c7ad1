"""Precise, user-facing validation errors for YAML configs.

Every error names the file, the key path inside it, what was expected and what was found,
so a user never has to read a traceback from deep inside Keras or Optuna to fix a typo.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any


class ConfigError(ValueError):
    """A config or search-space file is invalid.

    Attributes:
      source: file name (or '<dict>') the value came from.
      path: dotted key path, e.g. 'space.stages.depth.step'.
      expected: what a valid value looks like.
      found: the offending value (repr'd in the message).
    """

    def __init__(self, source: str | None, path: str, expected: str, found: Any = None,
                 hint: str | None = None):
        self.source = source or "<config>"
        self.path = path or "<top level>"
        self.expected = expected
        self.found = found
        self.hint = hint
        msg = f"{self.source}: {self.path}: expected {expected}, found {short_repr(found)}"
        if hint:
            msg += f" ({hint})"
        super().__init__(msg)


class LocatedConfigError(ConfigError):
    """A ConfigError that also knows the line of the offending key (message 'file:line: ...')."""

    def __init__(self, error: ConfigError, line: int):
        super().__init__(error.source, error.path, error.expected, error.found, error.hint)
        self.line = line
        message = str(self)  # '<source>: <path>: expected ...'
        self.args = (f"{self.source}:{line}{message[len(self.source):]}",)


class ConfigErrors(ConfigError):
    """Every problem found in one file, in line order (one line each); `errors` holds them.

    A ConfigError itself (its source, path and message are the first problem's), so callers
    that catch ConfigError need no change.
    """

    def __init__(self, errors: list[ConfigError]):
        if not errors:
            raise ValueError("ConfigErrors needs at least one error")
        self.errors = sorted(errors, key=lambda e: getattr(e, "line", None) or 0)
        first = self.errors[0]
        super().__init__(first.source, first.path, first.expected, first.found, first.hint)
        self.args = ("\n".join(str(e) for e in self.errors),)


class ErrorCollector:
    """Runs independent validation steps and keeps every ConfigError instead of the first."""

    def __init__(self) -> None:
        self.errors: list[ConfigError] = []

    def run(self, fn, *args: Any, default: Any = None, **kwargs: Any) -> Any:
        """fn(*args, **kwargs), or `default` after recording the ConfigError(s) it raised."""
        try:
            return fn(*args, **kwargs)
        except ConfigErrors as e:
            self.errors.extend(e.errors)
        except ConfigError as e:
            self.errors.append(e)
        return default

    def raise_if_any(self) -> None:
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise ConfigErrors(self.errors)


def short_repr(value: Any, limit: int = 200) -> str:
    """repr(value), cut to `limit` characters: an error message must stay one readable line
    even when the offending value is a 1 MB list or a 400-digit number."""
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # ints past Python's digit limit, deep nesting
        text = f"<a {type(value).__name__} too large to show>"
    return text if len(text) <= limit else text[:limit] + "..."


#: Abbreviations other tools use for keys of ours (too short for a spelling match).
ABBREVIATIONS = {"lr": "learning_rate", "bs": "batch_size", "wd": "weight_decay",
                 "batch": "batch_size", "n_epochs": "epochs", "num_epochs": "epochs",
                 "ls": "label_smoothing", "warmup": "warmup_epochs", "opt": "optimizer"}


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    candidates = list(candidates)
    if ABBREVIATIONS.get(name.lower()) in candidates:
        return f"did you mean {ABBREVIATIONS[name.lower()]!r}?"
    matches = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return f"did you mean {matches[0]!r}?" if matches else None


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def check_keys(mapping: Any, allowed: Iterable[str], source: str | None, path: str,
               required: Iterable[str] = ()) -> Mapping[str, Any]:
    """Checks that `mapping` is a dict whose keys are all in `allowed` (and has `required`)."""
    if mapping is None:
        mapping = {}
    if not isinstance(mapping, Mapping):
        raise ConfigError(source, path, "a mapping", mapping)
    allowed = list(allowed)
    for key in mapping:
        if key not in allowed:
            raise ConfigError(source, join(path, str(key)), f"one of the keys {sorted(allowed)}",
                              key, hint=did_you_mean(str(key), allowed) or "unknown key")
    for key in required:
        if key not in mapping:
            raise ConfigError(source, join(path, key), "a value (required key is missing)", None)
    return mapping


#: Largest integer any field takes unless it says otherwise: every numeric field has a finite
#: range, so that no later arithmetic (a report, a FLOP count) meets a 400-digit number.
MAX_INT = 2**63 - 1


def expect_int(value: Any, source: str | None, path: str, *, minimum: int | None = None,
               maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(source, path, "an integer", value)
    if maximum is None:
        maximum = MAX_INT
    if minimum is not None and value < minimum:
        raise ConfigError(source, path, f"an integer >= {minimum}", value)
    if value > maximum:
        raise ConfigError(source, path, f"an integer <= {maximum}", value)
    return value


def expect_float(value: Any, source: str | None, path: str, *, minimum: float | None = None,
                 maximum: float | None = None, exclusive_minimum: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(source, path, "a number", value)
    try:
        value = float(value)
    except OverflowError:  # an integer too large for a float
        raise ConfigError(source, path, "a finite number", value) from None
    if not math.isfinite(value):
        raise ConfigError(source, path, "a finite number", value)
    if minimum is not None and (value < minimum or (exclusive_minimum and value == minimum)):
        op = ">" if exclusive_minimum else ">="
        raise ConfigError(source, path, f"a number {op} {minimum}", value)
    if maximum is not None and value > maximum:
        raise ConfigError(source, path, f"a number <= {maximum}", value)
    return value


#: A name that becomes part of a file name (space name, study name): letters, digits and
#: . _ - only, starting with a letter or digit, so that it can never leave its directory.
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def expect_name(value: Any, source: str | None, path: str) -> str:
    """A name that is safe as a file-name component (SAFE_NAME)."""
    if not isinstance(value, str) or not SAFE_NAME.fullmatch(value):
        raise ConfigError(source, path, "a name of letters, digits, '.', '_' and '-' (at most "
                          "128, starting with a letter or digit)", value)
    return value


def expect_choice(value: Any, choices: Iterable[Any], source: str | None, path: str) -> Any:
    choices = list(choices)
    if value not in choices:
        hint = did_you_mean(str(value), [str(c) for c in choices]) if isinstance(value, str) else None
        raise ConfigError(source, path, f"one of {choices}", value, hint=hint)
    return value


def expect_bool(value: Any, source: str | None, path: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(source, path, "true or false", value)
    return value
