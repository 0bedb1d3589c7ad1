"""The errors a command reports as one line, never a traceback: exit status 2 for bad input,
1 for a training run that failed.

ConfigError (resnet_nas.validation) names a file and a key path, StorageError
(resnet_nas.storage) a storage URL; SearchError and UsageError here name a run or a
command-line flag.
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


class DiskFullError(OSError):
    """A write found no space left on its device (exit status 1): one line naming the file;
    what the write left half done was taken back."""

    def __init__(self, path: str):
        self.path = path
        super().__init__(f"no space left on the device of {path}: free some space, then run the "
                         "same command again (with --resume for a search)")


class TrainingError(RuntimeError):
    """A training run (`train --config`) failed: the trial process says why (exit status 1)."""
