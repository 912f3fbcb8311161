"""Stream equals batch: the bundled sample replayed event by event ends where the batch run's model puts everyone.

A real ``python -m analysis run`` (with a key) on the bundled sample makes the
model; the same sample, as JSON lines in time order, goes through a real
``python -m analysis stream`` in micro-batches. At an as-of equal to the
batch's snapshot date every customer must be in exactly the segment, and the
RFM cell, that ``assign_customers`` gives the batch's own customer table, and
the events dropped must be the batch's row accounting, reason by reason. Any
difference is a bug.
"""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys

import pandas as pd
import pytest

from tests._data import REPO, SAMPLE
from tests._stream import KEY, batch_clean, batch_reference, current, dropped, meta, stream, write_events


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The batch run on the whole sample (the real CLI), and the sample as time-ordered JSON lines."""
    root = tmp_path_factory.mktemp("equivalence")
    out = root / "out"
    done = subprocess.run(
        [sys.executable, "-m", "analysis", "run", str(SAMPLE), "--out", str(out), "--progress", "never"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "SEGMENTATION_KEY": KEY},
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    events = write_events(SAMPLE, root / "events.jsonl")
    return root, out / "model.json", events, json.loads((out / "bundle.json").read_text())


@pytest.fixture(scope="module")
def cleaned():
    return batch_clean(SAMPLE)


@pytest.fixture(scope="module")
def replayed(run):
    root, model, events, _ = run
    state = root / "state.db"
    done = stream(
        "--model",
        str(model),
        "--state",
        str(state),
        "--batch-size",
        "5000",
        "--changes",
        str(root / "changes.jsonl"),
        stdin=events,
    )
    assert done.returncode == 0, done.stderr.decode()
    return state


def test_every_customer_ends_in_the_batch_segment_and_rfm_cell(run, replayed, cleaned):
    _, model, _, bundle = run
    reference = batch_reference(SAMPLE, model, cleaned=cleaned)
    got = current(replayed)
    assert meta(replayed)["as_of"] == (pd.Timestamp(reference.snapshot) - pd.Timestamp("1970-01-01")).days
    assert reference.snapshot == bundle["data"]["snapshot_date"]
    assert len(got) == bundle["data"]["customers"] == len(reference.assigned)
    pd.testing.assert_frame_equal(got, reference.assigned, check_dtype=False)


def test_the_dropped_events_are_the_batch_row_accounting(run, replayed):
    bundle = run[3]
    assert dropped(replayed) == {r: n for r, n in bundle["data"]["dropped"].items() if n}
    con = sqlite3.connect(f"file:{replayed}?mode=ro", uri=True)
    kept, lines = con.execute("SELECT sum(kept), sum(lines) FROM batches").fetchone()
    con.close()
    assert kept == bundle["data"]["rows_kept"] and lines == bundle["data"]["rows_in"]


def test_time_alone_moves_customers_exactly_as_the_batch_would_later(run, replayed, cleaned, tmp_path):
    """Ticks re-score only customers whose next-change day came; the result equals a batch snapshot months later."""
    _, model, _, _ = run
    state = tmp_path / "state.db"
    state.write_bytes(replayed.read_bytes())
    changes = tmp_path / "changes.jsonl"
    for flag, day in (("--tick", "2011-12-31"), ("--as-of", "2012-02-15"), ("--tick", "2012-06-30")):
        done = stream("--state", str(state), flag, day, "--changes", str(changes))
        assert done.returncode == 0, done.stderr.decode()
        reference = batch_reference(SAMPLE, model, snapshot=day, cleaned=cleaned)
        pd.testing.assert_frame_equal(current(state), reference.assigned, check_dtype=False)
    moved = [json.loads(line) for line in changes.read_text().splitlines()]
    assert moved and {m["reason"] for m in moved} == {"time"}
    assert {(m["from_name"], m["to_name"]) for m in moved} == {("Loyal regulars", "Hibernating")}


def test_events_out_of_order_give_the_same_end_state(run, replayed, tmp_path):
    """Shuffled within windows of 5,000 lines (late events older than a customer's last purchase): same state."""
    _, model, events, _ = run
    lines = events.read_bytes().splitlines(keepends=True)
    rng = random.Random(12)
    shuffled = []
    for start in range(0, len(lines), 5000):
        window = lines[start : start + 5000]
        rng.shuffle(window)
        shuffled.extend(window)
    state = tmp_path / "state.db"
    done = stream("--model", str(model), "--state", str(state), "--batch-size", "3000", stdin=b"".join(shuffled))
    assert done.returncode == 0, done.stderr.decode()
    pd.testing.assert_frame_equal(current(state), current(replayed))
    assert dropped(state) == dropped(replayed)
    figures = "customer_id, first_us, last_us, orders, spend, quantity, segment, rfm_cell, next_day"
    query = f"SELECT {figures} FROM customers ORDER BY customer_id"
    a, b = (sqlite3.connect(f"file:{s}?mode=ro", uri=True) for s in (state, replayed))
    assert a.execute(query).fetchall() == b.execute(query).fetchall()
