"""A build killed at any point leaves a pair that the next build or publish makes consistent.

The kills are real: a child process runs ``build_all`` (with the analysis and
the renderers replaced by quick stand-ins that write what the build was asked
to build) and SIGKILLs itself at a chosen step of the swap. Then a real
``publish --check`` or a next build runs in another process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_build import quick_build

import publishing.deliver._journal as journal_module
from analysis.errors import DataError, PublishError
from publishing.build import JOURNAL_NAME
from publishing.cli import main
from publishing.deliver import KEY_ENV, check_site
from publishing.deliver._fs import exchange

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, os, signal, sys, time
from pathlib import Path
from types import SimpleNamespace

import publishing.build as build
import publishing.deliver._journal as journal
from analysis.config import Config
from publishing._brief_worker import BriefWorker
from analysis.errors import DataError

# Builds every tag in turn; the last one is killed (or held) at `point`.
root, point, tags = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]


def analyse(data, *, config, out_dir, previous=None):
    tag = data.read_text()
    if point == "hold" and tag == tags[-1]:
        (root / "ready").write_text(str(os.getpid()))
        deadline = time.monotonic() + 60
        while not (root / "release").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
    (out_dir / "bundle.json").write_text(json.dumps({"tag": tag}))
    (out_dir / "assignments.csv").write_text("customer_id,segment\nC-90017,1\n")
    return SimpleNamespace(data=SimpleNamespace(source=SimpleNamespace(name="data.csv", sha256="0" * 64)))


def render_site(bundle_path, out_dir, *, engine, archive=(), helper=None):
    (out_dir / "index.html").write_text(json.loads(bundle_path.read_text())["tag"])


def render_brief(bundle_path, out_pdf, *, site_url):
    out_pdf.write_bytes(b"%PDF-1.7 " + bundle_path.read_bytes())


def die_on_call(module, name, n):
    real, calls = getattr(module, name), []

    def wrapper(*args, **kwargs):
        calls.append(1)
        if len(calls) == n:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)

    setattr(module, name, wrapper)


def run(tag):
    (root / "data.csv").write_text(tag)
    build.build_all(root / "data.csv", config=Config(), out=root / "_site", private=root / "build" / "private")


build._analyse, build._render_site, build._render_brief = analyse, render_site, render_brief
build._brief_worker = lambda: BriefWorker(start=False)
for tag in tags[:-1]:
    run(tag)
if point.startswith("rename-"):
    journal.exchange = lambda a, b: False  # a file system without RENAME_EXCHANGE
KILLS = {
    "staged": (journal, "write_atomic", 1),
    "journal": (journal, "_settle", 1),
    "between": (journal, "_settle", 2),
    "swapped": (journal, "_finish", 1),
    "cleanup": (journal.shutil, "rmtree", 1),
    "rename-private": (journal, "_move", 2),
    "rename-site": (journal, "_move", 4),
}
if point in KILLS:
    die_on_call(*KILLS[point])
run(tags[-1])
"""

# Where the child dies, and whether the new build must win (the journal was written).
POINTS = [
    pytest.param("staged", False, id="both-staged-no-journal"),
    pytest.param("journal", True, id="journal-written-nothing-swapped"),
    pytest.param("between", True, id="between-the-two-swaps"),
    pytest.param("swapped", True, id="both-swapped-journal-kept"),
    pytest.param("cleanup", True, id="journal-removed-old-trees-kept"),
    pytest.param("rename-private", True, id="no-exchange-private-moved-away"),
    pytest.param("rename-site", True, id="no-exchange-site-moved-away"),
]


def _env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop(KEY_ENV, None)
    return env


