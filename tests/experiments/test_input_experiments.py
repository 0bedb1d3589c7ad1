"""The input experiments' photo generator and throughput table (on a few photos)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from PIL import Image

from tests.helpers import REPO


def test_make_photos_writes_a_deterministic_folder_of_mixed_sizes(tmp_path):
    sys.path.insert(0, str(REPO))
    from experiments.make_photos import make_photos

    a = make_photos(tmp_path / "a", 20, 10, 5, seed=1, workers=1)
    b = make_photos(tmp_path / "b", 20, 10, 5, seed=1, workers=1)
    assert a["images"] == 30 and a["bytes"] == b["bytes"]
    files = sorted((tmp_path / "a").rglob("*.jpg"))
    assert {f.parent.parent.name for f in files} == {"train", "val"}
    assert len({f.parent.name for f in files}) == 5
    sizes = {Image.open(f).size for f in files}
    assert len(sizes) > 20 and all(160 <= w <= 500 and 160 <= h <= 500 for w, h in sizes)
    assert (tmp_path / "a" / "train" / "class001" / "000001.jpg").read_bytes() == \
        (tmp_path / "b" / "train" / "class001" / "000001.jpg").read_bytes()


@pytest.mark.slow  # a fresh TensorFlow process
def test_input_throughput_prints_and_writes_its_table(tmp_path):
    sys.path.insert(0, str(REPO))
    from experiments.make_photos import make_photos

    make_photos(tmp_path / "photos", 130, 10, 2, low=40, high=80, workers=1)
    proc = subprocess.run([sys.executable, str(REPO / "experiments" / "input_throughput.py"),
                           "--photos", str(tmp_path / "photos"), "--repeat", "1", "--cores",
                           "1", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "out" / "input_throughput.json").read_text())
    (round_,) = result["rounds"]["1"]
    assert set(round_) == {"decode", "inception@224", "inception@128", "vgg@224", "cifar@64"}
    assert all(rate > 0 for rate in round_.values())
    assert "| inception@224 |" in proc.stdout
