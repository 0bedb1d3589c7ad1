"""Checks, before the GPU run, that the carried wheels install on the GPU machine.

    python3 experiments/device/check_wheels.py [--wheels .whl]

For every wheel in the folder: it is for CPython 3.12 on x86-64 Linux (or pure Python), it is
one of experiments/device/wheels.txt at that version, and each of its requirements (with the
markers of CPython 3.12 on Linux x86-64; extras left out) is met by another carried wheel or by
a package of the device image (experiments/device/device_packages.txt). Exit status 1 and one
line per problem otherwise.
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

HERE = Path(__file__).resolve().parent
DEVICE_ENV = {**default_environment(), "python_version": "3.12", "python_full_version": "3.12.3",
              "implementation_name": "cpython", "platform_python_implementation": "CPython",
              "sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
              "platform_machine": "x86_64", "extra": ""}


def names_in(path: Path) -> set[str]:
    text = "\n".join(line.split("#")[0] for line in path.read_text().splitlines())
    return {canonicalize_name(n) for n in text.split()}


def pinned(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            req = Requirement(line)
            out[canonicalize_name(req.name)] = str(req.specifier).lstrip("=")
    return out


def metadata(wheel: Path):
    with zipfile.ZipFile(wheel) as z:
        name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        return Parser().parsestr(z.read(name).decode())


def check(wheel_dir: Path, wheels_txt: Path = HERE / "wheels.txt",
          device_txt: Path = HERE / "device_packages.txt") -> list[str]:
    """The problems of the wheels in `wheel_dir` (an empty list when they will install)."""
    wanted = pinned(wheels_txt)
    on_device = names_in(device_txt)
    wheels = sorted(wheel_dir.glob("*.whl"))
    problems = []
    carried: dict[str, str] = {}
    for wheel in wheels:
        name, version, _, tags = parse_wheel_filename(wheel.name)
        name = canonicalize_name(name)
        carried[name] = str(version)
        if not any(t.interpreter in ("py3", "cp312") and
                   (t.platform == "any" or "x86_64" in t.platform) for t in tags):
            problems.append(f"{wheel.name}: not a wheel for CPython 3.12 on Linux x86-64")
        if name not in wanted:
            problems.append(f"{wheel.name}: not listed in experiments/device/wheels.txt")
        elif wanted[name] != str(version):
            problems.append(f"{wheel.name}: wheels.txt pins {name}=={wanted[name]}")
    for name in wanted:
        if name not in carried:
            problems.append(f"{name}: listed in wheels.txt but no wheel in {wheel_dir}")
    for wheel in wheels:
        for line in metadata(wheel).get_all("Requires-Dist") or []:
            req = Requirement(line)
            if req.marker is not None and not req.marker.evaluate(DEVICE_ENV):
                continue
            dep = canonicalize_name(req.name)
            if dep in carried:
                if not req.specifier.contains(carried[dep], prereleases=True):
                    problems.append(f"{wheel.name} needs {req}, the carried one is "
                                    f"{carried[dep]}")
            elif dep not in on_device:
                problems.append(f"{wheel.name} needs {req}: neither carried nor on the device")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wheels", default=".whl", help="folder of the carried wheels")
    args = parser.parse_args()
    folder = Path(args.wheels)
    if not folder.is_dir() or not list(folder.glob("*.whl")):
        print(f"check_wheels: no wheels in {folder} (fetch them: see "
              "experiments/device/wheels.txt)", file=sys.stderr)
        return 1
    problems = check(folder)
    for p in problems:
        print(p)
    print(f"check_wheels: {len(list(folder.glob('*.whl')))} wheels, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
