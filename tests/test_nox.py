"""The noxfile's sessions as ``nox -l`` shows them (no session is run here: they install environments)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

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


@pytest.fixture(scope="module")
def noxfile():
    """The noxfile as a module, loaded once (loading registers its sessions with nox)."""
    spec = importlib.util.spec_from_file_location("noxfile_under_test", ROOT / "noxfile.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


URL = "https://deploy:ghp_T0ken@git.example.org/org/pages.git"


@pytest.mark.parametrize(
    ("posargs", "args", "env"),
    [
        pytest.param(
            ["--to-git", URL, "--branch", "pages"], ["--branch", "pages"], {"PUBLISH_GIT_REPO": URL}, id="spaced"
        ),
        pytest.param(
            [f"--to-git={URL}", "--to-dir", "/srv/www"],
            ["--to-dir", "/srv/www"],
            {"PUBLISH_GIT_REPO": URL},
            id="equals",
        ),
        pytest.param(["--to-dir", "/srv/www", "--email"], ["--to-dir", "/srv/www", "--email"], {}, id="no-git"),
    ],
)
def test_publish_session_keeps_the_repository_out_of_the_echoed_command(noxfile, posargs, args, env):
    # nox echoes the command line of session.run, not its env: the URL (and any token in it) goes there.
    assert noxfile._repo_out_of_argv(posargs) == (args, env)
