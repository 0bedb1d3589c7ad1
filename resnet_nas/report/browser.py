"""Checking that an HTML report really shows its figures, by screenshotting it in headless
Chromium (optional: only used by tests and `experiments/render_report.py`).

Chromium is not a dependency; on Debian/Ubuntu `apt-get install -y chromium` provides
/usr/bin/chromium. Every network-touching feature is switched off, so a page that needed the
network would render blank rather than fetch anything.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome executable on PATH, or None."""
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def screenshot(html_path: str | os.PathLike, png_path: str | os.PathLike,
               width: int = 1400, height: int = 3000, chromium: str | None = None,
               timeout: float = 120.0) -> Path:
    """Renders `html_path` offline in headless Chromium and saves a PNG screenshot.

    Args:
      html_path: the report.
      png_path: where to write the screenshot.
      width, height: browser window size in pixels (the screenshot's size).
      chromium: executable (default: `find_chromium()`).
      timeout: seconds before giving up.

    Returns:
      `png_path`.

    Raises:
      FileNotFoundError: no Chromium, or no screenshot was written.
    """
    png_path = Path(png_path).resolve()
    png_path.unlink(missing_ok=True)
    proc = _run_headless(html_path, [f"--screenshot={png_path}",
                                     f"--window-size={width},{height}"], chromium, timeout)
    if not png_path.exists():
        raise FileNotFoundError(f"chromium wrote no screenshot (exit {proc.returncode}): "
                                f"{proc.stderr[-2000:]}")
    return png_path


def dump_dom(html_path: str | os.PathLike, chromium: str | None = None,
             timeout: float = 120.0) -> str:
    """The page's DOM as headless Chromium has it after loading `html_path` (offline).

    Scripts run and the load event fires first, so a page can record what the browser did
    (e.g. how many images decoded) in an attribute that shows up here.

    Args:
      html_path: the page.
      chromium: executable (default: `find_chromium()`).
      timeout: seconds before giving up.

    Returns:
      The serialized DOM.

    Raises:
      FileNotFoundError: no Chromium, or it printed no DOM.
    """
    proc = _run_headless(html_path, ["--dump-dom", "--virtual-time-budget=10000"], chromium,
                         timeout)
    if "<html" not in proc.stdout:
        raise FileNotFoundError(f"chromium printed no DOM (exit {proc.returncode}): "
                                f"{proc.stderr[-2000:]}")
    return proc.stdout


def _run_headless(html_path: str | os.PathLike, args: list[str], chromium: str | None,
                  timeout: float) -> subprocess.CompletedProcess:
    """Runs headless Chromium on a local page with every network feature off."""
    exe = chromium or find_chromium()
    if exe is None:
        raise FileNotFoundError("no chromium executable on PATH (apt-get install -y chromium)")
    url = Path(html_path).resolve().as_uri()
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
               *args, url]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


@dataclass
class PixelStats:
    """How much of a screenshot is painted.

    Attributes:
      pixels: total pixels.
      non_white: pixels darker than near-white (text, table rules, plots).
      colored: saturated pixels (max-min channel > 60): plot lines/markers/bands; tables and
        text are grey, so these come from the figures.
    """

    pixels: int
    non_white: int
    colored: int

    @property
    def non_white_fraction(self) -> float:
        return self.non_white / max(self.pixels, 1)


def pixel_stats(png_path: str | os.PathLike) -> PixelStats:
    """Counts painted pixels of a screenshot (Pillow + numpy)."""
    import numpy as np
    from PIL import Image

    with Image.open(png_path) as im:
        rgb = np.asarray(im.convert("RGB")).astype(int)
    non_white = int((rgb.min(axis=2) < 235).sum())
    colored = int(((rgb.max(axis=2) - rgb.min(axis=2)) > 60).sum())
    return PixelStats(pixels=rgb.shape[0] * rgb.shape[1], non_white=non_white, colored=colored)
