"""A build SIGKILLed at any point leaves the refresh history whole: the refresh recorded completely or not at all.

A child process records a first refresh, then builds a second one and
SIGKILLs itself at a chosen point (the analysis and the renderers are the
quick stand-ins of :mod:`_quick_refresh`; the store, the swap and the kill are
real). The store is then read as it was left, and a next build in this process
must leave exactly one complete record of each refresh.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from _quick_refresh import KEY, install, refresh_build, write_data

from publishing.deliver import check_site
from publishing.history import LINES, REFRESHES, read_history

HERE = Path(__file__).resolve().parent

CHILD = r"""
import os, signal, sys
from pathlib import Path

tests, root, point = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
sys.path.insert(0, tests)
import _quick_refresh as quick
import publishing.build as build
import publishing.history as history

quick.install(build)
quick.refresh_build(root, quick.write_data(root / "jan.csv", "2011-01-31"))


def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)


def then_die(module, name):
    real = getattr(module, name)

    def wrapper(*args, **kwargs):
        real(*args, **kwargs)
        die()

    setattr(module, name, wrapper)


def torn(keep):
    # The append's one write stops part-way, as a kill in the middle of write(2) can leave it.
    def append(path, payload):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        os.write(fd, payload[: keep(payload)])
        os.fsync(fd)
        die()

    history._append = append


if point == "analysis":
    build._analyse = die
elif point == "staged":
    build.swap_all = die
elif point == "swapped":
    build.record_refresh = die
elif point == "renamed":
    history._append = die
elif point == "torn-line":
    torn(lambda payload: payload.index(b"\n") // 2)
elif point == "short-set":
    torn(lambda payload: payload.index(b"\n") + 1)
elif point == "recorded":
    then_die(build, "record_refresh")
quick.refresh_build(root, quick.write_data(root / "feb.csv", "2011-02-28"))
"""

# Where the child dies; whether the second refresh's directory is complete by then; whether its lines are.
POINTS = [
    pytest.param("analysis", False, False, id="in-the-analysis"),
    pytest.param("staged", False, False, id="history-staged-site-not-swapped"),
    pytest.param("swapped", False, False, id="site-swapped-nothing-recorded"),
    pytest.param("renamed", True, False, id="directory-in-place-no-lines"),
    pytest.param("torn-line", True, False, id="append-torn-inside-a-line"),
    pytest.param("short-set", True, False, id="append-cut-after-one-line"),
    pytest.param("recorded", True, True, id="after-recording"),
]


def _history(root: Path) -> Path:
    return root / "build" / "history"


def _kill(root: Path, point: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(HERE.parent), "SEGMENTATION_KEY": KEY}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(HERE), str(root), point],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr


def _sets(root: Path) -> list[tuple[str, list[int]]]:
    """Each run of lines of one refresh in ``refreshes.jsonl``, with the line numbers it holds."""
    runs: list[tuple[str, list[int]]] = []
    for text in (_history(root) / LINES).read_text(encoding="utf-8").splitlines():
        line = json.loads(text)
        if runs and runs[-1][0] == line["refresh"] and line["line"] != 0:
            runs[-1][1].append(line["line"])
        else:
            runs.append((line["refresh"], [line["line"]]))
    return runs


@pytest.mark.parametrize(("point", "in_place", "lines_written"), POINTS)
def test_a_killed_build_leaves_the_refresh_recorded_whole_or_not_at_all(
    tmp_path, monkeypatch, point, in_place, lines_written
):
    _kill(tmp_path, point)
    view = read_history(_history(tmp_path))
    assert [r.snapshot for r in view.refreshes] == ["2011-01-31", "2011-02-28"][: 1 + in_place]
    assert bool(view.orphans) == (in_place and not lines_written)

    monkeypatch.setenv("SEGMENTATION_KEY", KEY)
    install(monkeypatch)
    result = refresh_build(tmp_path, write_data(tmp_path / "feb.csv", "2011-02-28"))
    # With its directory in place the site is current and only the lines are added; else it is built again.
    assert result.up_to_date == in_place
    view = read_history(_history(tmp_path))
    assert [r.snapshot for r in view.refreshes] == ["2011-01-31", "2011-02-28"] and not view.orphans
    assert _sets(tmp_path) == [(r.name, [0, 1, 2, 3]) for r in view.refreshes]  # one whole set each, no stray line
    assert not [p.name for p in (_history(tmp_path) / REFRESHES).iterdir() if p.name.startswith(".")]
    site = check_site(tmp_path / "_site", bundle_path=tmp_path / "build" / "private" / "bundle.json")
    assert site.files["archive/2011-01-31/brief.pdf"] == view.refreshes[0].read("brief.pdf")
    assert json.loads(result.bundle_path.read_text(encoding="utf-8"))["data"]["snapshot_date"] == "2011-02-28"
