"""Ending a CLI run with os._exit keeps its exit code, its output and every other exit handler."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parent.parent


def _run(body: str, marker: Path) -> subprocess.CompletedProcess:
    script = textwrap.dedent(f"""
        import atexit, sys
        from analysis._exit import run_then_exit

        def main():
            atexit.register(lambda: open({str(marker)!r}, "w").write("ran"))  # registered later: runs first
            print("out", end="")  # left in the buffer: flushed before the process ends
            sys.stderr.write("err")
        {textwrap.indent(textwrap.dedent(body), "    ")}

        run_then_exit(main)
    """)
    return subprocess.run([sys.executable, "-c", script], cwd=_ROOT, capture_output=True, text=True, check=False)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param("return 0", 0, id="success"),
        pytest.param("return 3", 3, id="an-error-code"),
        pytest.param("sys.exit(2)", 2, id="argparse-usage-error"),
        pytest.param("raise RuntimeError('bug')", 1, id="an-escaping-exception"),
        pytest.param("raise KeyboardInterrupt", 130, id="ctrl-c-before-the-cli-handles-it"),
    ],
)
def test_the_code_the_output_and_later_exit_handlers_survive(body, code, tmp_path):
    marker = tmp_path / "handler-ran"
    done = _run(body, marker)
    assert done.returncode == code
    assert done.stdout == "out" and done.stderr.startswith("err")
    assert marker.read_text() == "ran"
    if code == 1:
        assert "RuntimeError: bug" in done.stderr  # the traceback is still printed