def _child(root: Path, point: str, *tags: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", CHILD, str(root), point, *tags],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def _pair(root: Path) -> tuple[str, str]:
    """The build tags of the site and of the private bundle."""
    site = (root / "_site" / "index.html").read_text(encoding="utf-8")
    private = json.loads((root / "build" / "private" / "bundle.json").read_text(encoding="utf-8"))["tag"]
    return site, private


def _entries(root: Path) -> tuple[list[str], list[str]]:
    return sorted(p.name for p in root.iterdir()), sorted(p.name for p in (root / "build").iterdir())


CLEAN = (["_site", "build", "data.csv"], [".build.lock", ".signing-key", "private"])


@pytest.fixture
def killed(tmp_path, request, monkeypatch):
    """A first build, then a second one SIGKILLed at ``request.param`` (both in one child process)."""
    monkeypatch.delenv(KEY_ENV, raising=False)
    point, new_wins = request.param
    done = _child(tmp_path, point, "build-1", "build-2")
    assert done.returncode == -signal.SIGKILL, done.stderr
    return tmp_path, ("build-2" if new_wins else "build-1")


def _bundle(root: Path) -> Path:
    return root / "build" / "private" / "bundle.json"


@pytest.mark.parametrize("killed", [p.values for p in POINTS], ids=[p.id for p in POINTS], indirect=True)
def test_publish_after_a_kill_finishes_the_swap(killed, capsys):
    root, expected = killed
    assert main(["publish", "--check", "--site", str(root / "_site"), "--bundle", str(_bundle(root))]) == 0
    assert "complete and current" in capsys.readouterr().out
    assert _pair(root) == (expected, expected)
    assert not (root / "build" / JOURNAL_NAME).exists()


def _failing_analysis(data, *, config, out_dir, previous=None):
    raise DataError("no usable rows", path=data)


@pytest.mark.parametrize("killed", [p.values for p in POINTS], ids=[p.id for p in POINTS], indirect=True)
def test_next_build_after_a_kill_recovers_and_cleans(killed, monkeypatch):
    root, expected = killed
    # The next (forced) build fails in its analysis, after recovery and clean-up: what it found is what stays.
    with pytest.raises(DataError, match="no usable rows"):
        quick_build(monkeypatch, root, analyse=_failing_analysis, force=True)
    assert _pair(root) == (expected, expected)
    assert _entries(root) == CLEAN
    assert check_site(root / "_site", bundle_path=_bundle(root)).info.bundle_sha256


def test_interrupt_between_swaps_keeps_what_recovery_needs(tmp_path, monkeypatch):
    """Ctrl-C (not a kill): the clean-up in ``finally`` must not delete the staged site the journal names."""
    monkeypatch.delenv(KEY_ENV, raising=False)
    quick_build(monkeypatch, tmp_path)
    real, calls = journal_module._settle, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(journal_module, "_settle", interrupted)
    with pytest.raises(KeyboardInterrupt):
        quick_build(monkeypatch, tmp_path, force=True)
    assert (tmp_path / "build" / JOURNAL_NAME).is_file()
    monkeypatch.setattr(journal_module, "_settle", real)
    bundle = tmp_path / "build" / "private" / "bundle.json"
    assert main(["publish", "--check", "--site", str(tmp_path / "_site"), "--bundle", str(bundle)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["_site", "build", "data.csv"]
    assert sorted(p.name for p in (tmp_path / "build").iterdir()) == [".build.lock", ".signing-key", "private"]


def test_second_build_at_once_is_refused_naming_the_holder(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(KEY_ENV, raising=False)
    holder = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path), "hold", "build-1", "build-2"],
        env=_env(),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "ready").exists():
            assert holder.poll() is None and time.monotonic() < deadline, "the holding build did not start"
            time.sleep(0.02)
        with pytest.raises(PublishError, match=rf"another build or publish is running .*\(build, pid {holder.pid}\)"):
            quick_build(monkeypatch, tmp_path)
        code = main(["publish", "--check", "--site", str(tmp_path / "_site"), "--bundle", str(_bundle(tmp_path))])
        err = capsys.readouterr().err
        assert code == 2 and f"pid {holder.pid}" in err and err.count("\n") == 1
        assert _pair(tmp_path) == ("build-1", "build-1")
    finally:
        (tmp_path / "release").touch()
        assert holder.wait(timeout=60) == 0, holder.stderr.read()
    assert _pair(tmp_path) == ("build-2", "build-2")


def test_leftovers_of_earlier_runs_are_removed_and_nothing_else(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    quick_build(monkeypatch, tmp_path)
    build = tmp_path / "build"
    ours = [tmp_path / "_site.new-abcd1234", tmp_path / "_site.old-x_y_z_01", build / ".private-new-k3j4h5g6"]
    ours += [build / "private.old-q1w2e3r4"]  # the name earlier versions used for the old private tree
    for path in ours:
        (path / "sub").mkdir(parents=True)
        (path / "sub" / "page.html").write_text("left behind", encoding="utf-8")
    theirs = [tmp_path / "_site.new-my-notes", tmp_path / "_site.old-2024", build / "private.old"]
    for path in theirs:
        path.mkdir()
        (path / "keep.txt").write_text("not ours", encoding="utf-8")
    (tmp_path / "_site.new-abcdefgh").write_text("a file, not a staging directory", encoding="utf-8")
    (tmp_path / "_site.old-linkname").symlink_to(theirs[0])
    quick_build(monkeypatch, tmp_path, force=True)
    assert not [p for p in ours if p.exists()]
    assert all((p / "keep.txt").read_text(encoding="utf-8") == "not ours" for p in theirs)
    assert (tmp_path / "_site.new-abcdefgh").is_file() and (tmp_path / "_site.old-linkname").is_symlink()


def test_a_journal_naming_foreign_paths_is_refused_untouched(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    quick_build(monkeypatch, tmp_path)
    victim = tmp_path / "home"
    (victim / "docs").mkdir(parents=True)
    st = os.lstat(tmp_path / "_site")
    entry = {"stage": str(tmp_path / "_site"), "target": str(victim), "old": str(tmp_path / "home.old-abcdefgh")}
    payload = {"version": 1, "swaps": [{**entry, "dev": st.st_dev, "ino": st.st_ino}]}
    (tmp_path / "build" / JOURNAL_NAME).write_text(json.dumps(payload), encoding="utf-8")
    with pytest.raises(PublishError, match="not a swap journal this program wrote"):
        quick_build(monkeypatch, tmp_path)
    assert (victim / "docs").is_dir() and (tmp_path / "_site" / "index.html").is_file()


def test_exchange_swaps_two_directories_atomically(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "from-a").touch()
    (b / "from-b").touch()
    ino_a = os.lstat(a).st_ino
    assert exchange(a, b) is True  # Linux ext4/tmpfs/xfs support RENAME_EXCHANGE; the fallback is tested above
    assert (a / "from-b").exists() and (b / "from-a").exists()
    assert os.lstat(b).st_ino == ino_a
