"""A processor SIGKILLed at any point, then restarted, ends with the same state and the same change events.

The reference is one uninterrupted run over a watched directory of event
files. A child process runs the real CLI with one function wrapped so that
the process SIGKILLs itself at a chosen point of a chosen batch: in the
middle of a batch, inside the state transaction, after the commit but before
the change events are written, half-way through writing them, after writing
them but before that is recorded, and before the final record at exit. The
parent also kills plain runs with SIGKILL at random moments. Each time a
normal restart must finish the job, and every table of the state and every
byte of the changes file must equal the reference.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from tests._data import REPO
from tests._stream import KEY, SMALL_UNTIL, batch_run, dump, sample_slice, stream, write_events

BATCH = "2500"

CHILD = r"""
import os, signal, sys
point, nth, args = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
import analysis.stream._output as output
import analysis.stream._processor as processor
import analysis.stream._state as state

calls = {"n": 0}


def die():
    os.kill(os.getpid(), signal.SIGKILL)


def on_nth(owner, name, *, after=False):
    real = getattr(owner, name)

    def wrapper(*a, **k):
        calls["n"] += 1
        if calls["n"] == nth and not after:
            die()
        result = real(*a, **k)
        if calls["n"] == nth and after:
            die()
        return result

    setattr(owner, name, wrapper)


if point == "mid-batch":
    on_nth(processor.Processor, "_rescore")
elif point == "in-transaction":
    on_nth(state, "pack")  # packs the batch's digests, inside the open transaction
elif point == "committed":
    on_nth(output.ChangeSink, "write")
elif point == "written":
    on_nth(output.ChangeSink, "write", after=True)
elif point == "at-exit":
    on_nth(state.StateStore, "record_sink")
elif point == "torn-output":
    real_write = os.write

    def torn(fd, data):
        calls["n"] += 1
        if calls["n"] == nth:
            real_write(fd, bytes(data)[: len(data) // 2])
            die()
        return real_write(fd, data)

    output.os.write = torn
from analysis.cli import main
sys.exit(main(["stream", *args]))
"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A model, a watched directory of four event files, and the uninterrupted run's state and changes."""
    root = tmp_path_factory.mktemp("kill")
    data = sample_slice(root / "small.parquet", until=SMALL_UNTIL)
    model = batch_run(data, root / "out").model_path
    lines = write_events(data, root / "all.jsonl").read_bytes().splitlines(keepends=True)
    inbox = root / "inbox"
    inbox.mkdir()
    quarter = len(lines) // 4 + 1
    for i in range(4):
        (inbox / f"{i:02d}.jsonl").write_bytes(b"".join(lines[i * quarter : (i + 1) * quarter]))
    args = ["--model", str(model), "--watch", str(inbox), "--once", "--batch-size", BATCH]
    reference = root / "reference.db"
    done = stream(*args, "--state", str(reference), "--changes", str(root / "reference.jsonl"))
    assert done.returncode == 0, done.stderr.decode()
    return root, args, dump(reference), (root / "reference.jsonl").read_bytes()


def _child(point: str, nth: int, args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "SEGMENTATION_KEY": KEY}
    return subprocess.run(
        [sys.executable, "-c", CHILD, point, str(nth), *args], capture_output=True, cwd=REPO, env=env, timeout=300
    )


POINTS = {
    "mid-batch": 5,  # the fifth batch is being re-assigned, nothing of it committed
    "in-transaction": 9,  # a batch's rows are in the open transaction
    "committed": 6,  # a batch committed, its change events not yet written
    "torn-output": 4,  # half of a batch's change events written
    "written": 7,  # change events written, not yet recorded as written
    "at-exit": 2,  # the last record of how far the output was written (the first is at start-up)
}


@pytest.mark.parametrize("point", sorted(POINTS))
def test_a_kill_at_any_point_then_a_restart_gives_the_uninterrupted_result(setup, tmp_path, point):
    root, args, reference, changes = setup
    state, out = tmp_path / "state.db", tmp_path / "changes.jsonl"
    run = [*args, "--state", str(state), "--changes", str(out)]
    killed = _child(point, POINTS[point], run)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()
    done = stream(*run)
    assert done.returncode == 0, done.stderr.decode()
    assert dump(state) == reference
    assert out.read_bytes() == changes


def _batches(state) -> int:
    try:
        con = sqlite3.connect(f"file:{state}?mode=ro", uri=True, timeout=1)
        try:
            return con.execute("SELECT count(*) FROM batches").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def test_real_kills_at_random_moments(setup, tmp_path):
    """SIGKILL from outside, a random moment after a random number of batches, until a run finishes."""
    root, args, _, _ = setup
    args = [*args, "--batch-size", "1000"]
    reference = tmp_path / "reference.db"
    done = stream(*args, "--state", str(reference), "--changes", str(tmp_path / "reference.jsonl"))
    assert done.returncode == 0, done.stderr.decode()
    state, out = tmp_path / "state.db", tmp_path / "changes.jsonl"
    cmd = [sys.executable, "-m", "analysis", "stream", *args, "--state", str(state), "--changes", str(out)]
    rng = random.Random(7)
    kills = 0
    for _ in range(30):
        proc = subprocess.Popen(
            cmd,
            cwd=REPO,
            env={**os.environ, "SEGMENTATION_KEY": KEY},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        target = _batches(state) + rng.randint(2, 8)
        while proc.poll() is None and _batches(state) < target:
            time.sleep(0.005)
        if proc.poll() is None:
            time.sleep(rng.uniform(0.0, 0.06))
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        if proc.returncode == 0:
            break
        assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
        kills += 1
    else:
        pytest.fail("the processor did not finish within 30 runs")
    assert kills >= 3, f"only {kills} run(s) were killed"
    assert dump(state) == dump(reference)
    assert out.read_bytes() == (tmp_path / "reference.jsonl").read_bytes()


def test_a_killed_stdin_run_resumes_after_the_lines_it_applied(setup, tmp_path):
    """Standard input: the restarted run is fed the same stream from its start and skips what was applied."""
    root, args, _, _ = setup
    events = root / "all.jsonl"
    model = args[args.index("--model") + 1]
    run = ["--model", model, "--batch-size", BATCH]
    reference = tmp_path / "reference.db"
    done = stream(*run, "--state", str(reference), "--changes", str(tmp_path / "reference.jsonl"), stdin=events)
    assert done.returncode == 0, done.stderr.decode()
    state, out = tmp_path / "state.db", tmp_path / "changes.jsonl"
    run = [*run, "--state", str(state), "--changes", str(out)]
    source = events.open("rb")
    try:
        killed = subprocess.run(
            [sys.executable, "-c", CHILD, "committed", "8", *run],
            stdin=source,
            capture_output=True,
            cwd=REPO,
            env={**os.environ, "SEGMENTATION_KEY": KEY},
            timeout=300,
        )
    finally:
        source.close()
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()
    done = stream(*run, stdin=events)
    assert done.returncode == 0, done.stderr.decode()
    assert b"skipping them" in done.stderr
    assert dump(state) == dump(reference)
    assert out.read_bytes() == (tmp_path / "reference.jsonl").read_bytes()
