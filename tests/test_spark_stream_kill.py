"""The Spark job killed with SIGKILL after its first micro-batch and started again applies every event exactly once.

The command line (``python -m analysis.spark_stream run --once``) runs on the
sample's first two months in three files, one micro-batch each; the whole
process group (driver JVM included) is killed once the first micro-batch
is committed, and the same command is run again. The output must then hold
every customer in the segment and RFM cell the batch gives, and counts equal
to the batch's row accounting: a micro-batch applied twice would count its
rows twice, one lost would miss them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from tests._data import REPO
from tests._stream import KEY, SMALL_UNTIL, batch_clean, batch_reference, batch_run, sample_slice, write_events

pytest.importorskip("pyspark", reason="pyspark is not installed (optional extra: uv sync --extra spark)")
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # before any session starts: workers import analysis

from analysis.spark_stream import read_results, spark_session  # noqa: E402

pytestmark = pytest.mark.spark


def _command(root) -> list[str]:
    return [sys.executable, "-m", "analysis.spark_stream", "run", "--model", str(root / "batch" / "model.json")] + [
        "--watch",
        str(root / "inbox"),
        "--out",
        str(root / "out"),
        "--checkpoint",
        str(root / "checkpoint"),
        "--buckets",
        "3",
        "--files-per-batch",
        "1",
        "--once",
        "--cores",
        "1",
    ]


def _env() -> dict[str, str]:
    return {**os.environ, "SEGMENTATION_KEY": KEY, "PYSPARK_PYTHON": sys.executable}


def test_a_killed_job_restarted_applies_every_event_once(tmp_path):
    small = sample_slice(tmp_path / "small.parquet", until=SMALL_UNTIL)
    batch_run(small, tmp_path / "batch")
    lines = write_events(small, tmp_path / "events.jsonl").read_bytes().splitlines(keepends=True)
    (tmp_path / "inbox").mkdir()
    third = len(lines) // 3
    for i, part in enumerate((lines[:third], lines[third : 2 * third], lines[2 * third :])):
        (tmp_path / f"part-{i}.jsonl").write_bytes(b"".join(part))
        os.replace(tmp_path / f"part-{i}.jsonl", tmp_path / "inbox" / f"part-{i}.jsonl")
    first = subprocess.Popen(_command(tmp_path), cwd=REPO, env=_env(), start_new_session=True)
    committed = tmp_path / "checkpoint" / "commits" / "0"
    deadline = time.monotonic() + 300
    while not committed.exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert committed.exists() and first.poll() is None, "the first micro-batch was not committed while it ran"
    os.killpg(first.pid, signal.SIGKILL)  # the driver JVM and the Python workers with it
    first.wait(timeout=60)
    assert not (tmp_path / "checkpoint" / "commits" / "2").exists()  # killed part-way
    again = subprocess.run(_command(tmp_path), cwd=REPO, env=_env(), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    spark = spark_session(cores=2, driver_memory="1g")
    results = read_results(spark, tmp_path / "out")
    cleaned = batch_clean(small)
    reference = batch_reference(small, tmp_path / "batch" / "model.json", cleaned=cleaned)
    got = results.segments[["customer_id", "pseudonym", "segment", "rfm_cell"]]
    pd.testing.assert_frame_equal(got, reference.assigned, check_dtype=False)
    assert results.counts == {**reference.dropped, "kept": cleaned.rows_kept}
    assert len(results.changes) >= len(got)  # one arrival event per customer at least, none lost
    assert results.changes.groupby("pseudonym")["from"].apply(lambda s: int(s.isna().sum())).eq(1).all()
