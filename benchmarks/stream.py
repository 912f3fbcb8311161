"""Throughput, latency and peak memory of ``python -m analysis stream`` beside ``python -m analysis run``.

A synthetic log in the Online Retail II shape (:mod:`benchmarks.synth_log`,
text columns like the bundled sample, customer ids spread over
``--customers`` customers) is run through the batch once, which writes the
model; its lines, in time order, are then dropped as JSON-lines files into a
watched directory and applied by the stream processor pinned to one core,
once per ``--batch-size``. Each command runs in its own process (wall time
and peak resident memory from ``getrusage`` of a wrapper's child); the
stream's ``--stats`` lines give each batch's time from reading it to its
change events written, which is the event-to-change latency of a batch
that arrives whole. At the end the stream's segment table is compared with
the batch run's ``assignments.csv``. Memory per customer is the difference
between two runs of the same number of lines with different numbers of
customers (the digests and a batch's working memory do not depend on it)::

    uv run python benchmarks/stream.py --lines 10000000 --batch-size 100000 20000
    uv run python benchmarks/stream.py --lines 10000000 --batch-size 100000 --customers 2000000

Generated data (a few GB at 10M lines) goes to ``--work`` (a temporary
directory by default) and is not committed.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pandas as pd

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from synth_log import write_log  # noqa: E402

KEY = "benchmark key, long enough for the check"
_WRAPPER = (
    "import os, resource, subprocess, sys\n"
    "cpus = sys.argv[1]\n"
    "pin = (lambda: os.sched_setaffinity(0, {int(c) for c in cpus.split(',')})) if cpus else None\n"
    "done = subprocess.run(sys.argv[2:], preexec_fn=pin, stdout=subprocess.DEVNULL)\n"
    "use = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print('PEAK_KIB', use.ru_maxrss, 'CPU_S', use.ru_utime + use.ru_stime, file=sys.stderr)\n"
    "sys.exit(done.returncode)\n"
)
_CONFIG = "[cluster]\nk = 4\n[clv]\nenabled = false\n[k_selection]\nk_max = 5\nstability_resamples = 2\n"


def measure(cmd: list[str], *, cpus: str = "") -> tuple[float, float, float, str]:
    """Run ``cmd`` (pinned to ``cpus``) under a wrapper; return (wall seconds, CPU seconds, peak MiB, stderr)."""
    env = {**os.environ, "SEGMENTATION_KEY": KEY}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER, cpus, *cmd], capture_output=True, text=True, cwd=REPO, env=env
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"benchmark command failed: {' '.join(cmd)}\n{done.stderr}")
    usage = next(line.split() for line in done.stderr.splitlines() if line.startswith("PEAK_KIB"))
    return seconds, float(usage[3]), int(usage[1]) / 1024, done.stderr


def make_data(work: Path, lines: int, customers: int | None) -> Path:
    """The synthetic log as text columns (as the bundled sample); with ``customers``, ids spread over that many."""
    typed, text = work / "typed.parquet", work / "log.parquet"
    write_log(typed, lines)
    # All lines of an invoice keep one customer: a new id is drawn from the invoice number.
    spread = f"CAST(100000 + hash(ltrim(Invoice, 'C')) % {customers} AS VARCHAR)"
    same = """CAST(CAST("Customer ID" AS BIGINT) AS VARCHAR)"""
    duckdb.execute(
        f"""COPY (SELECT Invoice, StockCode, Description, CAST(Quantity AS VARCHAR) AS Quantity,
                   strftime(InvoiceDate, '%Y-%m-%d %H:%M:%S') AS InvoiceDate, CAST(Price AS VARCHAR) AS Price,
                   CASE WHEN "Customer ID" IS NOT NULL
                        THEN {spread if customers else same} END AS "Customer ID",
                   Country
            FROM read_parquet('{typed}')) TO '{text}' (FORMAT PARQUET)"""
    )
    typed.unlink()
    return text


def write_inbox(data: Path, inbox: Path, *, files: int) -> int:
    """``data``'s lines in time order as ``files`` JSON-lines files; return the line count."""
    inbox.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(
        f"CREATE TABLE ordered AS SELECT *, row_number() OVER (ORDER BY InvoiceDate, file_row_number) - 1 AS _n "
        f"FROM read_parquet('{data}', file_row_number = true)"
    )
    total = con.execute("SELECT count(*) FROM ordered").fetchone()[0]
    per = -(-total // files)
    for i in range(files):
        con.execute(
            f"COPY (SELECT * EXCLUDE (file_row_number, _n) FROM ordered WHERE _n >= {i * per} AND _n < "
            f"{(i + 1) * per} ORDER BY _n) TO '{inbox / f'{i:03d}.jsonl'}' (FORMAT JSON)"
        )
    con.close()
    return total


def batch_run(data: Path, work: Path) -> tuple[float, float, float, Path]:
    """``python -m analysis run`` on ``data`` (k fixed, lifetime value off): wall s, CPU s, peak MiB, out dir."""
    config = work / "bench.toml"
    config.write_text(_CONFIG)
    out = work / "out"
    cmd = [sys.executable, "-m", "analysis", "run", str(data), "--out", str(out), "--config", str(config)]
    seconds, cpu, peak, _ = measure([*cmd, "--progress", "never"])
    return seconds, cpu, peak, out


def stream_run(model: Path, inbox: Path, state: Path, batch_size: int, cpus: str) -> dict:
    """The stream processor over ``inbox`` into a new ``state``; its figures."""
    for stale in state.parent.glob(f"{state.name}*"):
        stale.unlink()
    changes = state.with_suffix(".changes.jsonl")
    changes.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "analysis", "stream", "--model", str(model), "--state", str(state)]
    cmd += ["--watch", str(inbox), "--once", "--batch-size", str(batch_size), "--stats", "--changes", str(changes)]
    seconds, cpu, peak, err = measure(cmd, cpus=cpus)
    stats = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    latencies = sorted(s["total_s"] for s in stats if s["lines"])
    lines = sum(s["lines"] for s in stats)
    con = sqlite3.connect(f"file:{state}?mode=ro", uri=True)
    try:
        digests = con.execute("SELECT coalesce(sum(n), 0) FROM digests").fetchone()[0]
    finally:
        con.close()
    return {
        "wall_s": seconds,
        "cpu_s": cpu,
        "busy_s": sum(s["total_s"] for s in stats),
        "lines": lines,
        "latency_p50_s": statistics.median(latencies),
        "latency_max_s": latencies[-1],
        "peak_mib": peak,
        "digest_mib": digests * 16 / 2**20,
        "changes": sum(s["changes"] for s in stats),
    }


