"""A search from a script: refused before anything is written when every spawned trial process
would start it again (no `if __name__ == "__main__":`) or could not (standard input)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from resnet_nas.main_script import guarded_lines
from tests.helpers import REPO, cli_env


def _run(tmp_path, code: str, stdin: bool = False) -> subprocess.CompletedProcess:
    code = textwrap.dedent(code).replace("RUN", repr(str(tmp_path / "run")))
    if stdin:
        return subprocess.run([sys.executable, "-"], input=code, capture_output=True,
                              text=True, cwd=REPO, env=cli_env(), timeout=120)
    script = tmp_path / "script.py"
    script.write_text(code)
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          cwd=REPO, env=cli_env(), timeout=120)


def test_a_search_from_standard_input_is_refused_with_what_to_do(tmp_path):
    out = _run(tmp_path, "import resnet_nas\nresnet_nas.search('quickstart', trials=1, "
                         "run_dir=RUN)\n", stdin=True)
    assert out.returncode != 0
    assert "the main script (<stdin>) is not a file" in out.stderr, out.stderr[-2000:]
    assert not (tmp_path / "run").exists()


def test_a_search_at_a_scripts_top_level_without_the_guard_is_refused(tmp_path):
    out = _run(tmp_path, """\
        import resnet_nas

        def main():
            resnet_nas.search("quickstart", trials=1, run_dir=RUN)

        main()
        """)
    assert out.returncode != 0
    assert "called at line 6 of" in out.stderr and 'if __name__ == "__main__":' in out.stderr, \
        out.stderr[-2000:]
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("test", ['__name__ == "__main__"', "'__main__' == __name__"])
def test_the_guard_is_found_in_either_order(test):
    source = f"import x\n\nif {test}:\n    x.f()\n    x.g()\nx.h()\n"
    assert guarded_lines(source) == [(3, 5)]
    assert guarded_lines("if __name__ != '__main__':\n    pass\n") == []
    assert guarded_lines("def f():\n    if __name__ == '__main__':\n        pass\n") == []
