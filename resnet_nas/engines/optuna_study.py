"""The Optuna study of a run: sampler and pruner from their names, creating and loading it, and
the checks that a storage holds this run's study (and nothing else) before a search starts.

The study keeps what a worker elsewhere needs (user attributes): the run's id (`run_id`), the
space file's text (`space_yaml`), its hash and the run's metadata (`run_meta`, no storage URL).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import optuna

from resnet_nas import results, trial_attrs
from resnet_nas.engines.history_window import HistoryWindowSampler
from resnet_nas.sharing.heartbeats_in_use import (HeartbeatsInUse, describe_problem,
                                                      heartbeat_problem)
from resnet_nas.errors import SearchError
from resnet_nas.records import TrialRecord
from resnet_nas.samplers import EvolutionSampler, LocalSearchSampler
from resnet_nas.run import Run, storage_file
from resnet_nas.space.sample import Violation
from resnet_nas.storage import INTERVAL_ENV, heartbeat_settings, open_storage, redact
from resnet_nas.validation import ConfigError
from resnet_nas.vocabulary import NO_PRUNER, OPTUNA_SAMPLERS, PRUNERS


STUDY_SPACE_YAML = "space_yaml"
STUDY_RUN_META = "run_meta"
STUDY_RUN_ID = "run_id"


def make_sampler(name: str, seed: int, history: int | None = None) -> optuna.samplers.BaseSampler:
    """The study's sampler.

    Args:
      name: one of vocabulary.OPTUNA_SAMPLERS.
      seed: its seed.
      history: TPE only: model the most recent `history` finished trials (at most twice as
        many), not the whole study, so that TPE's cost per trial stops growing
        (HistoryWindowSampler). None: the whole study.

    Raises:
      ConfigError: an unknown name.
      ValueError: a history for a sampler other than TPE.
    """
    if history is not None and name != "tpe":
        raise ValueError(f"a sampler history bounds TPE only, not {name!r}")
    if name == "tpe":
        if history is not None:
            return HistoryWindowSampler(_tpe, history, seed)
        return _tpe(seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "cmaes":
        # CMA-ES covers the numeric, always-present parameters; the rest (categorical and
        # conditional stage parameters) fall back to independent TPE.
        return optuna.samplers.CmaEsSampler(
            seed=seed, independent_sampler=optuna.samplers.TPESampler(seed=seed))
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    if name == "evolution":
        return EvolutionSampler(seed=seed)
    if name == "local":
        return LocalSearchSampler(seed=seed)
    raise ConfigError(None, "search.sampler", f"one of {list(OPTUNA_SAMPLERS)}", name)


def _tpe(seed: int) -> optuna.samplers.TPESampler:
    return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True,
                                      constant_liar=True)


def make_pruner(name: str, epochs: int, multi_objective: bool) -> optuna.pruners.BasePruner:
    if multi_objective or name == NO_PRUNER:
        return optuna.pruners.NopPruner()  # Optuna cannot prune multi-objective studies
    if name == "median":
        # the first epochs of short trials are noisy: let a quarter of them pass unpruned
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=max(1, epochs // 4))
    if name == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(epochs, 1),
                                              reduction_factor=3)
    raise ConfigError(None, "search.pruner", f"one of {list(PRUNERS)}", name)


def continued_seed(seed: int, trials_so_far: int) -> int:
    """The sampler seed of a process that joins a study with `trials_so_far` trials.

    A resumed search must continue the study, not replay it: re-seeding the sampler with the
    run's seed would propose trials 0, 1, 2 again. The seed stays reproducible (the same run
    resumed at the same point draws the same) and is the run's own seed for a new study.
    """
    if trials_so_far == 0:
        return seed
    blob = f"{seed}:{trials_so_far}".encode()
    return int(hashlib.sha256(blob).hexdigest()[:8], 16)


def study_id(storage: optuna.storages.BaseStorage, name: str) -> int | None:
    try:
        return storage.get_study_id_from_name(name)
    except KeyError:
        return None


def trial_count(storage: optuna.storages.BaseStorage, name: str) -> int:
    sid = study_id(storage, name)
    return 0 if sid is None else len(storage.get_all_trials(sid, deepcopy=False))


def trial_id(storage: optuna.storages.BaseStorage, study: optuna.Study, number: int) -> int:
    """The storage id of trial `number` (for heartbeats), through the storage's public API."""
    return storage.get_trial_id_from_study_id_trial_number(
        storage.get_study_id_from_name(study.study_name), number)


def create_study(run: Run, storage: optuna.storages.BaseStorage, epochs: int,
                 space_text: str) -> optuna.Study:
    """Creates the run's study and records the run in it.

    Raises:
      SearchError: a study of that name exists already (created since the checks).
    """
    try:
        study = optuna.create_study(study_name=run.study, storage=storage,
                                    sampler=make_sampler(run.sampler, run.seed, run.sampler_history),
                                    pruner=make_pruner(run.pruner, epochs, len(run.objectives) > 1),
                                    directions=run.directions, load_if_exists=False)
    except optuna.exceptions.DuplicatedStudyError:
        raise SearchError(f"study {run.study!r} was created by another process while this "
                          "search started; choose another --study-name") from None
    study.set_user_attr(STUDY_RUN_ID, run.run_id)
    study.set_user_attr("space_hash", run.space_hash)
    study.set_user_attr("space", run.space)
    study.set_user_attr(STUDY_SPACE_YAML, space_text)
    study.set_user_attr(STUDY_RUN_META, run.study_attrs())
    return study


