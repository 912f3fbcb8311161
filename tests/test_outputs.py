"""A run's outputs appear together or not at all (analysis/outputs.py, analysis/_fs.py).

Faults are real where the system lets a test make them: a process killed with
SIGKILL in the middle of a commit, a file-size limit (RLIMIT_FSIZE) that makes
the kernel refuse a write, a read-only directory. A full disk (ENOSPC) is
simulated by a writer that raises it.
"""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import analysis._fs as fs
from analysis.errors import OutputError
from analysis.outputs import check_output_dir, commit_outputs, read_manifest
from tests._data import REPO

OLD = {"bundle.json": b'{"old": 1}\n', "assignments.csv": b"customer_id\nold\n", "model.json": b"{}\n"}


def _writer(data: bytes):
    return lambda fh: fh.write(data)


def _writers(contents: dict[str, bytes]):
    return {name: _writer(data) for name, data in contents.items()}


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


@pytest.fixture
def previous(tmp_path) -> Path:
    out = tmp_path / "out"
    commit_outputs(out, _writers(OLD))
    return out


def test_commit_writes_every_file_owner_only_with_a_manifest(previous):
    assert {p.name for p in previous.iterdir()} == {*OLD, "run.json"}
    assert stat.S_IMODE(previous.stat().st_mode) == 0o700
    for path in previous.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    assert set(read_manifest(previous)) == set(OLD)


def test_manifest_detects_a_mixed_set(previous):
    (previous / "assignments.csv").write_bytes(b"customer_id\nnew\n")
    with pytest.raises(OutputError, match="assignments.csv changed or missing"):
        read_manifest(previous)


def test_a_full_disk_mid_commit_leaves_the_previous_set_and_no_staging(previous):
    before = _snapshot(previous)

    def full_disk(fh):
        fh.write(b"customer_id,pseudonym\n9100007919,c_1\n")
        raise OSError(errno.ENOSPC, "No space left on device")

    new = {**_writers({"bundle.json": b'{"new": 1}\n'}), "assignments.csv": full_disk}
    with pytest.raises(OutputError, match="No space left on device.*previous outputs are unchanged"):
        commit_outputs(previous, new)
    assert _snapshot(previous) == before
    assert sorted(p.name for p in previous.parent.iterdir()) == ["out"]


def test_a_file_size_limit_is_a_real_write_error(tmp_path, previous):
    # The kernel refuses writes past RLIMIT_FSIZE with EFBIG: an OS-level failure, not a mock.
    script = textwrap.dedent(
        f"""
        import resource, signal, sys
        sys.path.insert(0, {str(REPO)!r})
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        from analysis.outputs import commit_outputs
        from analysis.errors import OutputError
        try:
            commit_outputs({str(previous)!r}, {{"assignments.csv": lambda fh: fh.write(b"x" * 100_000)}})
        except OutputError as exc:
            print(exc)
            sys.exit(3)
        """
    )
    before = _snapshot(previous)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 3, done.stderr
    assert "File too large" in done.stdout
    assert _snapshot(previous) == before
    assert sorted(p.name for p in previous.parent.iterdir()) == ["out"]


KILL_AFTER_FIRST = """
import os, signal, sys
sys.path.insert(0, {repo!r})
import analysis._fs as fs
import analysis.outputs as outputs
written = []
real = fs.write_private_file
def dying(path, write):
    real(path, write)
    written.append(path)
    if len(written) == {after}:
        os.kill(os.getpid(), signal.SIGKILL)
outputs.write_private_file = dying
{patch}
outputs.commit_outputs({out!r}, {{
    "bundle.json": lambda fh: fh.write(b'{{"new": 1}}'),
    "assignments.csv": lambda fh: fh.write(b"customer_id\\n9100007919\\n"),
    "model.json": lambda fh: fh.write(b"{{}}"),
}})
"""


@pytest.mark.parametrize("after", [1, 2, 3, 4], ids=lambda n: f"killed-after-file-{n}")
def test_a_kill_mid_commit_leaves_the_previous_set(previous, after):
    before = _snapshot(previous)
    script = KILL_AFTER_FIRST.format(repo=str(REPO), after=after, out=str(previous), patch="")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert done.returncode == -9
    assert _snapshot(previous) == before
    leftovers = [p for p in previous.parent.iterdir() if p.name != "out"]
    for stage in leftovers:  # at most an owner-only staging directory, never a readable file
        assert stat.S_IMODE(stage.stat().st_mode) == 0o700
    # The next commit cleans what the killed one left behind.
    commit_outputs(previous, _writers({"bundle.json": b"{}\n"}))
    assert sorted(p.name for p in previous.parent.iterdir()) == ["out"]


def test_fallback_swap_interrupted_between_renames_is_undone(previous, monkeypatch):
    """Where renameat2(RENAME_EXCHANGE) is unavailable, a crash between the two renames is recovered."""
    before = _snapshot(previous)
    script = KILL_AFTER_FIRST.format(
        repo=str(REPO),
        after=99,
        out=str(previous),
        patch=(
            "fs.exchange_dirs = lambda a, b: False\n"
            "real_rename = fs.Path.rename\n"
            "def rename(self, target):\n"
            "    real_rename(self, target)\n"
            "    if '.old-' in str(target):\n"
            "        os.kill(os.getpid(), signal.SIGKILL)\n"
            "fs.Path.rename = rename\n"
        ),
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert done.returncode == -9
    assert not previous.exists()  # killed with the old tree moved aside
    commit_outputs(previous, _writers({"bundle.json": b'{"next": 1}\n'}))
    assert _snapshot(previous)["bundle.json"] == b'{"next": 1}\n'
    assert sorted(p.name for p in previous.parent.iterdir()) == ["out"]
    assert before  # the old set was complete until the next commit replaced it


def test_exchange_is_used_when_available(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_text("a")
    (b / "x").write_text("b")
    if not fs.exchange_dirs(a, b):
        pytest.skip("renameat2(RENAME_EXCHANGE) is not supported on this file system")
    assert (a / "x").read_text() == "b" and (b / "x").read_text() == "a"


def _foreign(d: Path) -> None:
    (d / "out").mkdir()
    (d / "out" / "precious.txt").write_text("mine")


def _symlink(d: Path) -> None:
    (d / "real").mkdir()
    (d / "out").symlink_to(d / "real")


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        pytest.param(lambda d: (d / "out").write_text("x"), "is a file, not a directory", id="out-is-a-file"),
        pytest.param(lambda d: (d / "parent").write_text("x"), "is a file, not a directory", id="parent-is-a-file"),
        pytest.param(_foreign, r"did not write \(precious\.txt\)", id="foreign-files"),
        pytest.param(_symlink, "symbolic link", id="symlink"),
    ],
)
def test_output_paths_are_checked_before_any_work(tmp_path, setup, expected):
    setup(tmp_path)
    target = tmp_path / ("parent/out" if (tmp_path / "parent").exists() else "out")
    with pytest.raises(OutputError, match=expected):
        check_output_dir(target)
    if (tmp_path / "out" / "precious.txt").exists():
        assert (tmp_path / "out" / "precious.txt").read_text() == "mine"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_parent_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(OutputError, match="is not writable"):
        check_output_dir(locked / "out")


def test_unknown_output_names_are_a_bug_not_a_file(tmp_path):
    with pytest.raises(ValueError, match="unexpected output names"):
        commit_outputs(tmp_path / "out", {"notes.txt": lambda fh: None})
