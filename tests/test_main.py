"""The command line's entry (`python -m resnet_nas`, the `resnet-nas` script) returns main's
exit code and freezes the ending process's objects out of Python's final collection."""

import gc
import subprocess
import sys

import resnet_nas.__main__ as entry
from tests.helpers import REPO, cli_env


def test_the_entry_returns_mains_code_and_freezes_last(monkeypatch):
    calls = []
    monkeypatch.setattr(entry, "main", lambda: calls.append("main") or 3)
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    assert entry.run() == 3
    assert calls == ["main", "freeze"]


def test_python_m_resnet_nas_exits_with_mains_code():
    ok = subprocess.run([sys.executable, "-m", "resnet_nas", "spaces"], cwd=REPO, env=cli_env(),
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "quickstart" in ok.stdout, ok.stderr[-2000:]
    bad = subprocess.run([sys.executable, "-m", "resnet_nas", "search", "--trials", "0"],
                         cwd=REPO, env=cli_env(), capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "--trials" in bad.stderr and "Traceback" not in bad.stderr
