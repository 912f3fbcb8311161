"""A forked child keeps nothing of its parent but the modules, ends on its own, and never returns into its parent."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from analysis._child import ForkedChild, can_fork

pytestmark = pytest.mark.skipif(not can_fork(), reason="children are forks on Linux only")


def _echo_fds(source, sink) -> None:
    """Write the open descriptors (and what 0 and 1 point to), then echo lines until the input ends."""
    fds = sorted(int(fd) for fd in os.listdir("/proc/self/fd"))
    targets = {fd: os.readlink(f"/proc/self/fd/{fd}") for fd in (0, 1)}
    sink.write(json.dumps({"fds": fds, "source": source.fileno(), "sink": sink.fileno(), "std": targets}).encode())
    sink.write(b"\n")
    sink.flush()
    for line in source:
        sink.write(line)
        sink.flush()


def test_the_child_holds_only_its_own_pipes_and_ends_with_its_input(tmp_path):
    held = open(tmp_path / "open-in-parent.txt", "wb")  # noqa: SIM115 - must stay open across the fork
    other = ForkedChild(_echo_fds)  # its pipes must not stay open in the second child
    try:
        child = ForkedChild(_echo_fds)
        seen = json.loads(child.stdout.readline())
        listed = set(seen["fds"]) - {0, 1, 2, seen["source"], seen["sink"]}
        assert len(listed) <= 1  # the directory listing's own descriptor
        assert not any(os.path.exists(f"/proc/{child.pid}/fd/{fd}") for fd in (held.fileno(), other.stdin.fileno()))
        assert seen["std"] == {"0": os.devnull, "1": os.devnull}
        child.stdin.write(b"hello\n")
        child.stdin.flush()
        assert child.stdout.readline() == b"hello\n"
        child.stdin.close()
        assert child.wait() == 0
        assert child.stdout.read() == b""
    finally:
        held.close()
        other.stdin.close()
        other.wait()
        other.stdout.close()
    assert other.returncode == 0  # it saw the end of its input although a second child was forked after it


def _fail(source, sink) -> None:
    raise RuntimeError("the child failed")


def test_a_failing_child_exits_1_and_does_not_return_into_the_parent(capfd):
    parent = os.getpid()
    child = ForkedChild(_fail)
    assert os.getpid() == parent  # only the parent gets here: the child ended inside ForkedChild
    assert child.wait() == 1
    assert "RuntimeError: the child failed" in capfd.readouterr().err


def _wait_for_input(source, sink) -> None:
    sink.write(b"ready\n")
    sink.flush()
    source.read()


def test_ctrl_c_is_left_to_the_parent_and_kill_stops_the_child():
    child = ForkedChild(_wait_for_input)
    assert child.stdout.readline() == b"ready\n"
    os.kill(child.pid, signal.SIGINT)
    time.sleep(0.2)
    assert child.poll() is None  # ignored
    child.kill()
    assert child.wait() == -signal.SIGKILL
    child.kill()  # once waited for, nothing: the pid may belong to another process by now
    child.stdin.close()
    child.stdout.close()
