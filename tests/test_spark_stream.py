"""The Spark job equals the batch: the bundled sample replayed through it ends where the model puts everyone.

A batch run on the bundled sample makes the model; the same sample as JSON
lines goes through the Spark job from a watched directory, in three files
and two runs of the job (the second continues from the first's checkpoint).
The events are shuffled within windows of 5,000 lines and 2,000 of the first
file's events arrive in the last one, far behind Spark's watermark. At the end every customer must
be in exactly the segment and RFM cell that ``assign_customers`` gives the
batch's own customer table, and the counts must be the batch's row
accounting, reason by reason (plus the two unreadable lines added). Any
difference is a bug. A clock tick then moves customers exactly as a batch
snapshot at that date would.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys

import pandas as pd
import pytest

from tests._data import REPO, SAMPLE
from tests._stream import KEY, batch_reference, batch_run, write_events

pytest.importorskip("pyspark", reason="pyspark is not installed (optional extra: uv sync --extra spark)")
# Spark's Python workers must run this interpreter (they import analysis); set before any session starts.
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

from analysis.model import load_model  # noqa: E402
from analysis.privacy import PseudonymKey  # noqa: E402
from analysis.spark_stream import file_events, read_results, spark_session, start_job  # noqa: E402
from analysis.stream import StreamError  # noqa: E402

pytestmark = pytest.mark.spark
BUCKETS = 4
BAD_LINES = [b"this is not json\n", b'{"Invoice": "489434", "Quantity": "1"}\n']  # malformed, missing_field


@pytest.fixture(scope="module")
def spark():
    session = spark_session(cores=2, driver_memory="1g")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """The batch run on the whole sample: (model path, bundle)."""
    out = tmp_path_factory.mktemp("spark-batch") / "out"
    batch_run(SAMPLE, out)
    return out / "model.json", json.loads((out / "bundle.json").read_text())


def _event_files(root) -> list[bytes]:
    """The sample as three JSON-lines files: shuffled in windows, some of the first file's events sent last."""
    lines = write_events(SAMPLE, root / "events.jsonl").read_bytes().splitlines(keepends=True)
    rng = random.Random(12)
    for start in range(0, len(lines), 5000):
        window = lines[start : start + 5000]
        rng.shuffle(window)
        lines[start : start + 5000] = window
    third = len(lines) // 3
    parts = [lines[:third], lines[third : 2 * third], lines[2 * third :]]
    late = set(rng.sample(range(len(parts[0])), 2000))
    parts[2] += [parts[0][i] for i in sorted(late)]
    parts[0] = [line for i, line in enumerate(parts[0]) if i not in late]
    parts[1][100:100] = BAD_LINES
    return [b"".join(p) for p in parts]


def _key() -> PseudonymKey:
    return PseudonymKey(secret=KEY.encode("utf-8"), origin="environment")


def _drop(inbox, name: str, data: bytes) -> None:
    """Move a file in whole, as the file source requires."""
    staged = inbox.parent / f".{name}"
    staged.write_bytes(data)
    os.replace(staged, inbox / name)


def _run(spark, paths, model) -> None:
    query = start_job(
        file_events(spark, paths["inbox"], files_per_batch=1),
        model=model,
        key=_key(),
        out=paths["out"],
        checkpoint=paths["checkpoint"],
        buckets=BUCKETS,
    )
    query.awaitTermination()
    assert query.exception() is None


@pytest.fixture(scope="module")
def job(spark, batch, tmp_path_factory):
    """Two runs of the job (files 1-2, then file 3 from the checkpoint); the results read after each."""
    root = tmp_path_factory.mktemp("spark-job")
    paths = {"inbox": root / "inbox", "out": root / "out", "checkpoint": root / "checkpoint"}
    paths["inbox"].mkdir()
    model = load_model(batch[0])
    files = _event_files(root)
    _drop(paths["inbox"], "part-1.jsonl", files[0])
    _drop(paths["inbox"], "part-2.jsonl", files[1])
    _run(spark, paths, model)
    first = read_results(spark, paths["out"])
    _drop(paths["inbox"], "part-3.jsonl", files[2])
    _run(spark, paths, model)
    return paths, model, first, read_results(spark, paths["out"])


