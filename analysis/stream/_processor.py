"""The local processor: each micro-batch cleaned, added, re-assigned and committed, exactly once.

One batch (:meth:`Processor.apply`) is: parse the lines; clean them with the
batch rules (:mod:`analysis.stream._clean`); add them to the customers'
running aggregates (:mod:`analysis.stream._aggregates`); move the as-of day
to the day after the newest kept purchase (or a tick's date; the clock never
goes back); re-assign, with :func:`analysis.assign.assign_customers`, the
customers the batch touched and those whose next-change day has come
(:mod:`analysis.stream._timeline`); commit all of it, the input position and
the change events in one transaction; then write the change events.

A change event is written for every customer whose segment differs from
before (``from`` is null for a new customer). Its ``reason`` is
``purchase`` (the customer bought in the batch), ``time`` (nothing bought,
recency moved them) or ``model`` (a new model re-assigned them).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from json.encoder import encode_basestring

import duckdb
import numpy as np

from analysis.assign import assign_customers
from analysis.model import SegmentModel, dump_model
from analysis.privacy import PseudonymKey
from analysis.stream._aggregates import DAY_US, Customers, apply_batch
from analysis.stream._clean import clean_events, connect, digest_probe
from analysis.stream._digests import DigestSet
from analysis.stream._errors import StreamError
from analysis.stream._events import EventBatch, empty_batch, parse_csv, parse_jsonl
from analysis.stream._output import day_iso
from analysis.stream._spec import StreamSpec, stream_spec
from analysis.stream._state import BatchRecord, StateStore
from analysis.stream._timeline import Calendar, next_change

__all__ = ["Chunk", "Processor", "BatchReport", "tick_chunk", "model_sha"]

_EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class Chunk:
    """Complete lines from one source, and where the source stands once they are applied.

    ``position`` is (physical lines read, byte offset, source complete) after
    this chunk; ``header`` the CSV columns and delimiter (None for JSON lines).
    """

    source: str
    kind: str
    data: bytes
    first_line: int
    lines: int
    position: tuple[int, int, bool] | None
    header: tuple[list[str], str] | None = None


@dataclass(frozen=True)
class BatchReport:
    """What one applied batch did (for the processor's summary line and benchmarks)."""

    seq: int
    lines: int
    kept: int
    dropped: int
    malformed: int
    changes: int
    as_of: str | None
    first_bad: tuple[int, str] | None
    lines_out: tuple[tuple[int, str], ...] = ()  # the change events (seq, JSON line) committed


def tick_chunk(date: dt.date) -> Chunk:
    """A clock tick as a batch of its own: the as-of date moves to ``date`` (never back)."""
    text = date.isoformat()
    return Chunk(source=f"tick:{text}", kind="tick", data=text.encode(), first_line=0, lines=0, position=None)


def model_sha(model: SegmentModel) -> str:
    return hashlib.sha256(dump_model(model)).hexdigest()


class Processor:
    """Owns the in-memory copy of the state (customers, digests, calendar) and keeps the file in step."""

    def __init__(self, state: StateStore, model: SegmentModel, *, key: PseudonymKey, model_path: str) -> None:
        self.state = state
        self.key = key
        self.con = connect()
        self.customers = Customers()
        self.calendar = Calendar()
        self.lines, self.invoices, self.orders, self.products = DigestSet(), DigestSet(), DigestSet(), DigestSet()
        self.as_of: int | None = state.get("as_of")
        self.seq: int = state.get("batch_seq", 0)
        self.change_seq: int = state.get("change_seq", 0)
        self.model: SegmentModel | None = None
        self.spec: StreamSpec | None = None
        self.tracks_products = False
        self._shaped: set[str] = set()  # sources whose events' shape was checked in this run
        self._load(model, model_path)

    # ------------------------------------------------------------------ start-up and models

    def _load(self, model: SegmentModel, model_path: str) -> None:
        state = self.state
        spec = stream_spec(model, path=model_path)
        check = state.get("key_check")
        if check is not None and check != model.fingerprint.key_check:
            raise StreamError(
                f"{model_path}: the state's pseudonyms were made with another key (key check {check}); "
                "a model made with another key cannot continue this state."
            )
        probe = state.get("digest_probe")
        if probe is not None and probe != digest_probe(self.con):
            raise StreamError(
                f"{state.path}: this DuckDB ({duckdb.__version__}) digests rows differently from the one that made "
                f"the state ({state.get('duckdb')}), so copies of earlier events would go unnoticed; run that DuckDB "
                "version, or replay the events into a new state."
            )
        ids, pseudonyms, cells, columns = state.customers()
        self.customers.restore(ids, pseudonyms, cells, columns)
        kinds = {"line": self.lines, "invoice": self.invoices, "order": self.orders, "product": self.products}
        for kind, digests in kinds.items():
            digests.add(*state.digests(kind))
        self.calendar.rebuild(self.customers["next_day"])
        stored = state.get("model")
        if stored is None:
            meta = {"key_check": model.fingerprint.key_check, "columns": list(spec.columns)}
            meta.update(digest_probe=digest_probe(self.con), duckdb=duckdb.__version__)
            state.set_meta({**meta, "tracks_products": spec.needs_products})
            self._commit_model(model, spec, reassign=False)
        else:
            self.model = SegmentModel.model_validate_json(state.model_text(stored))
            self.spec = stream_spec(self.model, path=f"{state.path} (its model)")
            if stored != model_sha(model):
                self._check_compatible(spec, model_path)
                self._commit_model(model, spec, reassign=True)
        self.tracks_products = bool(state.get("tracks_products"))

    def _check_compatible(self, spec: StreamSpec, model_path: str) -> None:
        columns = tuple(self.state.get("columns") or ())
        if spec.columns != columns:
            raise StreamError(
                f"{model_path}: the new model reads columns {list(spec.columns)!r}, but this state judges duplicates "
                f"on {list(columns)!r}; replay the events into a new state."
            )
        if spec.needs_products and not self.state.get("tracks_products"):
            raise StreamError(
                f"{model_path}: the new model needs distinct_products, which this state did not keep; "
                "replay the events into a new state."
            )

    def _commit_model(self, model: SegmentModel, spec: StreamSpec, *, reassign: bool) -> None:
        """Make ``model`` current; with ``reassign``, re-assign every customer under it (reason "model")."""
        self.model, self.spec = model, spec
        slots = np.arange(len(self.customers), dtype=np.int64)
        self.seq += 1
        rows, changes = ([], [])
        if reassign and len(slots) and self.as_of is not None:
            rows, changes = self._rescore(slots, np.zeros(0, np.int64), reason="model")
        text = dump_model(model).decode("utf-8")
        self.state.commit(
            BatchRecord(
                seq=self.seq,
                source="model",
                first_line=0,
                lines=0,
                kept=0,
                position=None,
                dropped={},
                customers=rows,
                new_customers=[],
                digests={},
                changes=changes,
                meta={"model": model_sha(model), "change_seq": self.change_seq},
                as_of=day_iso(self.as_of),
                model=(model_sha(model), text),
            )
        )

    # ------------------------------------------------------------------ batches

    def _parse(self, chunk: Chunk) -> EventBatch:
        if chunk.kind == "tick":
            return empty_batch(self.con, self.spec, (dt.date.fromisoformat(chunk.data.decode()),))
        if not chunk.data:
            return empty_batch(self.con, self.spec)
        if chunk.kind == "csv":
            columns, delimiter = chunk.header
            return parse_csv(
                self.con, chunk.data, header=columns, delimiter=delimiter, first_line=chunk.first_line, spec=self.spec
            )
        # The shape is judged on a source's first block, as a CSV file's on its header: later, one event
        # without a mapped field (even alone in a trickle's block) is only counted.
        first = chunk.source not in self._shaped
        self._shaped.add(chunk.source)
        return parse_jsonl(self.con, chunk.data, first_line=chunk.first_line, spec=self.spec, check_shape=first)

    def apply(self, chunk: Chunk, *, sink: tuple[str, int, int] | None = None) -> BatchReport:
        """Apply one chunk of events: clean, add, re-assign, commit (the output is written by the caller).

        ``sink`` is how far the change events of earlier batches were written
        (recorded in this batch's transaction, saving one commit a batch).
        """
        self.seq += 1
        events = self._parse(chunk)
        cleaned = clean_events(
            self.con, events.relation, spec=self.spec, seen=self.lines.contains, seen_invoices=self.invoices.contains
        )
        update = apply_batch(
            self.customers,
            cleaned,
            key=self.key,
            orders=self.orders,
            products=self.products if self.tracks_products else None,
        )
        self.lines.add(*cleaned.lines)
        self.invoices.add(*cleaned.invoices)
        ticks = [t.toordinal() - _EPOCH.toordinal() - 1 for t in events.ticks]  # a tick's date is the as-of
        days = [d for d in (update.max_day, *ticks) if d is not None]
        if days:
            self.as_of = max(self.as_of or 0, max(days) + 1)
        due = self.calendar.due(self.as_of, self.customers["next_day"]) if self.as_of is not None else None
        rows, changes = self._rescore(update.touched, due if due is not None else np.zeros(0, np.int64))
        first_new = len(self.customers) - len(update.added)  # new customers take the last slots
        dropped = {**cleaned.dropped, **events.malformed}
        digests = {"line": cleaned.lines, "invoice": cleaned.invoices, "order": update.orders}
        if update.products is not None:
            digests["product"] = update.products
        self.state.commit(
            BatchRecord(
                seq=self.seq,
                source=chunk.source,
                first_line=chunk.first_line,
                lines=chunk.lines,
                kept=cleaned.kept,
                position=chunk.position,
                dropped={r: n for r, n in dropped.items() if n},
                customers=[r for r in rows if r[0] < first_new],
                new_customers=[r for r in rows if r[0] >= first_new],
                digests=digests,
                changes=changes,
                meta={"as_of": self.as_of, "change_seq": self.change_seq},
                as_of=day_iso(self.as_of),
                sink=sink,
            )
        )
        return BatchReport(
            seq=self.seq,
            lines=chunk.lines,
            kept=cleaned.kept,
            dropped=sum(cleaned.dropped.values()),
            malformed=sum(events.malformed.values()),
            changes=len(changes),
            as_of=day_iso(self.as_of),
            first_bad=events.first_bad,
            lines_out=tuple(changes),
        )

    # ------------------------------------------------------------------ assignment

    def _rescore(self, touched: np.ndarray, due: np.ndarray, *, reason: str | None = None) -> tuple[list, list]:
        """Re-assign ``touched`` and ``due`` customers as of the current day; return state rows and change lines."""
        slots = np.unique(np.concatenate([touched, due]).astype(np.int64))
        if not len(slots) or self.as_of is None:
            return [], []
        c, model = self.customers, self.model
        frame = c.frame(slots, self.as_of)
        pseudonyms = [c.pseudonyms[i] for i in slots]
        got = assign_customers(frame, model, tiebreak=pseudonyms)
        segments = got["segment"].to_numpy(dtype=np.int64)
        before = c["segment"][slots].copy()
        cells = got["rfm_cell"].tolist()
        last_day = c["last_us"][slots] // DAY_US
        days = next_change(model, frame, segments=segments, pseudonyms=pseudonyms, last_day=last_day, as_of=self.as_of)
        c.cols["segment"][slots] = segments
        c.cols["next_day"][slots] = days
        for i, cell in zip(slots.tolist(), cells, strict=True):
            c.cells[i] = cell
        self.calendar.schedule(slots, days, next_day=c["next_day"])
        changes = self._changes(slots, before, segments, cells, touched, reason)
        rows = self._rows(slots)
        return rows, changes

    def _changes(self, slots, before, segments, cells, touched, reason) -> list[tuple[int, str]]:
        """One JSON line per customer whose segment moved: what ``json.dumps`` gives, from pre-encoded parts.

        (A change event per purchase would otherwise cost a dict and a ``json.dumps`` each.)
        """
        text = encode_basestring
        names = {s.id: text(s.name) for s in (*self.model.retired, *self.model.segments)}
        moved = np.flatnonzero(segments != before)
        if not len(moved):
            return []
        bought = np.isin(slots[moved], touched)
        tail = f'"at":{text(day_iso(self.as_of))},"reason":'
        why = {True: text(reason or "purchase"), False: text(reason or "time")}
        pseudonyms, changes = self.customers.pseudonyms, []
        for k, buy in zip(moved.tolist(), bought.tolist(), strict=True):
            old, new = int(before[k]), int(segments[k])
            self.change_seq += 1
            line = (
                f'{{"seq":{self.change_seq},"pseudonym":{text(pseudonyms[int(slots[k])])},'
                f'"from":{old or "null"},"to":{new},"from_name":{names.get(old, "null")},"to_name":{names[new]},'
                f'"rfm_cell":{text(cells[k])},{tail}{why[buy]}}}'
            )
            changes.append((self.change_seq, line))
        return changes

    def _rows(self, slots: np.ndarray) -> list[tuple]:
        c = self.customers
        names = ("first_us", "last_us", "orders", "spend", "quantity", "products", "segment")
        cols = [c.cols[n][slots].tolist() for n in names]
        next_day = c.cols["next_day"][slots].tolist()
        return [
            (s, c.ids[s], c.pseudonyms[s], *vals, c.cells[s], nd, self.seq)
            for s, *vals, nd in zip(slots.tolist(), *cols, next_day, strict=True)
        ]
