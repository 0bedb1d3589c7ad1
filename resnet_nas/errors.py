"""The errors a command reports as one line and exit status 2 (bad input, never a traceback).

ConfigError (resnet_nas.validation) names a file and a key path, StorageError
(resnet_nas.storage) a storage URL; the two here name a run or a command-line flag.
"""

from __future__ import annotations

from typing import Any


class SearchError(RuntimeError):
    """A search cannot start or continue: a bad run directory, a space or storage that does not
    match the run, a space whose samples are all infeasible."""


class RunBusyError(SearchError):
    """Another live process holds the run directory's lock."""


class UsageError(ValueError):
    """A command-line value that is wrong, or that cannot be honoured in this situation.

    Attributes:
      flag: the flag as typed, e.g. '--trials'.
      value: the value given.
      expected: what would be accepted (or why the flag cannot be honoured).
    """

    def __init__(self, flag: str, value: Any, expected: str):
        self.flag, self.value, self.expected = flag, value, expected
        shown = "" if value is None else f", got {value!r}"
        super().__init__(f"argument {flag}: {expected}{shown}")
