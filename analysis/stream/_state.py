"""The durable state: one SQLite file in WAL mode, written one transaction per micro-batch.

Why SQLite: the lookup service runs in another process and must read while
the processor writes. In WAL mode SQLite lets any number of readers in other
processes see the last committed batch while one writer appends the next;
DuckDB allows a single read-write process per file. The file (and SQLite's
``-wal``/``-shm`` files, which take its mode) is owner-only, created ``0600``.

Tables (see the README, "Real-time segmentation"):

``meta``       key/value (JSON): state version, key check, current model, as-of day, last batch and change seq
``models``     every model applied, by the SHA-256 of its bytes
``customers``  one row per customer: raw id, pseudonym, first/last purchase (epoch µs), orders, spend
               (micro-units), units, distinct products, segment id, RFM cell, next-change day, last batch
``dropped``    events dropped, by reason (the batch's reasons plus ``malformed`` / ``missing_field``)
``digests``    128-bit digests of kept rows, orders and products (one blob per batch and kind)
``inputs``     how far each source was applied: lines, byte offset, complete
``batches``    one row per applied batch: source, lines, kept, dropped, changes, as-of
``changes``    change events not yet confirmed written to the output
``sink``       where change events go and how much of them has been written (seq, byte offset)

Exactly once: everything a batch changes, the input position it reached and
its change events are one transaction. The output is written only after the
commit and its progress recorded in ``sink`` afterwards; see :mod:`analysis.stream._output`.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analysis._fs import PRIVATE_FILE_MODE
from analysis.stream._digests import pack, unpack
from analysis.stream._errors import StreamError

__all__ = ["STATE_VERSION", "BatchRecord", "StateStore", "connect_readonly", "CUSTOMER_COLUMNS"]

STATE_VERSION = 1
CUSTOMER_COLUMNS = (
    "slot",
    "customer_id",
    "pseudonym",
    "first_us",
    "last_us",
    "orders",
    "spend",
    "quantity",
    "products",
    "segment",
    "rfm_cell",
    "next_day",
    "batch",
)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS models (sha256 TEXT PRIMARY KEY, model TEXT NOT NULL, first_batch INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS customers (
    slot INTEGER PRIMARY KEY, customer_id TEXT NOT NULL UNIQUE, pseudonym TEXT NOT NULL UNIQUE,
    first_us INTEGER NOT NULL, last_us INTEGER NOT NULL, orders INTEGER NOT NULL, spend INTEGER NOT NULL,
    quantity REAL NOT NULL, products INTEGER NOT NULL, segment INTEGER NOT NULL, rfm_cell TEXT NOT NULL,
    next_day INTEGER NOT NULL, batch INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS dropped (reason TEXT PRIMARY KEY, rows INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS digests (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, batch INTEGER NOT NULL,
    n INTEGER NOT NULL, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS inputs (source TEXT PRIMARY KEY, lines INTEGER NOT NULL, offset INTEGER NOT NULL,
    complete INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS batches (seq INTEGER PRIMARY KEY, source TEXT NOT NULL, first_line INTEGER NOT NULL,
    lines INTEGER NOT NULL, kept INTEGER NOT NULL, dropped INTEGER NOT NULL, changes INTEGER NOT NULL,
    as_of TEXT);
CREATE TABLE IF NOT EXISTS changes (seq INTEGER PRIMARY KEY, batch INTEGER NOT NULL, line TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sink (id INTEGER PRIMARY KEY CHECK (id = 1), target TEXT NOT NULL,
    seq INTEGER NOT NULL, offset INTEGER NOT NULL);
"""
_INSERT_CUSTOMER = (
    f"INSERT INTO customers ({', '.join(CUSTOMER_COLUMNS)}) VALUES ({', '.join('?' * len(CUSTOMER_COLUMNS))})"
)
# A known customer's row changes only in its figures: a plain UPDATE leaves the id and pseudonym indexes alone.
_MUTABLE = tuple(c for c in CUSTOMER_COLUMNS if c not in ("slot", "customer_id", "pseudonym"))
_UPDATE_CUSTOMER = f"UPDATE customers SET {', '.join(f'{c} = ?' for c in _MUTABLE)} WHERE slot = ?"


