"""The command line's argparse pieces: one-line errors with did-you-mean for flags, and value
types that say what they expect (argparse prefixes the flag)."""

from __future__ import annotations

import argparse
import difflib
import math
from collections.abc import Callable, Sequence

PROG = "python -m resnet_nas"
MAX_TRIALS = 1_000_000


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: 'python -m resnet_nas search: error: argument --trials:
    expected an integer from 1 to 1000000, got '-1'' and exit status 2; a mistyped flag gets
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


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= 1e9):
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}")
    return value


def add_set_argument(p: argparse.ArgumentParser, what: str) -> None:
    """The repeatable `--set dotted.key=value` flag (the value parsed as YAML)."""
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help=f"set a value of {what} before it is validated (repeatable; the value "
                   "in YAML): --set train.batch_size=16 --set data.cache=none")


def storage_help(default: str) -> str:
    return (f"Optuna storage URL (default: $RESNET_NAS_STORAGE, else {default}); "
            "journal:///path for a file journal, journal+postgresql://... for the journal in a "
            "PostgreSQL table; the URL's password is never written anywhere")
