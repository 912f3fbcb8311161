"""The noxfile's sessions as ``nox -l`` shows them (no session is run here: they install environments)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _list(*args: str) -> list[dict]:
    done = subprocess.run(
        [sys.executable, "-m", "nox", "-f", str(ROOT / "noxfile.py"), "-l", "--json", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(done.stdout)


def test_sessions_have_one_line_descriptions():
    sessions = {s["name"]: s for s in _list("-s", "test", "build", "publish")}
    assert set(sessions) == {"test", "build", "publish"}
    for s in sessions.values():
        assert s["description"] and "\n" not in s["description"]


def test_only_tests_run_by_default():
    # `nox` alone runs the tests; build and publish are asked for by name, publish never by default.
    assert [s["name"] for s in _list()] == ["test"]