@dataclass(frozen=True)
class BatchRecord:
    """Everything one batch changes in the state, committed together."""

    seq: int
    source: str
    first_line: int
    lines: int
    kept: int
    position: tuple[int, int, bool] | None  # (lines, byte offset, complete) of ``source``; None: not an input
    dropped: dict[str, int]
    customers: list[tuple]  # rows (CUSTOMER_COLUMNS order) of customers already in the state
    new_customers: list[tuple]  # rows of customers this batch adds
    digests: dict[str, tuple[np.ndarray, np.ndarray]]
    changes: list[tuple[int, str]]
    meta: dict[str, object]
    as_of: str | None
    model: tuple[str, str] | None = None
    sink: tuple[str, int, int] | None = None  # (target, seq, offset) the previous batch's output reached


def _create_private(path: Path) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        return
    os.fchmod(fd, PRIVATE_FILE_MODE)
    os.close(fd)


def connect_readonly(path: Path | str) -> sqlite3.Connection:
    """A read-only connection to a state file (readers see the last committed batch; they never block the writer).

    Raises
    ------
    StreamError
        No such state, or not a state file.
    """
    path = Path(path)
    if not path.is_file():
        raise StreamError(f"{path}: no stream state here; start the processor with --model to create one.")
    con = sqlite3.connect(f"file:{path.absolute()}?mode=ro", uri=True, check_same_thread=False)
    try:
        con.execute("SELECT value FROM meta WHERE key = 'state_version'").fetchone()
    except sqlite3.DatabaseError:
        con.close()
        raise StreamError(f"{path}: not a stream state file.") from None
    return con


