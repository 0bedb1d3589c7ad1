"""A sampler that models only the study's most recent trials, so its cost per trial stays flat.

Optuna's TPE refits its Parzen estimators on every finished trial at every `ask`: its cost per
trial grows linearly with the study (experiments/bench_loop.py; figures: experiments/RESULTS.md,
"TPE with a bounded history"), and Optuna has no setting that
bounds the history. `HistoryWindowSampler` gives the wrapped sampler a study of its own, in
memory, holding the real study's most recent finished trials (at least `history`, at most
2 x `history`) and its running ones, and lets it decide on that study. It uses Optuna's public
Study and BaseSampler API only.

Until the study has more than `history` finished trials, the window is the whole study and the
wrapped sampler (seeded with the same seed) proposes exactly what it would propose on the real
study. Past that, the oldest trials drop out in blocks: when the window holds 2 x `history`
finished trials it is rebuilt with the latest `history`, so the cost of rebuilding is spread
over `history` trials.

Optuna hands a sampler a *view* of the study, not always the study: with the Hyperband pruner,
the trials of the current trial's bracket only (each bracket is modelled on its own). The
views are disjoint sets of trials, so each gets a window (and a wrapped sampler) of its own,
found by the finished trials it shares with the view.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial, TrialState

#: Trial states the wrapped sampler learns from (RUNNING: constant liar's pending trials).
_STATES = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)


class HistoryWindowSampler(optuna.samplers.BaseSampler):
    """Runs `make_inner(seed)`'s sampler on a window of the study's most recent trials.

    Args:
      make_inner: builds the wrapped sampler from a seed (called again, with a seed drawn from
        this sampler's own generator, for each new window).
      history: the number of most recent finished trials the wrapped sampler sees at least
        (at most twice as many between rebuilds).
      seed: the first wrapped sampler's seed, and the seed of the later ones' seeds.
    """

    def __init__(self, make_inner: Callable[[int], optuna.samplers.BaseSampler], history: int,
                 seed: int) -> None:
        if history < 1:
            raise ValueError(f"history must be >= 1, got {history}")
        self._make_inner = make_inner
        self._history = history
        self._seed = seed
        self._seeds = np.random.RandomState(seed)
        self._windows: list[_Window] = []
        self._of_finished: dict[int, _Window] = {}  # real trial number -> its window
        self._of_running: dict[int, _Window] = {}

    @property
    def history(self) -> int:
        return self._history

    # -- BaseSampler ------------------------------------------------------------------------
    def infer_relative_search_space(self, study: optuna.Study,
                                    trial: FrozenTrial) -> dict[str, BaseDistribution]:
        window, copy = self._sync(study, trial)
        return window.inner.infer_relative_search_space(window.study, copy)

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        window, copy = self._current(study, trial)
        return window.inner.sample_relative(window.study, copy, search_space)

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        window, copy = self._current(study, trial)
        return window.inner.sample_independent(window.study, copy, param_name,
                                               param_distribution)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        for window in self._windows:
            window.inner.before_trial(study, trial)

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state: TrialState,
                    values: Sequence[float] | None) -> None:
        window = self._of_running.get(trial.number)
        if window is not None:
            window.inner.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self._seeds = np.random.RandomState()
        for window in self._windows:
            window.inner.reseed_rng()

    # -- the windows ------------------------------------------------------------------------
    def _current(self, study: optuna.Study, trial: FrozenTrial) -> tuple[_Window, FrozenTrial]:
        window = self._of_running.get(trial.number)
        if window is None:
            return self._sync(study, trial)
        return window, window.copy_of(trial.number)

    def _sync(self, view: optuna.Study, trial: FrozenTrial) -> tuple[_Window, FrozenTrial]:
        """Brings the view's window up to date; returns it and `trial`'s copy in it."""
        trials = view.get_trials(deepcopy=False, states=_STATES)
        finished = [t for t in trials if t.state != TrialState.RUNNING]
        running = [t for t in trials if t.state == TrialState.RUNNING]
        if not any(t.number == trial.number for t in running):
            running.append(trial)
        recent = finished[-self._history:]
        window = next((self._of_finished[t.number] for t in reversed(finished)
                       if t.number in self._of_finished), None)
        if window is None:
            # a view with nothing finished that this sampler knows: one without a window yet
            # (a view starts empty: any empty window will do)
            window = next((w for w in self._windows if not w.finished), None) \
                or self._new_window(view)
        new = [t for t in recent if t.number not in window.finished]
        if len(window.finished) + len(new) > 2 * self._history:
            for number in window.finished:
                self._of_finished.pop(number, None)
            window.rebuild(self._make_inner(self._next_seed()))
            new = recent
        for number in window.fail_running():
            self._of_running.pop(number, None)
        for t in new:
            window.add_finished(t)
            self._of_finished[t.number] = window
        for t in running:
            window.add_running(t)
            self._of_running[t.number] = window
        return window, window.copy_of(trial.number)

    def _new_window(self, view: optuna.Study) -> _Window:
        # the first wrapped sampler has this sampler's seed: while the study fits in its
        # window, it proposes what it would propose without one
        seed = self._seed if not self._windows else self._next_seed()
        window = _Window(view.directions, self._make_inner(seed))
        self._windows.append(window)
        return window

    def _next_seed(self) -> int:
        return int(self._seeds.randint(0, 2**31 - 1))


class _Window:
    """An in-memory study holding copies of one view's recent finished and running trials."""

    def __init__(self, directions: Sequence[optuna.study.StudyDirection],
                 inner: optuna.samplers.BaseSampler) -> None:
        self._directions = list(directions)
        self.rebuild(inner)

    def rebuild(self, inner: optuna.samplers.BaseSampler) -> None:
        # a new study, and a new sampler for it (a sampler may keep state of the one study it
        # has seen)
        self.inner = inner
        self.study = optuna.create_study(directions=self._directions,
                                         sampler=optuna.samplers.RandomSampler(seed=0))
        self.added = 0  # trials added to the window study (its next trial number)
        self.finished: set[int] = set()  # real numbers of the finished copies
        self.running: dict[int, int] = {}  # real number -> the running copy's number

    def fail_running(self) -> list[int]:
        """Fails every running copy (a fresh one replaces it: its trial has more parameters
        now, or has finished; every sampler ignores failed trials); returns their numbers."""
        for number in self.running.values():
            self.study.tell(number, state=TrialState.FAIL)
        numbers, self.running = list(self.running), {}
        return numbers

    def add_finished(self, t: FrozenTrial) -> None:
        self._add(t)
        self.finished.add(t.number)

    def add_running(self, t: FrozenTrial) -> None:
        self.running[t.number] = self._add(t)

    def copy_of(self, number: int) -> FrozenTrial:
        return self.study.get_trials(deepcopy=False)[self.running[number]]

    def _add(self, t: FrozenTrial) -> int:
        """Adds a copy of `t`: what a sampler reads of it (not its user attributes)."""
        self.study.add_trial(optuna.trial.create_trial(
            state=t.state, params=t.params, distributions=t.distributions, values=t.values,
            intermediate_values=t.intermediate_values, system_attrs=t.system_attrs))
        self.added += 1
        return self.added - 1