def test_every_customer_ends_in_the_batch_segment_and_rfm_cell(job, batch):
    _, model, first, results = job
    reference = batch_reference(SAMPLE, model)
    got = results.segments[["customer_id", "pseudonym", "segment", "rfm_cell"]]
    assert len(got) == batch[1]["data"]["customers"] == len(reference.assigned)
    pd.testing.assert_frame_equal(got, reference.assigned, check_dtype=False)
    assert results.segments["as_of"].max() == reference.snapshot
    assert 0 < len(first.segments) < len(got)  # the first run stopped part-way; the restart went on from there


def test_the_counts_are_the_batch_row_accounting(job, batch):
    data = batch[1]["data"]
    counts = dict(job[3].counts)
    assert counts.pop("malformed") == 1 and counts.pop("missing_field") == 1
    assert counts.pop("kept") == data["rows_kept"]
    assert counts == {r: n for r, n in data["dropped"].items() if n}
    assert data["rows_kept"] + sum(counts.values()) == data["rows_in"]


def _chains(changes: pd.DataFrame) -> dict[str, list[dict]]:
    chains: dict[str, list[dict]] = {}
    for event in changes.to_dict("records"):
        chains.setdefault(event["pseudonym"], []).append(event)
    return chains


def test_change_events_lead_each_customer_to_its_segment(job):
    results = job[3]
    chains = _chains(results.changes)
    final = dict(zip(results.segments["pseudonym"], results.segments["segment"], strict=True))
    assert set(chains) == set(final)
    for pseudonym, events in chains.items():
        assert pd.isna(events[0]["from"]) and events[0]["reason"] == "purchase"
        for before, after in zip(events, events[1:], strict=False):
            assert after["from"] == before["to"] != after["to"] and after["at"] >= before["at"]
        assert events[-1]["to"] == final[pseudonym]
    assert {e["reason"] for e in results.changes.to_dict("records")} == {"purchase", "time"}


def test_a_tick_moves_customers_exactly_as_a_later_batch_snapshot(spark, job):
    paths, model, _, before = job
    _drop(paths["inbox"], "tick.jsonl", b'{"tick": "2012-06-30"}\n')
    _run(spark, paths, model)
    after = read_results(spark, paths["out"])
    reference = batch_reference(SAMPLE, model, snapshot="2012-06-30")
    got = after.segments[["customer_id", "pseudonym", "segment", "rfm_cell"]]
    pd.testing.assert_frame_equal(got, reference.assigned, check_dtype=False)
    moved = after.changes.iloc[len(before.changes) :]
    assert len(moved) and set(moved["reason"]) == {"time"} and set(moved["at"]) == {"2012-06-30"}
    assert after.counts == before.counts  # a tick is no event


def test_a_checkpoint_refuses_another_bucket_count(spark, job):
    paths, model, _, _ = job
    with pytest.raises(StreamError, match="another buckets"):
        start_job(
            file_events(spark, paths["inbox"]),
            model=model,
            key=_key(),
            out=paths["out"],
            checkpoint=paths["checkpoint"],
            buckets=BUCKETS + 1,
        )


def test_export_through_the_command_line(spark, job, tmp_path):
    paths, _, _, _ = job
    csv, changes = tmp_path / "segments.csv", tmp_path / "changes.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "analysis.spark_stream", "export", "--out", str(paths["out"])]
        + ["--csv", str(csv), "--changes", str(changes)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(csv, dtype={"customer_id": str, "rfm_cell": str})
    assert list(table.columns) == ["customer_id", "pseudonym", "segment", "segment_name", "rfm_cell", "as_of"]
    current = read_results(spark, paths["out"]).segments
    pd.testing.assert_frame_equal(table, current, check_dtype=False)
    events = [json.loads(line) for line in changes.read_text().splitlines()]
    assert {"pseudonym", "from", "to", "at"} <= set(events[0]) and events[0]["from"] is None
    assert "customers" in done.stderr and "change event(s)" in done.stderr