class StateStore:
    """The processor's read-write handle on the state file (one processor per state: an exclusive lock)."""

    def __init__(self, path: Path | str, *, create: bool) -> None:
        self.path = Path(path)
        if not self.path.exists() and not create:
            raise StreamError(f"{self.path}: no stream state here; give --model to create one.")
        if self.path.exists() and not self.path.is_file():
            raise StreamError(f"{self.path}: the state must be a file.")
        _create_private(self.path)
        self._lock = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock)
            raise StreamError(f"{self.path}: another stream processor is using this state.") from None
        self.con = sqlite3.connect(self.path, isolation_level=None)
        try:
            self.con.execute("PRAGMA journal_mode = WAL")
            # NORMAL: in WAL mode a commit survives any crash of this process (kill -9 included); only a power
            # cut may lose the last batches, which the exactly-once protocol then applies again from the input.
            self.con.execute("PRAGMA synchronous = NORMAL")
            self.con.execute("PRAGMA busy_timeout = 10000")
            self.con.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            self.close()
            raise StreamError(f"{self.path}: not a stream state file ({exc}).") from None
        version = self.get("state_version")
        if version is None:
            self.set_meta({"state_version": STATE_VERSION})
        elif version != STATE_VERSION:
            self.close()
            raise StreamError(f"{self.path}: state version {version!r}; this program reads {STATE_VERSION}.")

    def close(self) -> None:
        if getattr(self, "con", None) is not None:
            self.con.close()
            self.con = None
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    # ------------------------------------------------------------------ reading

    def get(self, key: str, default=None):
        row = self.con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return default if row is None else json.loads(row[0])

    def set_meta(self, values: dict[str, object]) -> None:
        self.con.executemany(
            "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [(k, json.dumps(v)) for k, v in values.items()],
        )

    def model_text(self, sha: str) -> str | None:
        row = self.con.execute("SELECT model FROM models WHERE sha256 = ?", [sha]).fetchone()
        return None if row is None else row[0]

    def customers(self) -> tuple[list[str], list[str], list[str], dict[str, np.ndarray]]:
        """(ids, pseudonyms, cells, numeric columns) of every customer, by slot."""
        rows = self.con.execute(f"SELECT {', '.join(CUSTOMER_COLUMNS)} FROM customers ORDER BY slot").fetchall()
        if rows and rows[-1][0] != len(rows) - 1:
            raise StreamError(f"{self.path}: the customers table has gaps in its slots; the state is damaged.")
        cols = list(zip(*rows, strict=True)) if rows else [()] * len(CUSTOMER_COLUMNS)
        by = dict(zip(CUSTOMER_COLUMNS, cols, strict=True))
        numeric = {
            "first_us": np.array(by["first_us"], np.int64),
            "last_us": np.array(by["last_us"], np.int64),
            "orders": np.array(by["orders"], np.int64),
            "spend": np.array(by["spend"], np.int64),
            "quantity": np.array(by["quantity"], np.float64),
            "products": np.array(by["products"], np.int64),
            "segment": np.array(by["segment"], np.int64),
            "next_day": np.array(by["next_day"], np.int64),
        }
        return list(by["customer_id"]), list(by["pseudonym"]), list(by["rfm_cell"]), numeric

    def digests(self, kind: str) -> tuple[np.ndarray, np.ndarray]:
        blobs = [unpack(b) for (b,) in self.con.execute("SELECT data FROM digests WHERE kind = ? ORDER BY id", [kind])]
        if not blobs:
            return np.zeros(0, np.uint64), np.zeros(0, np.uint64)
        return np.concatenate([h for h, _ in blobs]), np.concatenate([lo for _, lo in blobs])

    def dropped(self) -> dict[str, int]:
        return dict(self.con.execute("SELECT reason, rows FROM dropped ORDER BY reason").fetchall())

    def position(self, source: str) -> tuple[int, int, bool]:
        row = self.con.execute("SELECT lines, offset, complete FROM inputs WHERE source = ?", [source]).fetchone()
        return (0, 0, False) if row is None else (int(row[0]), int(row[1]), bool(row[2]))

    def pending(self, after: int) -> list[tuple[int, str]]:
        return self.con.execute("SELECT seq, line FROM changes WHERE seq > ? ORDER BY seq", [after]).fetchall()

    def sink(self) -> tuple[str, int, int] | None:
        row = self.con.execute("SELECT target, seq, offset FROM sink WHERE id = 1").fetchone()
        return None if row is None else (row[0], int(row[1]), int(row[2]))

    # ------------------------------------------------------------------ writing

    def commit(self, record: BatchRecord) -> None:
        """Apply one batch in one transaction (all of it or, after a kill, none of it)."""
        con = self.con
        con.execute("BEGIN IMMEDIATE")
        try:
            if record.model is not None:
                con.execute("INSERT OR IGNORE INTO models VALUES (?, ?, ?)", [*record.model, record.seq])
            con.executemany(_INSERT_CUSTOMER, record.new_customers)
            con.executemany(_UPDATE_CUSTOMER, [(*row[3:], row[0]) for row in record.customers])
            con.executemany(
                "INSERT INTO dropped VALUES (?, ?) ON CONFLICT (reason) DO UPDATE SET rows = rows + excluded.rows",
                [(r, n) for r, n in record.dropped.items()],
            )
            for kind, (h1, h2) in record.digests.items():
                if len(h1):
                    con.execute(
                        "INSERT INTO digests (kind, batch, n, data) VALUES (?, ?, ?, ?)",
                        [kind, record.seq, len(h1), pack(h1, h2)],
                    )
            if record.position is not None:
                lines, offset, complete = record.position
                con.execute(
                    "INSERT INTO inputs VALUES (?, ?, ?, ?) ON CONFLICT (source) DO UPDATE SET "
                    "lines = excluded.lines, offset = excluded.offset, complete = excluded.complete",
                    [record.source, lines, offset, int(complete)],
                )
            dropped = sum(record.dropped.values())
            con.execute(
                "INSERT INTO batches VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    record.seq,
                    record.source,
                    record.first_line,
                    record.lines,
                    record.kept,
                    dropped,
                    len(record.changes),
                    record.as_of,
                ],
            )
            con.executemany("INSERT INTO changes VALUES (?, ?, ?)", [(s, record.seq, t) for s, t in record.changes])
            self.set_meta({**record.meta, "batch_seq": record.seq})
            if record.sink is not None:
                self._sink(*record.sink)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def record_sink(self, target: str, seq: int, offset: int, count: int = 0) -> None:
        """Note that change events up to ``seq`` are written (``offset`` bytes, for a file) and forget them."""
        con = self.con
        con.execute("BEGIN IMMEDIATE")
        try:
            self._sink(target, seq, offset)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def _sink(self, target: str, seq: int, offset: int) -> None:
        self.con.execute(
            "INSERT INTO sink VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
            "target = excluded.target, seq = excluded.seq, offset = excluded.offset",
            [target, seq, offset],
        )
        self.con.execute("DELETE FROM changes WHERE seq <= ?", [seq])
