"""A run: its typed metadata (`Run`, kept as RUN_DIR/run.json) and its directory.

A run directory is self-contained and can be moved or copied:

    RUN_DIR/run.json      the Run below (no credential: storage URLs are redacted)
    RUN_DIR/space.yaml    the space file, byte for byte (its sha256 is in run.json)
    RUN_DIR/study.db      the default storage, named relative to the run directory
    RUN_DIR/rows/         one JSON row per finished trial (resnet_nas.results)
    RUN_DIR/results.csv, results.parquet   tables derived from the rows
    RUN_DIR/keras_tuner/  the Keras Tuner project (engine keras-tuner)
    RUN_DIR/.lock         held by the one process working in the run directory (lock.py)

Everything a search or a worker needs is decided and checked before any of it is written,
and the directory is then written in one step under its lock, by one planner for a new run, a
resume and a worker (resnet_nas.engines.planner); this module reads and writes its files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import uuid
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from resnet_nas.config import DataConfig, TrainConfig
from resnet_nas.errors import SearchError, UsageError
from resnet_nas.fileio import read_json_object, write_atomic
from resnet_nas.space import SearchSpace, load_space
from resnet_nas.storage import STORAGE_ENV, redact
from resnet_nas.validation import (ConfigError, check_keys, expect_choice, expect_int,
                                   expect_name, join)
from resnet_nas.vocabulary import (BACKENDS, DEFAULT_ENGINE, DEFAULT_SPACE,
                                   DEFAULT_TRIALS_PER_PROCESS, ENGINE_NAMES, EPOCHS, EXAMPLES,
                                   MAX_TRIALS, OBJECTIVES, PRUNERS, SAMPLER_HISTORY,
                                   SAMPLERS_BY_ENGINE, SEED, TIMEOUT, TRIALS, TRIALS_PER_PROCESS,
                                   check_option)

RUN_META = "run.json"
RUN_SPACE = "space.yaml"
DEFAULT_SQLITE = "study.db"
DEFAULT_JOURNAL = "study.journal"
#: Stands for the run directory in run.json's storage URL, so that the directory can move.
RUN_DIR_TOKEN = "{RUN_DIR}"
FORMAT = 2


def now() -> str:
    """The current UTC time, ISO-8601 to the second (the time stamps of runs and rows)."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def file_sha256(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------------------
