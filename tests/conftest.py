import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture
def cifar_jpeg_archive() -> Path:
    path = SHARED_DATA / "cifar10-jpeg.tar.gz"
    if not path.exists():
        pytest.skip(f"{path} not present")
    return path
