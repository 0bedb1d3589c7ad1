"""The digits data set (scikit-learn, offline)."""

from __future__ import annotations

import numpy as np

from resnet_nas.config import DataConfig
from resnet_nas.data import load_dataset
from tests.data.helpers import assert_same, example_rows

# ---------------------------------------------------------------------------------------------
# digits
# ---------------------------------------------------------------------------------------------

def test_digits_shapes_dtypes_and_partition():
    from sklearn.datasets import load_digits

    ds = load_dataset(DataConfig(name="digits", validation_split=0.2), seed=0)
    assert ds.input_shape == (8, 8, 1) and ds.num_classes == 10
    assert ds.class_names == [str(i) for i in range(10)]
    for x, y in ((ds.x_train, ds.y_train), (ds.x_val, ds.y_val), (ds.x_test, ds.y_test)):
        assert x.dtype == np.uint8 and y.dtype == np.int32 and x.shape[1:] == (8, 8, 1)
        assert len(x) == len(y)
    assert ds.x_train.max() == 255 and ds.x_train.min() == 0
    assert len(ds.x_test) == 359 and len(ds.x_val) == round(0.2 * (1797 - 359))
    assert len(ds.x_train) + len(ds.x_val) + len(ds.x_test) == 1797
    # Train + val + test is exactly the scikit-learn set (as a multiset), scaled to 0..255.
    full = load_digits()
    x_full = np.round(full.images * 255 / 16).astype(np.uint8)[..., None]
    got = example_rows(np.concatenate([ds.x_train, ds.x_val, ds.x_test]),
                np.concatenate([ds.y_train, ds.y_val, ds.y_test]))
    assert got == example_rows(x_full, full.target)
    assert ds.summary() == "digits: 1150 train / 288 val / 359 test, 8x8x1, 10 classes"


def test_digits_split_deterministic_and_test_split_fixed():
    a = load_dataset(DataConfig(name="digits"), seed=0)
    b = load_dataset(DataConfig(name="digits"), seed=0)
    c = load_dataset(DataConfig(name="digits"), seed=1)
    assert_same(a, b)
    # Seed moves the validation split, never the test split.
    np.testing.assert_array_equal(a.x_test, c.x_test)
    assert not np.array_equal(a.x_val, c.x_val)
    assert example_rows(np.concatenate([a.x_train, a.x_val]), np.concatenate([a.y_train, a.y_val])) \
        == example_rows(np.concatenate([c.x_train, c.x_val]), np.concatenate([c.y_train, c.y_val]))


def test_digits_splits_are_stratified():
    ds = load_dataset(DataConfig(name="digits", validation_split=0.25), seed=5)
    train_val = np.concatenate([ds.y_train, ds.y_val])
    expected = np.bincount(train_val, minlength=10) * 0.25
    assert np.all(np.abs(np.bincount(ds.y_val, minlength=10) - expected) <= 1.0)
    # The fixed test split is stratified too (about 20% of each digit).
    full = np.bincount(np.concatenate([train_val, ds.y_test]), minlength=10)
    assert np.all(np.abs(np.bincount(ds.y_test, minlength=10) - 0.2 * full) <= 1.0)




def test_digits_read_without_importing_scikit_learn_are_its_arrays():
    """The search and trial processes read the bundled file directly (sklearn's import costs
    seconds); the arrays are exactly load_digits()'s, and the fallback gives the same."""
    import subprocess
    import sys

    from sklearn.datasets import load_digits

    from resnet_nas.data import digits

    assert digits.digits_file() is not None
    images, target = digits.read_digits()
    bunch = load_digits()
    np.testing.assert_array_equal(images, bunch.images)
    np.testing.assert_array_equal(target, bunch.target)
    code = ("import sys; from resnet_nas.data.digits import load_digits; load_digits(); "
            "print('sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"


def test_digits_fallback_when_the_file_is_elsewhere(monkeypatch):
    from resnet_nas.data import digits

    direct = digits.read_digits()
    monkeypatch.setattr(digits, "digits_file", lambda: None)
    via_sklearn = digits.read_digits()
    np.testing.assert_array_equal(direct[0], via_sklearn[0])
    np.testing.assert_array_equal(direct[1], via_sklearn[1])