# What `search` takes.
@dataclass(frozen=True)
class SearchOptions:
    """Everything `python -m resnet_nas search` takes. None means: the run's or the space
    file's value.

    Attributes:
      worker_env: extra environment of the trial processes (e.g. CUDA_VISIBLE_DEVICES).
      storage: storage URL; without it, $RESNET_NAS_STORAGE, else SQLite in the run dir.
      lookahead: sample the next trial while one trains and set it up in a second trial
        process (Optuna engine, TensorFlow trainer; resnet_nas.lookahead).
      enqueue: `--enqueue` items: the study's first trials (resnet_nas.enqueue).
    """

    space: str | None = DEFAULT_SPACE
    trials: int | None = None
    timeout: float | None = None
    storage: str | None = None
    run_dir: str | None = None
    resume: bool = False
    engine: str | None = None
    sampler: str | None = None
    sampler_history: int | None = None
    pruner: str | None = None
    study_name: str | None = None
    seed: int | None = None
    epochs: int | None = None
    backend: str | None = None
    data: str | None = None  # --data PATH: an image folder / .tar.gz, overrides the data set
    limit_train: int | None = None
    sets: tuple[str, ...] = ()  # --set dotted.key=value, applied to the space file
    max_trials_per_worker: int = DEFAULT_TRIALS_PER_PROCESS
    create_only: bool = False
    progress: bool = True
    worker_env: dict[str, str] = field(default_factory=dict)
    lookahead: bool = True
    #: --enqueue: known architectures, configs or directories of them (resnet_nas.enqueue)
    enqueue: tuple[str, ...] = ()

    def validate(self) -> None:
        """The one check of each value on its own, against resnet_nas.vocabulary (the command
        line only parses the text; what depends on the space or the run is checked by the
        planner, resnet_nas.engines.planner).

        Raises:
          UsageError: naming the flag, the value and what is expected.
        """
        check_option("--trials", self.trials, TRIALS)
        check_option("--sampler-history", self.sampler_history, SAMPLER_HISTORY)
        check_option("--timeout", self.timeout, TIMEOUT)
        check_option("--epochs", self.epochs, EPOCHS)
        check_option("--limit-train", self.limit_train, EXAMPLES)
        check_option("--max-trials-per-worker", self.max_trials_per_worker, TRIALS_PER_PROCESS)
        check_option("--seed", self.seed, SEED)
        check_option("--engine", self.engine, ENGINE_NAMES)
        check_option("--backend", self.backend, BACKENDS)
        check_option("--pruner", self.pruner, PRUNERS)
        self._check_sampler()
        if self.study_name is not None:
            try:
                expect_name(self.study_name, None, "")
            except ConfigError:
                raise UsageError("--study-name", self.study_name,
                                 "expected a name of letters, digits, '.', '_' and '-' "
                                 "(starting with a letter or digit)") from None
        if self.data is not None:
            check_data_path(self.data)
        if self.resume and self.create_only:
            raise UsageError("--create-only", None, "cannot be combined with --resume")
        if self.resume and self.enqueue:
            raise UsageError("--enqueue", None, "starts a new search from known architectures; "
                             "a resumed run keeps the trials it has")
        if self.sets:
            from resnet_nas.space import parse_overrides

            parse_overrides(self.sets)

    def _check_sampler(self) -> None:
        """--sampler is one of its engine's; a resumed run's engine is the run's, and the
        planner refuses any sampler but the run's own."""
        engine = self.engine or (None if self.resume else DEFAULT_ENGINE)
        if self.sampler is None or engine is None or self.sampler in SAMPLERS_BY_ENGINE[engine]:
            return
        other = [e for e, names in SAMPLERS_BY_ENGINE.items()
                 if e != engine and self.sampler in names]
        hint = f" ({self.sampler!r} is a sampler of --engine {other[0]})" if other else ""
        raise UsageError("--sampler", self.sampler, "expected one of "
                         f"{', '.join(SAMPLERS_BY_ENGINE[engine])} for --engine {engine}{hint}")


def absolute_path(path: str | None) -> str | None:
    """`path` made absolute against the current directory: a run, an export or a worker
    started elsewhere later must find the same data."""
    return None if path is None else str(Path(path).expanduser().resolve())


def check_data_path(path: str, flag: str = "--data") -> None:
    """--data must name an existing directory (image folders, or TFRecord shards) or a tar
    archive of image folders."""
    from resnet_nas.data.archives import is_archive_name

    p = Path(path)
    if p.is_dir() or (p.is_file() and is_archive_name(p.name)):
        return
    why = ("no such file or directory" if not p.exists()
           else "not a directory or a tar archive")
    raise UsageError(flag, path, "expected an image-folder directory or tar archive (.tar, "
                     f".tar.gz, .tgz, .tar.bz2, .tar.xz), or a directory of TFRecord shards "
                     f"({why})")


# ---------------------------------------------------------------------------------------------
# The run's metadata.
@dataclass(frozen=True)
class Overrides:
    """Command-line values that replace the space file's (they change what a trial is).

    Attributes:
      sets: the `--set dotted.key=value` texts, applied to the space file whenever the run
        reads it (RUN_DIR/space.yaml stays the file as it was given).
    """

    epochs: int | None = None
    backend: str | None = None
    data: str | None = None
    limit_train: int | None = None
    sets: tuple[str, ...] = ()

    def space_overrides(self) -> dict[str, Any]:
        """The --set values as load_space's overrides."""
        from resnet_nas.space import parse_overrides

        return parse_overrides(self.sets)


@dataclass(frozen=True)
class TunerSettings:
    """How the keras-tuner engine's oracle was set up (recorded for the reader of run.json)."""

    tuner: str
    objective: str
    seed: int
    max_epochs: int | None = None
    factor: int | None = None


@dataclass(frozen=True)
class Resume:
    """One `--resume` of the run and the changes it applied."""

    at: str
    trials: int
    backend: str | None = None
    data: str | None = None
    timeout: float | None = None


