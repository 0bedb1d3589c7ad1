"""experiments/device/check_wheels.py: the carried wheels' requirements are met on the device."""

from __future__ import annotations

import importlib.util
import zipfile

from tests.helpers import REPO

spec = importlib.util.spec_from_file_location(
    "check_wheels", REPO / "experiments" / "device" / "check_wheels.py")
check_wheels = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_wheels)


def _wheel(folder, name, version, requires=(), tag="py3-none-any"):
    path = folder / f"{name}-{version}-{tag}.whl"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{name}-{version}.dist-info/METADATA", meta)
    return path


def test_a_complete_set_passes_and_each_gap_is_named(tmp_path):
    wheels = tmp_path / "whl"
    wheels.mkdir()
    (tmp_path / "wheels.txt").write_text("alpha==1.0\nbeta==2.0\n")
    (tmp_path / "device.txt").write_text("numpy six\n")
    _wheel(wheels, "alpha", "1.0", ["beta>=2", "numpy", "colorama; sys_platform == 'win32'",
                                    "pytest; extra == 'test'"])
    _wheel(wheels, "beta", "2.0", tag="cp312-cp312-manylinux_2_28_x86_64")
    args = (tmp_path / "wheels.txt", tmp_path / "device.txt")
    assert check_wheels.check(wheels, *args) == []
    _wheel(wheels, "gamma", "1.0", ["missing-pkg"], tag="cp311-cp311-manylinux_2_28_x86_64")
    problems = check_wheels.check(wheels, *args)
    assert any("not a wheel for CPython 3.12" in p for p in problems)
    assert any("not listed in experiments/device/wheels.txt" in p for p in problems)
    assert any("needs missing-pkg: neither carried nor on the device" in p for p in problems)


def test_the_shipped_list_is_closed_when_its_wheels_are_here():
    folder = REPO / ".whl"
    if not list(folder.glob("*.whl")):
        import pytest
        pytest.skip("no wheels fetched (see experiments/device/wheels.txt)")
    assert check_wheels.check(folder) == []
