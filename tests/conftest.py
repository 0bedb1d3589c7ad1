import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.helpers import SHARED_DATA

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# The tests' unpacked archives, decoded arrays, indexes and XLA programs go to a folder of
# this test run's own (their processes inherit it), never into the user's ~/.cache/resnet_nas.
_CACHE = tempfile.mkdtemp(prefix="resnet_nas-test-cache-")
os.environ["RESNET_NAS_CACHE"] = _CACHE
os.environ["RESNET_NAS_XLA_CACHE"] = os.path.join(_CACHE, "xla")
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)


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