@dataclass(frozen=True)
class Run:
    """A run's metadata: everything a later process needs to continue it exactly.

    Attributes:
      run_id: random id, also kept in the study (user attr 'run_id'): a storage whose study has
        another id belongs to another run.
      study: Optuna study name (row file prefix).
      space / space_hash: the space's name and result-relevant hash (SearchSpace.hash).
      space_sha256: sha256 of RUN_DIR/space.yaml's bytes: any edit is refused on resume.
      space_source: where the space file was read from (provenance only).
      engine / sampler / pruner / objectives / seed: the study's settings.
      sampler_history: TPE's bounded history (search.sampler_history / --sampler-history);
        None: the whole study.
      trials: the finished trials the run should end with (duplicates do not count).
      storage: the storage URL, with '{RUN_DIR}' for the run directory when the storage is
        inside it (sqlite:///{RUN_DIR}/study.db), and any credential redacted (a resume then
        needs the full URL again: --storage or $RESNET_NAS_STORAGE).
      overrides: command-line values replacing the space file's.
      data_fingerprint: of the data set the run trains on (resnet_nas.engines.data_info).
      dataset: its readable name (DataConfig.label), written into every row with the
        fingerprint, so reports compare trials of the same data only.
      tuner: the Keras Tuner oracle's settings (engine keras-tuner).
      resumes: every --resume, with what it changed.
    """

    run_id: str
    study: str
    space: str
    space_hash: str
    space_sha256: str
    engine: str
    sampler: str
    pruner: str
    objectives: tuple[str, ...]
    seed: int
    trials: int
    storage: str
    created: str
    space_source: str = ""
    sampler_history: int | None = None
    overrides: Overrides = Overrides()
    data_fingerprint: str | None = None
    dataset: str | None = None
    tuner: TunerSettings | None = None
    resumes: tuple[Resume, ...] = ()

    # -- derived ----------------------------------------------------------------------------
    @property
    def directions(self) -> list[str]:
        return [OBJECTIVES[o] for o in self.objectives]

    def configs(self, space: SearchSpace) -> tuple[DataConfig, TrainConfig]:
        """The data and train configs of the run's trials: the space's, after the overrides.

        Raises:
          ConfigError: an override the configs refuse (named as the flag).
        """
        over = self.overrides
        data = space.data
        if over.data is not None:
            from resnet_nas.data import source_name  # the listing of a folder, no pixels

            data = replace(data, name=source_name(over.data), path=over.data)
        if over.limit_train is not None:
            data = replace(data, limit_train=over.limit_train)
        train = space.train
        if over.epochs is not None:
            train = replace(train, epochs=over.epochs)
        if over.backend is not None:
            train = replace(train, backend=over.backend)
        data.validate(space.source, "data")
        train.validate(space.source, "train")
        return data, train

    def study_attrs(self) -> dict[str, Any]:
        """What the study keeps of the run (no storage: it may name a password)."""
        d = self.to_dict()
        d.pop("storage")
        return d

    # -- (de)serialisation ------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["objectives"] = list(self.objectives)
        d["resumes"] = [asdict(r) for r in self.resumes]
        return {"format": FORMAT, **d}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    @classmethod
    def from_dict(cls, data: Any, source: str) -> "Run":
        """Validates run.json's content.

        Raises:
          ConfigError: naming the file and the key that is missing or wrong.
        """
        names = ["format", *cls.__dataclass_fields__]
        if isinstance(data, dict) and "format" not in data:
            data = _from_format_1(data)
        data = dict(check_keys(data, names, source, "", required=[
            "run_id", "study", "space", "space_hash", "space_sha256", "engine", "sampler",
            "pruner", "objectives", "seed", "trials", "storage", "created"]))
        expect_int(data.pop("format"), source, "format", minimum=1, maximum=FORMAT)
        for key in ("run_id", "space_hash", "space_sha256", "sampler", "pruner", "storage",
                    "created", "space_source"):
            if key in data and not isinstance(data[key], str):
                raise ConfigError(source, key, "a string", data[key])
        expect_name(data["study"], source, "study")
        expect_name(data["space"], source, "space")
        expect_choice(data["engine"], ENGINE_NAMES, source, "engine")
        expect_int(data["seed"], source, "seed", minimum=SEED.low, maximum=SEED.high)
        expect_int(data["trials"], source, "trials", minimum=TRIALS.low, maximum=TRIALS.high)
        if data.get("sampler_history") is not None:
            expect_int(data["sampler_history"], source, "sampler_history", minimum=1,
                       maximum=MAX_TRIALS)
        objectives = data["objectives"]
        if not isinstance(objectives, list) or not objectives:
            raise ConfigError(source, "objectives", f"a list of {list(OBJECTIVES)}", objectives)
        for i, o in enumerate(objectives):
            expect_choice(o, list(OBJECTIVES), source, join("objectives", i))
        data["objectives"] = tuple(objectives)
        overrides = _sub(Overrides, data.get("overrides"), source, "overrides")
        sets = overrides.sets
        if not isinstance(sets, (list, tuple)) or not all(
                isinstance(t, str) and len(t) <= 10_000 for t in sets):
            raise ConfigError(source, "overrides.sets", "a list of 'dotted.key=value' strings",
                              sets)
        data["overrides"] = replace(overrides, sets=tuple(sets))
        tuner = data.get("tuner")
        data["tuner"] = None if tuner is None else _sub(TunerSettings, tuner, source, "tuner")
        resumes = data.get("resumes") or []
        if not isinstance(resumes, list):
            raise ConfigError(source, "resumes", "a list", resumes)
        data["resumes"] = tuple(_sub(Resume, r, source, join("resumes", i))
                                for i, r in enumerate(resumes))
        for key in ("data_fingerprint", "dataset"):
            if data.get(key) is not None and not isinstance(data[key], str):
                raise ConfigError(source, key, "a string or null", data[key])
        return cls(**data)


