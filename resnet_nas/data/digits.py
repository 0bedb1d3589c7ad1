"""scikit-learn's bundled 8x8 digits (offline): the quickstart data set."""

from __future__ import annotations

import numpy as np

from resnet_nas.data.dataset import RawData
from resnet_nas.data.splits import stratified_split


#: The digits test split is fixed (independent of the search seed) so that test accuracies of
#: different runs are comparable.
_DIGITS_TEST_FRACTION = 0.2


_DIGITS_TEST_SEED = 20_170_731


def load_digits() -> RawData:
    from sklearn.datasets import load_digits  # bundled with scikit-learn: no download

    bunch = load_digits()
    # Pixel values are 0..16; stretch to the 0..255 range every other data set uses.
    x = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    y = bunch.target.astype(np.int32)
    n_test = int(round(_DIGITS_TEST_FRACTION * len(y)))
    train, test = stratified_split(y, n_test, _DIGITS_TEST_SEED)
    return RawData(x[train], y[train], x[test], y[test], [str(c) for c in range(10)])
