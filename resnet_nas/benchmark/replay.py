"""Replaying a search on a benchmark table: real Optuna studies, no training.

Each replay is an in-memory Optuna study with the search's own sampler and pruner
(`make_sampler` / `make_pruner`, so the shipped settings are what is measured), driven the way
the Optuna engine drives a search (ask, sample through the space, tell):

- the architecture is drawn with the space's own `sample_architecture` and looked up in the
  table by `Architecture.key()`;
- its stored validation curve is reported epoch by epoch, and the pruner is asked before every
  epoch but the last, as in `TrialFlow.train`: a pruned trial reads (and costs) only the
  epochs a real trial would have run;
- a complete trial is told its score (the curve's best, as the search tells
  `best_val_accuracy`); a pruned one is told pruned;
- an architecture trained earlier in the same study is a duplicate: the search reuses its
  result at no cost and does not count it, and so does the replay (too many in a row end
  the study, like `search.max_duplicates`);
- an infeasible sample, or one missing from a partial table, is told failed and costs nothing
  (counted as `missing`);
- on a table of several seeds, a study sees one seed's training of each architecture
  (`Entry.run(repeat)`): the pruner and the pick work on that noisy curve, as a search's do,
  while regret and the pick's test accuracy are the pick's mean over seeds (its expected
  quality, not its lucky draw).

Compute is counted in epochs read and in seconds (the entry's train seconds, pro rata for a
pruned trial).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import optuna
from optuna.trial import TrialState

from resnet_nas.benchmark.table import ScoredEntries
from resnet_nas.engines.optuna_study import make_pruner, make_sampler
from resnet_nas.engines.optuna_study import tell_infeasible


@dataclass(frozen=True)
class Combo:
    """One sampler and pruner pair, by the search's names.

    Attributes:
      history: TPE's bounded history (search.sampler_history); None: the whole study.
    """

    sampler: str
    pruner: str
    history: int | None = None

    @property
    def sampler_label(self) -> str:
        return self.sampler if self.history is None else f"{self.sampler}/h{self.history}"

    @property
    def label(self) -> str:
        return f"{self.sampler_label}+{self.pruner}"


@dataclass(frozen=True)
class Step:
    """The state of one replayed study after one counted trial.

    Attributes:
      trial: counted trials so far (1-based).
      arch_key: the architecture of this trial.
      epochs_read: epochs this trial read (its cost).
      compute_epochs / compute_seconds: cumulative cost so far.
      best_key: the pick so far: the complete trial with the highest score (None before the
        first complete one).
      best_score: its score (on a table of several seeds, the mean over them).
      regret: table best score - best_score (the table's best - worst before any pick).
      pick_test_accuracy: the pick's test accuracy.
      pruned: this trial was pruned.
    """

    trial: int
    arch_key: str
    epochs_read: int
    compute_epochs: int
    compute_seconds: float
    best_key: str | None
    best_score: float | None
    regret: float
    pick_test_accuracy: float | None
    pruned: bool


@dataclass(frozen=True)
class StudyReplay:
    """One replayed study.

    Attributes:
      combo / repeat: what ran (repeat is also the sampler seed).
      steps: one Step per counted trial, in order.
      missing: samples told failed at no cost (infeasible, or not in the table).
      duplicates: samples of architectures already run in this study (reused, free).
    """

    combo: Combo
    repeat: int
    steps: tuple[Step, ...]
    missing: int = 0
    duplicates: int = 0


def replay_study(table: ScoredEntries, combo: Combo, repeat: int, trials: int,
                 budget_epochs: int | None = None) -> StudyReplay:
    """Replays one study of `trials` counted trials (or until `budget_epochs` are spent).

    Args:
      table: the benchmark.
      combo: sampler and pruner names (as in the space file's search section).
      repeat: the repeat index, also the sampler's seed.
      trials: counted trials (duplicates and missing samples do not count).
      budget_epochs: stop once this many epochs have been read (None: no limit).

    Returns:
      The StudyReplay.
    """
    epochs = table.epochs
    # A fixed name: Hyperband assigns trials to brackets by hashing the study's name with the
    # trial number, and an in-memory study's default name is random, so a replay would not be
    # reproducible.
    study = optuna.create_study(study_name=f"replay-{combo.label}-{repeat}",
                                direction="maximize", sampler=make_sampler(combo.sampler, repeat,
                                                                     combo.history),
                                pruner=make_pruner(combo.pruner, epochs, False))
    best = table.best_score
    seen: dict[str, TrialState] = {}
    steps: list[Step] = []
    missing = duplicates = in_a_row = 0
    compute_epochs, compute_seconds = 0, 0.0
    best_key: str | None = None
    observed = 0.0  # the pick's score as this study saw it (its seed's curve)
    # Bounds a sampler that keeps proposing missing or duplicate architectures.
    max_asks = 10 * trials + 100
    for _ in range(max_asks):
        if len(steps) >= trials or (budget_epochs is not None and compute_epochs >= budget_epochs):
            break
        if in_a_row >= table.max_duplicates:
            break  # the search would stop here: the space looks exhausted
        trial = study.ask()
        entry, violations = table.draw(trial)
        if entry is None:
            missing += 1
            if violations:  # as the search tells it
                tell_infeasible(study, trial, violations)
            else:
                study.tell(trial, state=TrialState.FAIL)
            continue
        if entry.arch_key in seen:  # the search reuses the earlier result, at no cost
            duplicates += 1
            in_a_row += 1
            state = seen[entry.arch_key]
            if state == TrialState.COMPLETE:
                study.tell(trial, entry.run(repeat).score)
            else:
                study.tell(trial, state=state)
            continue
        in_a_row = 0
        run = entry.run(repeat)
        read, pruned = 0, False
        for e, value in enumerate(run.curve, start=1):
            read = e
            trial.report(value, e)
            if e < len(run.curve) and trial.should_prune():
                pruned = True
                break
        if pruned:
            study.tell(trial, state=TrialState.PRUNED)
            seen[entry.arch_key] = TrialState.PRUNED
        else:
            study.tell(trial, run.score)
            seen[entry.arch_key] = TrialState.COMPLETE
            if best_key is None or run.score > observed:
                best_key, observed = entry.arch_key, run.score
        compute_epochs += read
        compute_seconds += run.seconds * read / len(run.curve)
        pick = table.entries[best_key] if best_key is not None else None
        steps.append(Step(
            trial=len(steps) + 1, arch_key=entry.arch_key, epochs_read=read,
            compute_epochs=compute_epochs, compute_seconds=compute_seconds, best_key=best_key,
            best_score=pick.score if pick else None,
            regret=best - (pick.score if pick else table.worst_score),
            pick_test_accuracy=pick.test_accuracy if pick else None, pruned=pruned))
    return StudyReplay(combo, repeat, tuple(steps), missing, duplicates)


# ---------------------------------------------------------------------------------------------
# Many replays, in parallel processes.
_TABLE: ScoredEntries | None = None  # the table of a replay worker process (set once)


def quiet_optuna() -> None:
    """Silences Optuna's per-trial notes and warnings: thousands of replayed trials would print
    CMA-ES's 'sampled independently' fallback note and the experimental-feature warnings of
    the shipped TPE settings for every trial."""
    import warnings

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def _init_worker(table: ScoredEntries, forked: bool = False) -> None:
    global _TABLE
    _TABLE = table
    quiet_optuna()
    if forked:
        import signal

        # A forked worker inherits the CLI's stop handlers (resnet_nas.interrupts), which would
        # turn the pool's SIGTERM at shutdown into a traceback; Ctrl-C is the parent's to handle.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_task(task: tuple[Combo, int, int, int | None]) -> StudyReplay:
    assert _TABLE is not None
    return replay_study(_TABLE, *task)


def replay_all(table: ScoredEntries, combos: Sequence[Combo], repeats: int, trials: int,
               budget_epochs: int | None = None, processes: int = 2) -> list[StudyReplay]:
    """Replays every combo `repeats` times (repeat r seeds the sampler with r).

    Args:
      table: the benchmark.
      combos: sampler/pruner pairs.
      repeats: studies per combo.
      trials: counted trials per study.
      budget_epochs: epoch budget per study (None: no limit).
      processes: worker processes (1: in this process).

    Returns:
      The StudyReplays, combo by combo, repeat by repeat.
    """
    tasks = [(c, r, trials, budget_epochs) for c in combos for r in range(repeats)]
    if processes <= 1:
        _init_worker(table)
        return [_run_task(t) for t in tasks]
    import multiprocessing as mp

    # fork: the replay is pure Python (no Keras, no threads of a backend), and a forked worker
    # starts in milliseconds with the table already in memory.
    ctx = mp.get_context("fork")
    with ctx.Pool(processes, initializer=_init_worker, initargs=(table, True)) as pool:
        return pool.map(_run_task, tasks, chunksize=1)
