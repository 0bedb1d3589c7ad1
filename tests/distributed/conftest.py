"""Storages for the distributed tests: a file journal always, PostgreSQL (Optuna's RDB storage,
and the journal with its log in a table) when RESNET_NAS_TEST_POSTGRES_URL is set
(.ci/postgres.sh starts a server for CI)."""

import os

import pytest

from resnet_nas.engines import SearchOptions, run_search
from tests.helpers import tiny_space

POSTGRES_URL = os.environ.get("RESNET_NAS_TEST_POSTGRES_URL")
needs_postgres = pytest.mark.skipif(not POSTGRES_URL,
                                    reason="RESNET_NAS_TEST_POSTGRES_URL not set "
                                    "(.ci/postgres.sh starts a server)")
BACKENDS = ["journal", pytest.param("postgres", marks=[pytest.mark.postgres, needs_postgres]),
            pytest.param("postgres-journal", marks=[pytest.mark.postgres, needs_postgres])]


def journal_url(tmp_path, name="study.journal") -> str:
    return f"journal:///{(tmp_path / name).resolve().as_posix().lstrip('/')}"


def storage_url(tmp_path, backend: str) -> str:
    if backend == "postgres":
        return POSTGRES_URL
    if backend == "postgres-journal":  # the journal, its log in a table of the same server
        return f"journal+{POSTGRES_URL}"
    return journal_url(tmp_path)


def create_study(tmp_path, storage: str | None, study: str = "tiny", run_dir: str = "created",
                 **space_kw):
    """`search --create-only`: a study for workers (returns the space file and the summary)."""
    space = tiny_space(tmp_path, **space_kw)
    summary = run_search(SearchOptions(space=str(space), run_dir=str(tmp_path / run_dir),
                                       storage=storage, study_name=study, create_only=True,
                                       progress=False), out=lambda line: None)
    return space, summary