def _sub(cls: type, raw: Any, source: str, path: str) -> Any:
    raw = dict(check_keys(raw, cls.__dataclass_fields__, source, path))
    try:
        return cls(**raw)
    except TypeError as e:  # a required field missing
        raise ConfigError(source, path, f"the keys {list(cls.__dataclass_fields__)}", raw,
                          hint=str(e)) from None


def _from_format_1(data: dict[str, Any]) -> dict[str, Any]:
    """run.json of resnet_nas before 2026-12 (no format, run_id or space_sha256; an absolute
    SQLite path): the fields it has, with a storage inside the run directory named
    relatively."""
    out = {k: v for k, v in data.items() if k in Run.__dataclass_fields__}
    storage = str(data.get("storage", ""))
    for scheme, name in (("sqlite:///", DEFAULT_SQLITE), ("journal://", DEFAULT_JOURNAL)):
        if storage.startswith(scheme) and storage.endswith("/" + name):
            out["storage"] = f"{scheme}{RUN_DIR_TOKEN}/{name}"
    if isinstance(data.get("keras_tuner"), dict):
        kt = data["keras_tuner"]
        out["tuner"] = {k: kt.get(k) for k in TunerSettings.__dataclass_fields__ if k in kt}
        out["storage"] = f"{RUN_DIR_TOKEN}/keras_tuner"
    out.setdefault("run_id", "")
    out.setdefault("space_sha256", "")
    out["format"] = 1
    return out


# ---------------------------------------------------------------------------------------------
# Storage references.
def default_storage_url(run_dir: Path, journal: bool = False) -> str:
    """The run directory's own storage: SQLite, or a file journal (a study made for workers on
    one machine: SQLite does not take concurrent writers well)."""
    if journal:
        return f"journal://{run_dir.resolve()}/{DEFAULT_JOURNAL}"
    return f"sqlite:///{run_dir.resolve()}/{DEFAULT_SQLITE}"


def storage_file(url: str) -> Path | None:
    """The file behind a journal:// or sqlite:/// URL (None for database servers)."""
    if url.startswith("journal://"):
        return Path(url[len("journal://"):])
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        return None if path in ("", ":memory:") else Path(path)
    return None


