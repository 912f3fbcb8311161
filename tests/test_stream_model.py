"""Loading the next refresh's model.json: the state is kept, everyone is re-assigned, segment ids carry over.

The first model is a batch run on the sample's first two months; the next is
a refresh on four months with ``--previous`` the first run and ``refit =
"always"`` with one more segment, so the history matching
(:mod:`analysis.identity`) pairs the new segments with the old ones and
gives the extra one a new id. The stream, fed the four months under the
first model and then given the second, must end exactly where the batch
assignment with the second model puts everyone, and write a ``model``
change event for exactly the customers whose segment id differs between the
two batch assignments (a continued segment keeps its id, so its members do
not move).
"""

from __future__ import annotations

import json
import sqlite3

import pandas as pd
import pytest

from analysis.previous import read_previous
from tests._stream import SMALL_UNTIL, batch_reference, batch_run, current, sample_slice, stream, write_events

FIGURES = "customer_id, first_us, last_us, orders, spend, quantity, products"


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory):
    root = tmp_path_factory.mktemp("model")
    small = sample_slice(root / "small.parquet", until=SMALL_UNTIL)
    first = batch_run(small, root / "out1")
    data = sample_slice(root / "mid.parquet", until="2010-04-01")
    second = batch_run(
        data, root / "out2", previous=read_previous(root / "out1"), history={"refit": "always"}, cluster={"k": 4}
    )
    state, changes = root / "state.db", root / "changes.jsonl"
    events = write_events(data, root / "events.jsonl")
    done = stream("--model", str(first.model_path), "--state", str(state), "--changes", str(changes), stdin=events)
    assert done.returncode == 0, done.stderr.decode()
    before = _figures(state), current(state), len(changes.read_text().splitlines())
    done = stream("--model", str(second.model_path), "--state", str(state), "--changes", str(changes))
    assert done.returncode == 0, done.stderr.decode()
    return root, data, first.model, second.model, state, changes, before


def _figures(state) -> list[tuple]:
    con = sqlite3.connect(f"file:{state}?mode=ro", uri=True)
    try:
        return con.execute(f"SELECT {FIGURES} FROM customers ORDER BY customer_id").fetchall()
    finally:
        con.close()


def test_the_refresh_matched_the_old_segments_and_added_one(refreshed):
    _, _, first, second, *_ = refreshed
    old = {s.id: s.name for s in first.segments}
    new = {s.id: s.name for s in second.segments}
    assert len(new) == len(old) + 1
    assert {i: new[i] for i in old} == old and max(new) == max(old) + 1


def test_the_new_model_keeps_the_state_and_reassigns_everyone_as_the_batch(refreshed):
    _, data, _, second, state, _, (figures, _, _) = refreshed
    assert _figures(state) == figures  # nothing bought is lost or counted twice
    pd.testing.assert_frame_equal(current(state), batch_reference(data, second).assigned, check_dtype=False)


def test_model_change_events_are_exactly_the_customers_whose_segment_id_differs(refreshed):
    _, data, first, second, state, changes, (_, old, seen) = refreshed
    under_first = batch_reference(data, first).assigned
    pd.testing.assert_frame_equal(old, under_first, check_dtype=False)
    moved = [json.loads(line) for line in changes.read_text().splitlines()[seen:]]
    assert moved and {m["reason"] for m in moved} == {"model"}
    under_second = batch_reference(data, second).assigned.set_index("pseudonym")["segment"]
    differs = under_first.set_index("pseudonym")["segment"] != under_second
    assert sorted(m["pseudonym"] for m in moved) == sorted(differs[differs].index)
    was = under_first.set_index("pseudonym")["segment"]
    assert all((m["from"], m["to"]) == (was[m["pseudonym"]], under_second[m["pseudonym"]]) for m in moved)
    assert len(moved) < 0.5 * len(was)  # continued segments kept their ids, so most members did not move


def test_giving_the_same_model_again_changes_nothing(refreshed):
    _, _, _, second, state, changes, _ = refreshed
    text = changes.read_text()
    rows = current(state)
    done = stream(
        "--model", str(refreshed[0] / "out2" / "model.json"), "--state", str(state), "--changes", str(changes)
    )
    assert done.returncode == 0, done.stderr.decode()
    assert changes.read_text() == text
    pd.testing.assert_frame_equal(current(state), rows)
