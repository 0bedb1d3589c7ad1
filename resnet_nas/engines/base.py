"""What a search engine is to the rest of the search: a small typed interface.

`run_search` and the planner (resnet_nas.engines.planner) ask an engine for its samplers, its
checks of options and runs, its storage and its loop, and nothing else; Optuna
(resnet_nas.engines.optuna_engine.OptunaEngine) and Keras Tuner
(resnet_nas.engines.keras_tuner_engine.KerasTunerEngine) implement it. The defaults below are
the Optuna study's (a storage URL; no settings of its own); an engine overrides what differs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any

from resnet_nas.config import TrainConfig
from resnet_nas.engines.common import LoopResult, RunnerFactory, SearchContext
from resnet_nas.run import Run, SearchOptions, default_storage_url, resolve_storage
from resnet_nas.vocabulary import SAMPLERS_BY_ENGINE


class Engine(ABC):
    """A search engine.

    Attributes:
      name: the --engine value (one of vocabulary.ENGINE_NAMES).
    """

    name: str

    @property
    def samplers(self) -> tuple[str, ...]:
        """Its --sampler values."""
        return SAMPLERS_BY_ENGINE[self.name]

    def default_sampler(self, space_default: str) -> str:
        """The sampler of a run given no --sampler, from the space's `search.sampler`."""
        return space_default

    def check_options(self, opts: SearchOptions) -> None:
        """Refuses options the engine has no use for.

        Raises:
          UsageError: naming the flag.
        """

    def settings(self, run: Run, train: TrainConfig) -> Run:
        """The new run with the engine's own settings filled in."""
        return run

    def default_storage(self, run_dir: Path, create_only: bool) -> str:
        """The storage of a new run given none."""
        return default_storage_url(run_dir, journal=create_only)

    def resolve_storage(self, ref: str, run_dir: Path, given: str | None) -> str:
        """The usable storage of a resumed run (Run.storage, where the directory is now,
        --storage)."""
        return resolve_storage(ref, run_dir, given)

    def check_new(self, storage_url: str, run: Run) -> None:
        """Checks the storage before a new run directory is created (SearchError)."""

    def check_resumed(self, storage_url: str, run: Run, run_dir: Path,
                      rows: list[dict[str, Any]]) -> None:
        """Checks the storage against the run's rows before a resume changes anything."""

    def restore_rows(self, storage_url: str, run: Run, run_dir: Path) -> int:
        """Rows restored from the storage's records (a resume's repair of rows a full disk or a
        removal lost); how many."""
        return 0

    @abstractmethod
    def run(self, ctx: SearchContext, resumed: bool, create_only: bool,
            out: Callable[[str], None], runner_factory: RunnerFactory | None) -> LoopResult:
        """Runs the search loop of the run directory `ctx` describes."""