def storage_ref(url: str, run_dir: Path) -> str:
    """What run.json keeps of a storage URL: a file inside the run directory is named
    relative to it ({RUN_DIR}/study.db), so the directory can move; any other URL is kept with
    its credentials redacted."""
    path = storage_file(url)
    if path is not None:
        path = path.resolve()
        try:
            inside = path.relative_to(run_dir.resolve())
        except ValueError:
            scheme = "journal://" if url.startswith("journal://") else "sqlite:///"
            return f"{scheme}{path}"
        scheme = "journal://" if url.startswith("journal://") else "sqlite:///"
        return f"{scheme}{RUN_DIR_TOKEN}/{inside.as_posix()}"
    return redact(url)


def resolve_storage(ref: str, run_dir: Path, given: str | None) -> str:
    """The usable URL of a run's storage.

    Args:
      ref: Run.storage.
      run_dir: where the run directory is now.
      given: --storage (or $RESNET_NAS_STORAGE), needed when run.json holds a redacted URL.

    Raises:
      UsageError: a redacted URL and no full one given, or a given one that is not the run's.
    """
    if RUN_DIR_TOKEN in ref:
        url = ref.replace(RUN_DIR_TOKEN, str(run_dir.resolve()))
        if given is not None and storage_ref(given, run_dir) != ref:
            raise UsageError("--storage", redact(given), "this run's study is in its run "
                             "directory; leave --storage out")
        return url
    if "***" in ref:
        if given is None:
            raise UsageError("--storage", None, f"this run's storage is {ref}; give its full URL "
                             f"with --storage or ${STORAGE_ENV} (run.json keeps no password)")
        if redact(given) != ref:
            raise UsageError("--storage", redact(given), f"this run's storage is {ref}")
        return given
    if given is not None and storage_ref(given, run_dir) != ref:
        raise UsageError("--storage", redact(given), f"this run's storage is {ref}")
    return ref


# ---------------------------------------------------------------------------------------------
# The run directory.
def read_run(run_dir: Path, flag: str = "--run-dir") -> Run:
    """The Run of an existing run directory.

    Raises:
      UsageError: not a run directory.
      ConfigError: a run.json that is not valid (naming the file and key).
    """
    if not run_dir.is_dir():
        found = "a file" if run_dir.exists() else "nothing there"
        raise UsageError(flag, str(run_dir), f"expected a resnet_nas run directory ({found})")
    meta = run_dir / RUN_META
    if not meta.is_file():
        raise UsageError(flag, str(run_dir), f"expected a resnet_nas run directory (no "
                         f"{RUN_META} in it)")
    return Run.from_dict(read_json_object(meta, "run metadata"), str(meta))


def write_run(run_dir: Path, run: Run) -> None:
    write_atomic(run_dir / RUN_META, run.to_json())


def latest_run_dir(space_name: str, root: str | Path = "runs") -> Path | None:
    """The newest run directory of a space under `root` (only real runs: with a run.json)."""
    runs = [p for p in Path(root).glob(f"{space_name}-*") if (p / RUN_META).is_file()]
    return max(runs, key=lambda p: p.stat().st_mtime) if runs else None


def run_space(run_dir: Path, run: Run) -> SearchSpace:
    """The run's own space (RUN_DIR/space.yaml), refused when it was edited after the start."""
    path = run_dir / RUN_SPACE
    if not path.is_file():
        raise SearchError(f"{path} is missing: a run directory keeps the space it was started "
                          "with; restore it")
    if run.space_sha256 and file_sha256(path) != run.space_sha256:
        raise SearchError(f"{path} was changed after the run started (its sha256 differs from "
                          f"the one in {RUN_META}); restore the original, or start a new run "
                          "with the edited space")
    space = load_space(path, overrides=run.overrides.space_overrides())
    if space.hash() != run.space_hash:
        raise SearchError(f"{path} (hash {space.hash()}) is not the space this run was started "
                          f"with (hash {run.space_hash}); restore it")
    return space


def new_run_id() -> str:
    return uuid.uuid4().hex


def storage_from_env(given: str | None) -> str | None:
    """--storage, else $RESNET_NAS_STORAGE (empty means unset)."""
    return given or os.environ.get(STORAGE_ENV) or None
