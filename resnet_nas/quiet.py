"""Keeping native libraries' start-up noise off the terminal.

TensorFlow's start-up lines (oneDNN, missing CUDA drivers, "All log messages before
absl::InitializeLog()") come from C++ absl logging before TF_CPP_MIN_LOG_LEVEL is read, so the
variable does not stop them; they would land in the middle of the progress bars of every new
trial process, and of a Keras Tuner search (keras_tuner imports TensorFlow in the search
process).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """File descriptor 2 goes to /dev/null inside the block (Python's sys.stderr included)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def import_tensorflow_quietly() -> None:
    """Imports TensorFlow (and runs its CUDA probe) silenced; a missing TensorFlow is no error
    here: the import that needs it raises as usual."""
    with native_stderr_silenced():
        try:
            tf = importlib.import_module("tensorflow")
            tf.constant(0)  # the CUDA probe runs on the first op, not at import
        except ImportError:
            pass
