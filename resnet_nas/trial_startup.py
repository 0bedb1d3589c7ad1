"""A trial process's start-up: its backend and builders, nothing more, imported once.

The first trial of every search waits for this start-up (the search has nothing of its own
left to overlap with it), so it is kept to what training needs:

- TensorFlow and Keras import optional integrations whenever they are installed: Keras its
  scikit-learn wrappers (which import SciPy), its pandas data adapter and its matplotlib image
  gallery, TensorFlow's TFLite converter JAX. A trial process uses none of them, and they were
  a large part of its start (figures: experiments/RESULTS.md). They are made unimportable in
  the trial process before the backend loads (a None entry in sys.modules: `import x` then
  raises ImportError, which those integrations catch).
- The collector is off while the backend imports, and comes back on only once what the
  imports made is frozen (below). Importing TensorFlow creates hundreds of thousands of
  objects and almost no garbage (about 1,500 objects), but every few thousand new objects
  trigger a collection, and the older generations' collections walk everything imported so
  far. Switched back on before the freeze, the collector's first collection would walk all of
  it once more to find that garbage, which is frozen with the rest instead. The start-up is
  shorter with the collector off, and it is on the critical path of every search's first
  trial (experiments/startup_time.py; figures: experiments/RESULTS.md).
- Everything imported at start-up lives as long as the process, so it is frozen out of the
  garbage collector (gc.freeze): the collection that releases a finished trial's model then
  looks at that trial's objects only (figures: experiments/RESULTS.md).
- On a machine without a GPU, TensorFlow's graph optimizer (grappler) is off: it rewrote each
  new architecture's training graph for a sizeable part of its compile and bought no training
  speed on the CPU (steady img/s within run-to-run noise: quickstart nets, ResNet-20 at 16x16
  and 32x32, ResNet-56; figures: experiments/RESULTS.md). With a GPU it stays on: its layout
  and fusion passes are what the GPU kernels want.
- TensorFlow takes GPU memory as it needs it (TF_FORCE_GPU_ALLOW_GROWTH, unless set): two
  trial processes may share a GPU (resnet_nas.lookahead; workers on one machine).
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from collections.abc import Iterator

#: Optional integrations a trial process never uses, whatever its backend.
NEVER_USED = ("sklearn", "pandas", "matplotlib")

#: What a backend's trial process may leave out besides NEVER_USED (JAX is TensorFlow's
#: TFLite converter's, and the JAX backend's own).
UNUSED_BY_BACKEND = {"tensorflow": ("jax",)}


def unused_modules(backend: str) -> tuple[str, ...]:
    """The top-level packages a trial process on `backend` keeps out."""
    return NEVER_USED + UNUSED_BY_BACKEND.get(backend, ())


def keep_out(names: tuple[str, ...]) -> None:
    """Makes `names` unimportable in this process (those imported already stay)."""
    for name in names:
        sys.modules.setdefault(name, None)


def start_trial_process(backend: str) -> None:
    """Imports what every job needs (call once, first thing, in a fresh trial process).

    Args:
      backend: the Keras backend (KERAS_BACKEND is set to it already).
    """
    keep_out(unused_modules(backend))
    with collector_paused():
        if backend == "tensorflow":
            from resnet_nas.quiet import import_tensorflow_quietly

            # Two trial processes may share a GPU (resnet_nas.lookahead, or workers on one
            # machine): each takes the memory it uses, not the whole device. A value the
            # user set stays.
            os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")

            import_tensorflow_quietly()
            tune_tensorflow()
        # Every job needs these: imported now, while the process waits for its first job.
        import resnet_nas.nets.build  # noqa: F401
        import resnet_nas.train  # noqa: F401
        # Frozen while the collector is still off: back on first, its next allocation would
        # collect the young generations, which hold every object the imports made.
        settle()


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No automatic garbage collection inside (see the module doc); as it was after."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def tune_tensorflow() -> None:
    """Turns TensorFlow's graph optimizer off where no GPU is visible (see the module doc)."""
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})


def settle() -> None:
    """Freezes what exists now out of the garbage collector: start-up objects (and a loaded
    data set) live as long as the process, and need not be walked at every collection."""
    gc.freeze()


def rss_mb(pid: int | None = None) -> float:
    """Resident set size of a process in MiB (Linux /proc; 0 where unavailable)."""
    try:
        with open(f"/proc/{pid or 'self'}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0