def tiny_inbox(inbox: Path, work: Path, lines: int = 1_000) -> Path:
    """The first ``lines`` events alone: the processor's memory with next to no state."""
    tiny = work / "tiny"
    tiny.mkdir(exist_ok=True)
    first = sorted(inbox.glob("*.jsonl"))[0]
    with first.open("rb") as fh:
        (tiny / first.name).write_bytes(b"".join(fh.readline() for _ in range(lines)))
    return tiny


def compare(state: Path, assignments: Path) -> tuple[int, int]:
    """(customers, customers whose segment or RFM cell differs) between the stream state and the batch export."""
    con = sqlite3.connect(f"file:{state}?mode=ro", uri=True)
    try:
        streamed = pd.read_sql_query("SELECT customer_id, segment, rfm_cell FROM customers", con)
    finally:
        con.close()
    batch = pd.read_csv(assignments, dtype=str, usecols=["customer_id", "segment", "rfm_cell"])
    both = streamed.astype(str).merge(batch, on="customer_id", how="outer", suffixes=("", "_batch"), indicator=True)
    same = (both["_merge"] == "both") & (both["segment"] == both["segment_batch"])
    same &= both["rfm_cell"] == both["rfm_cell_batch"]
    return len(both), int((~same).sum())


def _row(name: str, seconds: float, peak: float, extra: str = "") -> str:
    return f"{name:<28} wall {seconds:8.1f} s   peak RSS {peak:7.0f} MiB   {extra}"


def _report(name: str, got: dict, customers: int, base: float, assigned: tuple[int, int]) -> None:
    rest = got["peak_mib"] - base - got["digest_mib"]
    print(_row(name, got["wall_s"], got["peak_mib"], f"{got['lines'] / got['cpu_s']:,.0f} events per CPU second"))
    print(
        f"{'':<28} {got['lines'] / got['busy_s']:,.0f} events/s of batch time, {got['lines'] / got['wall_s']:,.0f} "
        f"with start-up; batch latency p50 {got['latency_p50_s'] * 1e3:,.0f} ms, max "
        f"{got['latency_max_s'] * 1e3:,.0f} ms; {got['changes']:,} change events"
    )
    # Per million customers: the difference of two runs of the same lines with --customers (see the README).
    print(
        f"{'':<28} memory: {base:,.0f} MiB at start, {got['digest_mib']:,.0f} MiB of row/order digests, {rest:,.0f} "
        f"MiB for {customers:,} customers and a batch; {assigned[1]:,} of {assigned[0]:,} differ from the batch"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=None, help="spread purchases over this many customer ids")
    parser.add_argument("--batch-size", type=int, nargs="+", default=[100_000, 20_000])
    parser.add_argument("--files", type=int, default=10, help="JSON-lines files the events are cut into")
    parser.add_argument("--cpu", default="0", help="the core the stream is pinned to ('' for none)")
    parser.add_argument("--work", type=Path, default=None, help="where the data goes (default: a temporary dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        data = make_data(work, args.lines, args.customers)
        total = write_inbox(data, work / "inbox", files=args.files)
        print(f"{total:,} synthetic lines ready in {time.perf_counter() - started:.0f} s; {os.cpu_count()} CPUs")
        seconds, cpu, peak, out = batch_run(data, work)
        customers = json.loads((out / "bundle.json").read_text())["data"]["customers"]
        print(_row("batch: analysis run", seconds, peak, f"{total / cpu:,.0f} lines per CPU second"))
        print(f"{'':<28} {total / seconds:,.0f} lines/s; {customers:,} customers")
        model = out / "model.json"
        base = stream_run(model, tiny_inbox(work / "inbox", work), work / "tiny.db", 1_000, args.cpu)["peak_mib"]
        for size in args.batch_size:
            got = stream_run(model, work / "inbox", work / "state.db", size, args.cpu)
            assigned = compare(work / "state.db", out / "assignments.csv")
            _report(f"stream: batches of {size:,}", got, customers, base, assigned)


if __name__ == "__main__":
    main()
