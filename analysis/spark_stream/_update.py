"""Stage two of the Spark job: the ``applyInPandasWithState`` function that cleans, adds and re-assigns a bucket.

For one bucket and one micro-batch, :func:`update_bucket` runs the local
core's own steps on the bucket's events, in the same order as
:meth:`analysis.stream.Processor.apply`:

1. :func:`analysis.stream.clean_events`: the batch's cleaning SQL, with the
   duplicate rule answered by the bucket's digests of earlier rows;
2. :func:`analysis.stream.apply_batch`: the running aggregates;
3. the as-of day: the day after the newest kept purchase the bucket has
   seen, or the day after Spark's watermark (the newest kept purchase or tick
   of the whole stream, as of the previous micro-batch), whichever is later;
   it never goes back;
4. :func:`analysis.assign.assign_customers` and
   :func:`analysis.stream.next_change` on the customers the batch touched and
   those whose next-change day has come.

The bucket's event-time timeout is then set to the earliest next-change day
of its customers, so when the watermark reaches that day, Spark calls the
function again without events (``hasTimedOut``) and step 4 re-scores the
customers that are due. Every customer is always right for the as-of day
it was last assigned at, and stays right until its next-change day:
a customer that time alone moves is re-scored when that day comes.

The rows it yields (:data:`OUTPUT_DDL`): ``segment`` (a customer's new
segment or RFM cell), ``change`` (the segment changed: the change event) and
``count`` (rows kept and dropped, by reason). Group ``-1`` gets stage one's
``count`` and ``clock`` rows and keeps no state.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa

from analysis.assign import assign_customers
from analysis.spark_stream._bucket import BucketState
from analysis.spark_stream._context import DAY_MS, Context, JobSpec, context
from analysis.spark_stream._prepare import value_columns
from analysis.stream._aggregates import DAY_US, apply_batch
from analysis.stream._clean import clean_events
from analysis.stream._events import _register
from analysis.stream._output import day_iso
from analysis.stream._timeline import next_change

__all__ = ["OUTPUT_DDL", "update_bucket", "update"]

OUTPUT_DDL = (
    "kind string, bucket long, seq long, customer_id string, pseudonym string, segment long, previous long, "
    "segment_name string, previous_name string, rfm_cell string, at string, reason string, rows long"
)
_COLUMNS = [c.split()[0] for c in OUTPUT_DDL.split(", ")]
_LONGS = [c.split()[0] for c in OUTPUT_DDL.split(", ") if c.endswith(" long")]


def _frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame({c: [r.get(c) for r in rows] for c in _COLUMNS})
    return frame.astype({c: "Int64" for c in _LONGS}).astype({c: object for c in _COLUMNS if c not in _LONGS})


def _rescore(ctx: Context, state: BucketState, slots: np.ndarray, bought: set[int], out: dict) -> None:
    """Re-assign ``slots`` as of ``state.as_of``; append segment and change rows to ``out``."""
    c, model, as_of = state.customers, ctx.model, state.as_of
    frame = c.frame(slots, as_of)
    pseudonyms = [c.pseudonyms[i] for i in slots]
    got = assign_customers(frame, model, tiebreak=pseudonyms)
    segments, cells = got["segment"].to_numpy(dtype=np.int64), got["rfm_cell"].tolist()
    before, before_cells = c["segment"][slots].copy(), [c.cells[i] for i in slots]
    last_day = c["last_us"][slots] // DAY_US
    days = next_change(model, frame, segments=segments, pseudonyms=pseudonyms, last_day=last_day, as_of=as_of)
    c.cols["segment"][slots], c.cols["next_day"][slots] = segments, days
    names = {s.id: s.name for s in (*model.retired, *model.segments)}
    at = day_iso(as_of)
    for k, slot in enumerate(slots.tolist()):
        c.cells[slot] = cells[k]
        old, new = int(before[k]), int(segments[k])
        if old == new and before_cells[k] == cells[k]:
            continue
        base = {"bucket": out["bucket"], "seq": state.seq, "pseudonym": c.pseudonyms[slot], "segment": new}
        base.update(segment_name=names[new], rfm_cell=cells[k], at=at)
        out["rows"].append({**base, "kind": "segment", "customer_id": c.ids[slot]})
        if old != new:
            why = "purchase" if slot in bought else "time"
            change = {**base, "kind": "change", "previous": old or None, "previous_name": names.get(old)}
            out["rows"].append({**change, "reason": why})


def _events(ctx: Context, frames: Iterator[pd.DataFrame]) -> str:
    """The bucket's event rows as the core's ``_events`` relation (the training file's column names)."""
    spec, con = ctx.spec, ctx.con("update")
    rows = pd.concat(list(frames), ignore_index=True)
    columns = {"_line": pa.array(np.arange(1, len(rows) + 1, dtype=np.int64))}
    for name, col in zip(spec.columns, value_columns(spec), strict=True):
        columns[name] = pa.Array.from_pandas(rows[col], type=pa.string())
    return _register(con, pa.table(columns), spec)


def _clock(watermark_ms: int) -> int | None:
    """The as-of day Spark's watermark gives (the day after it), or None before the first one."""
    return watermark_ms // DAY_MS + 1 if watermark_ms > 0 else None


def update_bucket(job: JobSpec, bucket: int, frames: Iterator[pd.DataFrame], state) -> pd.DataFrame:
    """Apply one micro-batch's events (or a timeout) to one bucket; update ``state``; return the output rows."""
    ctx = context(job)
    current = BucketState.load(state.get) if state.exists else BucketState.empty()
    current.seq += 1
    out = {"bucket": bucket, "rows": []}
    touched = np.zeros(0, np.int64)
    days = [current.as_of, _clock(state.getCurrentWatermarkMs())]
    if not state.hasTimedOut:
        spec = ctx.spec
        cleaned = clean_events(ctx.con("update"), _events(ctx, frames), spec=spec, seen=current.lines.contains)
        products = current.products if spec.needs_products else None
        added = apply_batch(current.customers, cleaned, key=job.key, orders=current.orders, products=products)
        current.lines.add(*cleaned.lines)
        touched = added.touched
        days.append(None if added.max_day is None else added.max_day + 1)
        counts = {**{r: n for r, n in cleaned.dropped.items() if n}, "kept": cleaned.kept}
        out["rows"] += [
            {"kind": "count", "bucket": bucket, "seq": current.seq, "reason": r, "rows": n} for r, n in counts.items()
        ]
    known = [d for d in days if d is not None]
    current.as_of = max(known) if known else None
    if current.as_of is not None and len(current.customers):
        slots = np.unique(np.concatenate([touched, current.due(current.as_of)]))
        if len(slots):
            _rescore(ctx, current, slots, set(touched.tolist()), out)
    state.update(current.row())
    upcoming = current.next_day()
    if upcoming is not None:
        # Spark times a key out once the watermark is past this instant: the as-of has reached that day.
        state.setTimeoutTimestamp((upcoming - 1) * DAY_MS - 1)
    return _frame(out["rows"])


def _counts(frames: Iterator[pd.DataFrame]) -> pd.DataFrame:
    """Group -1: stage one's counts of unreadable events, summed by reason (its clock rows only move the watermark)."""
    rows = pd.concat(list(frames), ignore_index=True)
    rows = rows[rows["kind"] == "count"]
    sums = rows.groupby("reason")["rows"].sum()
    return _frame([{"kind": "count", "bucket": -1, "reason": r, "rows": int(n)} for r, n in sums.items()])


def update(job: JobSpec):
    """The ``applyInPandasWithState`` function for ``job`` (keyed by bucket)."""

    def run(key: tuple, frames: Iterator[pd.DataFrame], state) -> Iterator[pd.DataFrame]:
        bucket = int(key[0])
        yield _counts(frames) if bucket < 0 else update_bucket(job, bucket, frames, state)

    return run
