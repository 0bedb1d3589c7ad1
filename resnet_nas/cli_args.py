"""The command line's argparse pieces: one-line errors with did-you-mean for flags, and value
types that say what they expect (argparse prefixes the flag)."""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Callable, Sequence
from typing import Any

from resnet_nas.vocabulary import IntRange, Seconds

PROG = "python -m resnet_nas"


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: 'python -m resnet_nas search: error: argument --trials:
    expected an integer from 1 to N, got 'many'' and exit status 2; a mistyped flag gets
    the closest ones ('--trails': did you mean --trials?)."""

    def __init__(self, *args, **kwargs):
        self.flags: list[str] = []  # before argparse's own add_argument('--help')
        super().__init__(*args, **kwargs)

    def add_argument(self, *names, **kwargs):  # noqa: D102 - records the flags for suggestions
        self.flags.extend(n for n in names if isinstance(n, str) and n.startswith("--"))
        return super().add_argument(*names, **kwargs)

    def parse_known_args(self, args=None, namespace=None):  # noqa: D102
        parsed, extras = super().parse_known_args(args, namespace)
        unknown = [e for e in extras if e.startswith("--")]
        if unknown and self.flags:
            # A subcommand's own parser knows its flags; the top-level one would not.
            self.error(f"unrecognized arguments: {' '.join(extras)}"
                       f"{suggestions(unknown, self.flags)}")
        return parsed, extras

    def error(self, message: str):  # noqa: D102 - argparse's hook
        self.exit(2, f"{self.prog}: error: {message}\n")


def suggestions(unknown: Sequence[str], flags: Sequence[str]) -> str:
    """'; did you mean --trials?' for the closest known flags, or ''."""
    hints = []
    for arg in unknown:
        close = difflib.get_close_matches(arg.split("=", 1)[0], flags, n=2, cutoff=0.6)
        if close:
            hints.append(f"{arg.split('=', 1)[0]}: did you mean {' or '.join(close)}?")
    return f" ({'; '.join(hints)})" if hints else ""


# ---------------------------------------------------------------------------------------------
# Value types: each names what it expects (argparse prefixes the flag).
def int_from(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer from {low} to {high}, got "
                                             f"{text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected an integer from {low} to {high}, got "
                                             f"{text!r}")
        return value

    parse.__name__ = "integer"
    return parse


def _number(convert: Callable[[str], Any], allowed: IntRange | Seconds,
            name: str) -> Callable[[str], Any]:
    """A value type that converts the text and nothing more: the range is checked once, with
    the option's other checks (vocabulary.check_option, from SearchOptions.validate or
    WorkerOptions.validate); text that is no number is refused here, saying the same range."""
    def parse(text: str) -> Any:
        try:
            return convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {allowed.expected}, got {text!r}") \
                from None

    parse.__name__ = name  # argparse names the type in its messages
    return parse


def integer(allowed: IntRange) -> Callable[[str], int]:
    """Parses an option's integer (its range: `allowed`, checked later)."""
    return _number(int, allowed, "integer")


def seconds(allowed: Seconds) -> Callable[[str], float]:
    """Parses a number of seconds (its range: `allowed`, checked later)."""
    return _number(float, allowed, "seconds")


def add_names_argument(p: argparse.ArgumentParser, flag: str, names: Sequence[str],
                       **kwargs) -> argparse.Action:
    """A flag whose value is one of `names` (a vocabulary list): shown as {a,b} in the help,
    and checked once with the options' other checks, not by argparse's `choices` (which would
    check it a second time). The action keeps them as `names` for readers of the parser."""
    action = p.add_argument(flag, metavar="{" + ",".join(names) + "}", **kwargs)
    action.names = tuple(names)  # type: ignore[attr-defined]
    return action


def add_set_argument(p: argparse.ArgumentParser, what: str) -> None:
    """The repeatable `--set dotted.key=value` flag (the value parsed as YAML)."""
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help=f"set a value of {what} before it is validated (repeatable; the value "
                   "in YAML): --set train.batch_size=16 --set data.cache=none")


def storage_help(default: str) -> str:
    return (f"Optuna storage URL (default: $RESNET_NAS_STORAGE, else {default}); "
            "journal:///path for a file journal, journal+postgresql://... for the journal in a "
            "PostgreSQL table; the URL's password is never written anywhere")
