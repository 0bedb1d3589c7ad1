"""scikit-learn's bundled 8x8 digits (offline): the quickstart data set."""

from __future__ import annotations

import importlib.machinery
from pathlib import Path

import numpy as np

from resnet_nas.data.dataset import RawData
from resnet_nas.data.splits import stratified_split


#: The digits test split is fixed (independent of the search seed) so that test accuracies of
#: different runs are comparable.
_DIGITS_TEST_FRACTION = 0.2


_DIGITS_TEST_SEED = 20_170_731


def digits_file() -> Path | None:
    """scikit-learn's bundled digits.csv.gz, found without importing scikit-learn (whose import
    is slow, and the search process and every trial process load this data set; figures:
    experiments/RESULTS.md)."""
    # PathFinder looks on sys.path only: a trial process keeps scikit-learn out of sys.modules
    # (resnet_nas.trial_startup), where importlib.util.find_spec would look first.
    spec = importlib.machinery.PathFinder.find_spec("sklearn")
    if spec is None or not spec.origin:
        return None
    path = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz"
    return path if path.is_file() else None


def read_digits() -> tuple[np.ndarray, np.ndarray]:
    """(images 1797x8x8 with values 0..16, labels): the very arrays of
    sklearn.datasets.load_digits(), read from its file when it is where scikit-learn keeps it."""
    path = digits_file()
    if path is None:
        from sklearn.datasets import load_digits  # another layout: let scikit-learn find it

        bunch = load_digits()
        return bunch.images, bunch.target
    table = np.loadtxt(path, delimiter=",")
    return table[:, :-1].reshape(-1, 8, 8), table[:, -1].astype(int)


def load_digits() -> RawData:
    images, target = read_digits()
    # Pixel values are 0..16; stretch to the 0..255 range every other data set uses.
    x = np.round(images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    y = target.astype(np.int32)
    n_test = int(round(_DIGITS_TEST_FRACTION * len(y)))
    train, test = stratified_split(y, n_test, _DIGITS_TEST_SEED)
    return RawData(x[train], y[train], x[test], y[test], [str(c) for c in range(10)])
