"""experiments/jpeg_stats.py reads encoder settings back from JPEG headers."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile

import numpy as np
from PIL import Image

from tests.helpers import REPO


def jpeg(quality: int, subsampling: int, seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=quality, subsampling=subsampling)
    return buf.getvalue()


def test_quality_and_subsampling_are_recovered_per_split(tmp_path):
    archive = tmp_path / "tiny.tar.gz"
    files = {"train/cat/0.jpg": jpeg(75, 2, 0), "train/cat/1.jpg": jpeg(75, 2, 1),
             "train/dog/0.jpg": jpeg(90, 0, 2), "test/dog/0.jpg": jpeg(40, 1, 3)}
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    proc = subprocess.run([sys.executable, str(REPO / "experiments" / "jpeg_stats.py"),
                           "--data-path", str(archive), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads((tmp_path / "out" / "jpeg_stats.json").read_text())
    got = {(r["split"], r["luma_quality"], r["chroma_quality"], r["subsampling"], r["files"])
           for r in result["settings"]}
    assert got == {("train", 75, 75, "4:2:0", 2), ("train", 90, 90, "4:4:4", 1),
                   ("test", 40, 40, "4:2:2", 1)}
    assert result["sizes"]["train"]["files"] == 3


def test_missing_archive_is_a_clear_error(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "experiments" / "jpeg_stats.py"),
                           "--data-path", str(tmp_path / "nope.tar.gz")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "nope.tar.gz not found" in proc.stderr
