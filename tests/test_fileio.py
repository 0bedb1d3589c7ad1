"""Bounded reading of user files and atomic writing of ours."""

import pytest

from resnet_nas.fileio import (read_json_object, read_text, read_yaml_file, write_atomic,
                               write_new)
from resnet_nas.validation import ConfigError


def test_yaml_without_aliases_and_with_exponent_floats(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text("a: 1e-4\nb: &x 3\n")  # an anchor alone is harmless
    data, node = read_yaml_file(path)
    assert data == {"a": 1e-4, "b": 3} and node is not None
    path.write_text("a: &x 3\nb: *x\n")
    with pytest.raises(ConfigError, match=r"a\.yaml:2: column 4.*aliases"):
        read_yaml_file(path)


def test_size_cap_is_checked_before_reading_everything(tmp_path):
    path = tmp_path / "big.txt"
    path.write_bytes(b"x" * 2000)
    with pytest.raises(ConfigError, match="at most 1,000 bytes"):
        read_text(path, 1000, "a file")
    assert read_text(path, 2000, "a file") == "x" * 2000


def test_json_must_be_an_object(tmp_path):
    path = tmp_path / "a.json"
    path.write_text('{"a": [1, {"b": 2}]}')
    assert read_json_object(path, "a row") == {"a": [1, {"b": 2}]}
    path.write_text('{"a":' * 100 + "1" + "}" * 100)
    with pytest.raises(ConfigError, match="nested at most 64 deep"):
        read_json_object(path, "a row")


def test_write_new_never_replaces_and_write_atomic_does(tmp_path):
    path = tmp_path / "f.json"
    assert write_new(path, "one") and not write_new(path, "two")
    assert path.read_text() == "one"
    write_atomic(path, "three")
    assert path.read_text() == "three"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.json"]
