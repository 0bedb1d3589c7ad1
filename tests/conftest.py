import os
from pathlib import Path

import pytest

from tests.helpers import SHARED_DATA

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture
def cifar_jpeg_archive() -> Path:
    path = SHARED_DATA / "cifar10-jpeg.tar.gz"
    if not path.exists():
        pytest.skip(f"{path} not present")
    return path


@pytest.fixture
def fake_runner():
    """The in-process FakeRunner, reset (pass it as runner_factory=)."""
    from tests.fakes import FakeRunner

    FakeRunner.jobs = []
    FakeRunner.script = {}
    FakeRunner.warmed = []
    FakeRunner.events = []
    FakeRunner.prepared = []
    return FakeRunner
