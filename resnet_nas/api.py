"""The Python API of resnet_nas, for notebooks and scripts (docs/python_api.md).

    import resnet_nas

    result = resnet_nas.search("quickstart", trials=6)    # python -m resnet_nas search ...
    result.table                                          # one row per trial (DataFrame)
    path = resnet_nas.export(result.run_dir)              # python -m resnet_nas export ...
    model = resnet_nas.build_model(path)                  # a Keras model, untrained

Each function does what its command does, with the same checks and errors: `search` builds the
command's SearchOptions and runs resnet_nas.engines.run_search; `export` and `build_model` are
the `export` and `build` commands. Nothing heavy is imported here: each function imports what it
needs when it is called (`search` never imports Keras: the trials train in trial processes).
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import keras
    import pandas as pd

    from resnet_nas.space import SearchSpace

__all__ = ["SearchResult", "build_model", "export", "load_space", "load_table", "search"]

#: search()'s own parameters that are SearchOptions fields.
_NAMED = ("trials", "run_dir", "data", "epochs", "engine", "sampler", "pruner", "seed", "resume")
#: SearchOptions fields that take several values (a single string is one value).
_SEQUENCES = ("sets", "enqueue")


@dataclass(frozen=True, eq=False)
class SearchResult:
    """How a search ended (what `python -m resnet_nas search` prints at its end).

    Attributes:
      run_dir: the run directory (run.json, rows/, results.csv, results.parquet).
      study: the study name (Optuna study, or Keras Tuner project).
      table: the run's results table, one row per finished trial (pandas DataFrame; its
        columns are resnet_nas.results.COLUMNS, documented in docs/results_table.md).
      best: the row of the best complete trial by best_val_accuracy (a pandas Series, the
        trial `export(run_dir, trial="best")` writes), or None when no trial completed.
      storage: the study's storage URL (it may hold a password; not shown in the repr).
      counts: the run's trials in words, e.g. '6 trained trials: 6 complete'.
      interrupted: 'SIGINT' or 'SIGTERM' when a signal (Ctrl-C, a kernel interrupt) stopped
        the search; the finished trials are kept and search(resume=True, run_dir=...) goes on.
      note: why the search stopped before its target, when it did (timeout, exhausted space).
      all_failed: every trial this call ran failed (see table's 'reason' column).
    """

    run_dir: Path
    study: str
    table: Any = field(repr=False)
    best: Any = field(repr=False)
    storage: str = field(repr=False)
    counts: str = ""
    interrupted: str | None = None
    note: str | None = None
    all_failed: bool = False

    def leaderboard(self, k: int = 10) -> "pd.DataFrame":
        """The leaderboard the command prints: the top-k complete trials, as text columns.

        Args:
          k: how many trials.

        Returns:
          A DataFrame: trial, val accuracy (± its standard error), n, params, FLOPs, epochs,
          train s, architecture.
        """
        from resnet_nas.cli import leaderboard

        return leaderboard(self.table, k)


def _options_error(name: str, allowed: list[str]) -> TypeError:
    return TypeError(f"search() got an unexpected keyword argument {name!r}; its keyword "
                     f"arguments are {', '.join(sorted(allowed))} (and out)")


def _values(value: Any) -> tuple[Any, ...]:
    """A sequence option as SearchOptions holds it: a tuple (one string is one value)."""
    if isinstance(value, (str, os.PathLike)):
        return (os.fspath(value),)
    return tuple(os.fspath(v) if isinstance(v, os.PathLike) else v for v in value)


def _text(value: Any) -> Any:
    """A path given as a pathlib.Path is the string the command line would give."""
    return os.fspath(value) if isinstance(value, os.PathLike) else value


@contextlib.contextmanager
def _quiet(enabled: bool) -> Iterator[None]:
    """Within the block, sys.stderr (the per-trial lines, warnings) goes nowhere if enabled."""
    if not enabled:
        yield
        return
    with contextlib.redirect_stderr(io.StringIO()):
        yield


def search(space: str | os.PathLike | None = None, *, trials: int | None = None,
           run_dir: str | os.PathLike | None = None, data: str | os.PathLike | None = None,
           epochs: int | None = None, engine: str | None = None, sampler: str | None = None,
           pruner: str | None = None, seed: int | None = None, resume: bool = False,
           out: Callable[[str], None] | None = print, **options: Any) -> SearchResult:
    """Runs (or resumes) an architecture search, as `python -m resnet_nas search` does.

    Each trial trains in a trial process (never in this one: a notebook's kernel stays free
    of TensorFlow); every finished trial is a row of RUN_DIR/results.{csv,parquet}. Ctrl-C (a
    kernel interrupt) stops the search at a safe point: the result then has `interrupted` set,
    and search(resume=True, run_dir=result.run_dir) continues it. Values are checked as the
    command's flags are, and errors name the flag (e.g. 'argument --trials: ...').

    Args:
      space: a shipped space name ('quickstart', 'cifar_resnet', ...) or a search-space YAML
        file (the command's SPACE). None: 'quickstart' for a new run; with `resume`, the run
        directory's own space.
      trials: finished trials the run should reach (--trials; default the space's
        search.trials; duplicates not counted).
      run_dir: the run directory (--run-dir; default runs/<space>-<timestamp> under the
        current directory). With `resume`: the run to continue.
      data: image folders (a directory or tar archive) or TFRecord shards, instead of the
        space's data set (--data).
      epochs: epochs per trial, instead of the space's train.epochs (--epochs).
      engine: 'optuna' (default) or 'keras-tuner' (--engine).
      sampler: optuna: tpe, random, cmaes, nsga2, evolution, local; keras-tuner: hyperband,
        bayesian, random (--sampler; default the space's search.sampler).
      pruner: none, median, successive_halving, hyperband (--pruner).
      seed: the sampler's seed (--seed; default the space's search.seed).
      resume: continue the run in `run_dir` (or the latest run of `space` under runs/).
      out: called with each message line (the trial lines go to stderr, with the progress
        bars); None: quiet (no messages, no progress bars, nothing on stderr meanwhile).
      **options: the command's other flags, by their SearchOptions names: timeout (seconds),
        storage (URL), sampler_history, study_name, backend, limit_train,
        max_trials_per_worker, create_only, progress (bars; default True, False when quiet),
        lookahead, sets ('dotted.key=value' texts, as --set), enqueue (as --enqueue),
        worker_env (extra environment of the trial processes).

    Returns:
      A SearchResult: run_dir, study, table, best (row), counts, interrupted, note.

    Raises:
      TypeError: a keyword argument that is none of the above.
      UsageError, ConfigError, SearchError, StorageError: bad input, found before anything
        is written (their message names the flag or the file and key).
    """
    from resnet_nas.engines import run_search
    from resnet_nas.main_script import check_main_script
    from resnet_nas.trial_export import pick_trial
    from resnet_nas.interrupts import stop_signals
    from resnet_nas.run import SearchOptions

    allowed = [f.name for f in fields(SearchOptions) if f.name not in ("space", *_NAMED)]
    for name in options:
        if name not in allowed:
            raise _options_error(name, [*allowed, "space", *_NAMED])
    for name in _SEQUENCES:
        if name in options:
            options[name] = _values(options[name])
    options = {k: _text(v) for k, v in options.items()}
    quiet = out is None
    options.setdefault("progress", not quiet)
    if space is None and not resume:
        space = "quickstart"
    opts = SearchOptions(space=_text(space), trials=trials, run_dir=_text(run_dir),
                         data=_text(data), epochs=epochs, engine=engine, sampler=sampler,
                         pruner=pruner, seed=seed, resume=resume, **options)
    say = (lambda line: None) if quiet else out
    check_main_script("resnet_nas.search")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # the trial processes' C++ logs
    with _quiet(quiet), stop_signals():
        summary = run_search(opts, out=say)
    table = summary.table
    try:
        best = pick_trial(table, "best") if len(table) else None
    except ValueError:  # no complete trial
        best = None
    say(f"run: {summary.run_dir}  study: {summary.study}")
    if summary.counts:
        say(summary.counts)
    if best is not None:
        say(f"best: trial {int(best['trial'])}, val accuracy "
            f"{float(best['best_val_accuracy']):.4f}, {int(best['params']):,} params")
    if summary.failure:
        say(summary.failure)
    return SearchResult(run_dir=Path(summary.run_dir), study=summary.study, table=table,
                        best=best, storage=summary.storage, counts=summary.counts,
                        interrupted=summary.interrupted, note=summary.note,
                        all_failed=summary.all_failed)


def load_space(name_or_path: str | os.PathLike,
               overrides: dict[str, Any] | None = None) -> "SearchSpace":
    """Loads and validates a search space, as `search` and `spaces validate` read it.

    Args:
      name_or_path: a shipped space name ('quickstart', 'cifar_resnet', 'slim_imagenet',
        'photos', 'anynet') or a search-space YAML file.
      overrides: {'dotted.key': value} set before validation (what --set does), e.g.
        {'train.epochs': 5}.

    Returns:
      The SearchSpace (resnet_nas.space.SearchSpace: name, description, data, train, search,
      the parameters; its `source` is the file it was read from).

    Raises:
      ConfigError: naming the file, the line and the key path of each problem.
    """
    from resnet_nas.space import load_space as load

    return load(name_or_path, overrides=overrides)


def load_table(run_dir: str | os.PathLike) -> "pd.DataFrame":
    """The results table of a run directory, one row per finished trial.

    Args:
      run_dir: a run directory (a search's, or a `collect`'s).

    Returns:
      A pandas DataFrame with the columns resnet_nas.results.COLUMNS (trial, state,
      best_val_accuracy, params, flops, arch, ...; documented in docs/results_table.md), read from the
      run's rows (never stale).

    Raises:
      FileNotFoundError: no such directory.
      ConfigError: a corrupted row (naming its file).
    """
    from resnet_nas.results import load_table as load

    return load(run_dir)


def export(run_dir: str | os.PathLike, trial: str | int = "best",
           out: str | os.PathLike | None = None) -> Path:
    """Writes one trial of a run as a standalone architecture config, as
    `python -m resnet_nas export` does.

    Args:
      run_dir: the run directory.
      trial: a trial number, or 'best' (the complete trial of the highest best_val_accuracy).
      out: the YAML file to write (default RUN_DIR/exports/trial_<N>.yaml).

    Returns:
      The path written. `python -m resnet_nas train --config PATH` retrains it from scratch,
      build_model(PATH) builds its Keras model.

    Raises:
      ValueError: no such trial, or no complete trial for 'best'.
      FileNotFoundError: no such run directory.
    """
    from resnet_nas.trial_export import export_config

    return export_config(run_dir, trial, out)


def build_model(source: str | os.PathLike, trial: str | int | None = None, *,
                allow_large: bool = False) -> "keras.Model":
    """Builds the Keras model of an architecture (untrained), as `python -m resnet_nas build`
    does, without saving it.

    Args:
      source: an architecture config file (what `export` and `python -m resnet_nas configs`
        write), or a run directory.
      trial: with a run directory, a trial number or 'best' (the default); with a config
        file, None.
      allow_large: build a model past the size limits (500M parameters, 1 TMAC per example,
        ...), which is refused otherwise before anything is built.

    Returns:
      An uncompiled keras.Model from raw pixels (B, H, W, C) to logits (B, classes), with the
      input normalisation of its trial; its count_params() is the table's `params`.

    Raises:
      ConfigError: a bad config, or a model past the size limits.
      ValueError: no such trial, or a trial given with a config file.
    """
    path = Path(source)
    if path.is_dir():
        from resnet_nas.trial_export import export_config

        with tempfile.TemporaryDirectory(prefix="resnet_nas-build-") as tmp:
            which = "best" if trial is None else trial
            config = export_config(path, which, Path(tmp) / f"{path.name}-trial_{which}.yaml")
            return _build(config, allow_large)
    if trial is not None:
        raise ValueError(f"build_model: trial={trial!r} picks a trial of a run directory, but "
                         f"{str(source)!r} is not a directory (an architecture config file is "
                         "one architecture: leave trial out)")
    return _build(path, allow_large)


def _build(path: Path, allow_large: bool) -> "keras.Model":
    from resnet_nas.arch_config import load_config
    from resnet_nas.retrain import check_size, config_normalization

    cfg = load_config(path)  # a bad config is refused before Keras loads
    check_size(cfg.arch, cfg.train, str(path), allow_large, "build")
    from resnet_nas.nets.build import build_model as build

    return build(cfg.arch, cfg.train.resnet_config(), name=cfg.name.replace("/", "_"),
                 normalization=config_normalization(cfg))