def load_study(run: Run, storage: optuna.storages.BaseStorage, epochs: int,
               sampler_seed: int | None = None) -> optuna.Study:
    """Loads the run's study with its sampler (seeded to continue the study) and pruner."""
    seed = continued_seed(run.seed, trial_count(storage, run.study)) if sampler_seed is None \
        else sampler_seed
    return optuna.load_study(study_name=run.study, storage=storage,
                             sampler=make_sampler(run.sampler, seed, run.sampler_history),
                             pruner=make_pruner(run.pruner, epochs, len(run.objectives) > 1))


# ---------------------------------------------------------------------------------------------
# Checks before anything is written.
def _names(storage: optuna.storages.BaseStorage) -> list[str]:
    return sorted(s.study_name for s in storage.get_all_studies())


def check_new_study(url: str, run: Run) -> None:
    """A new run's storage must be reachable and must not hold a study of that name.

    Raises:
      StorageError: unreachable or unusable storage.
      SearchError: the study exists (it belongs to another run).
    """
    path = storage_file(url)
    if path is not None and not path.exists():
        return  # created with the run
    storage = open_storage(url, heartbeat=False)
    sid = study_id(storage, run.study)
    if sid is None:
        return
    attrs = storage.get_study_user_attrs(sid)
    recorded = attrs.get("space_hash")
    if recorded and recorded != run.space_hash:
        raise SearchError(f"study {run.study!r} in {redact(url)!r} was created for a space with "
                          f"hash {recorded}, but this space's hash is {run.space_hash}; choose "
                          "another --study-name")
    raise SearchError(f"study {run.study!r} exists already in {redact(url)!r} (it belongs to "
                      "another run): resume that run (--resume --run-dir DIR), attach workers "
                      f"to it (python -m resnet_nas worker --study {run.study} --storage URL), "
                      "or choose another --study-name")


def check_resumed_study(url: str, run: Run, run_dir: Path, rows: list[dict[str, Any]]) -> None:
    """A resumed run's storage must hold this run's own study, at least as far as its rows go.

    Raises:
      SearchError: saying what is missing and how to recover; nothing is changed.
    """
    n_rows = len(rows)
    last = max((int(r["trial"]) for r in rows), default=-1)
    kept = (f"its {n_rows} finished trials are safe in {run_dir / 'rows'}" if n_rows
            else "it has no finished trials yet")
    path = storage_file(url)
    if path is not None and not path.exists():
        raise SearchError(
            f"--resume: the study of this run is missing: {path} does not exist ({kept}). "
            "Restore that file (a moved or copied run directory must keep it), or start a new "
            "run with another --run-dir; nothing was changed")
    storage = open_storage(url, heartbeat=False)
    sid = study_id(storage, run.study)
    if sid is None:
        have = ", ".join(_names(storage)) or "no study"
        raise SearchError(
            f"--resume: storage {redact(url)!r} holds no study {run.study!r} (it holds: {have}; "
            f"{kept}). Restore the run's storage, or start a new run with another --run-dir; "
            "nothing was changed")
    attrs = storage.get_study_user_attrs(sid)
    in_use = HeartbeatsInUse.of(attrs)
    interval = heartbeat_settings()[0]
    problem = heartbeat_problem(in_use, interval, None)
    if problem is not None:
        raise SearchError(f"--resume: the heartbeat interval ({interval} s, {INTERVAL_ENV}) "
                          f"{describe_problem(run.study, in_use, *problem)}; nothing was changed")
    if run.run_id and attrs.get(STUDY_RUN_ID) not in (None, run.run_id):
        raise SearchError(
            f"--resume: study {run.study!r} in {redact(url)!r} belongs to another run (run id "
            f"{attrs.get(STUDY_RUN_ID)}, this run's is {run.run_id}): the storage was replaced "
            f"or is shared ({kept}). Restore this run's own storage, or start a new run; "
            "nothing was changed")
    n_trials = len(storage.get_all_trials(sid, deepcopy=False))
    if last >= n_trials:
        raise SearchError(
            f"--resume: study {run.study!r} in {redact(url)!r} is older than the run's rows (it "
            f"has {n_trials} trials, the rows go up to trial {last}): restore the study that "
            "goes with this run directory; nothing was changed")


def restore_missing_rows(url: str, run: Run, run_dir: Path) -> int:
    """On resume: writes the row of every finished trial of this run that the storage holds a
    record of but the run directory does not (the disk filled after the trial was told, or
    rows were removed): the storage is what counts. Returns how many."""
    storage = open_storage(url, heartbeat=False)
    study = optuna.load_study(study_name=run.study, storage=storage)
    n = 0
    for t in study.get_trials(deepcopy=False):
        if not t.state.is_finished() or trial_attrs.RECORD not in t.user_attrs:
            continue
        owner = trial_attrs.owner_of(t.user_attrs)
        if owner is not None and owner.run_id != run.run_id:
            continue  # another worker's: its own run directory has it
        if results.row_path(run_dir, run.study, t.number).exists():
            continue
        rec = TrialRecord.from_row(json.loads(t.user_attrs[trial_attrs.RECORD]))
        results.write_record(run_dir, replace(rec, study=run.study, trial=t.number))
        n += 1
    return n


def tell_infeasible(study: optuna.Study, trial: optuna.Trial,
                    violations: Sequence[Violation]) -> None:
    """Tells Optuna a sample that breaks the space's constraints: pruned (it never ran), with
    each constraint set to by how much it is missed (> 0: infeasible; Trial.set_constraint).
    Optuna's constraint-aware samplers (TPE) then learn where the feasible architectures are,
    which a failed trial would not teach them; the dashboard shows it as an infeasible
    pruned trial, not a failure."""
    for v in violations:
        trial.set_constraint(v.constraint, v.excess)
    study.tell(trial, state=optuna.trial.TrialState.PRUNED)
