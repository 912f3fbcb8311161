"""Helpers for the stream tests: event files cut from the bundled sample, batch references, the CLI, state dumps."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from analysis.assign import assign_customers
from analysis.clean import clean_transactions
from analysis.config import load_config
from analysis.customers import customer_table
from analysis.load import load_transactions
from analysis.model import SegmentModel, load_model
from analysis.pipeline import run_pipeline
from analysis.privacy import pseudonymize, resolve_key
from tests._data import REPO, SAMPLE

KEY = "stream tests key, long enough"
SMALL_UNTIL = "2010-02-01"  # the sample's first two months: 39,181 rows, 734 customers


def sample_slice(path: Path, *, until: str | None = None, since: str | None = None) -> Path:
    """The bundled sample's rows dated in [since, until) as a Parquet file of the same (text) columns."""
    where = []
    if since:
        where.append(f"InvoiceDate >= '{since}'")
    if until:
        where.append(f"InvoiceDate < '{until}'")
    cond = f"WHERE {' AND '.join(where)}" if where else ""
    duckdb.execute(
        f"COPY (SELECT * EXCLUDE (file_row_number) FROM read_parquet('{SAMPLE}', file_row_number = true) {cond} "
        f"ORDER BY file_row_number) TO '{path}' (FORMAT PARQUET)"
    )
    return path


def write_events(data: Path, out: Path, *, order: str = "time") -> Path:
    """``data`` (Parquet) as JSON lines, one event per row: in time order, or in file order."""
    by = "InvoiceDate, file_row_number" if order == "time" else "file_row_number"
    duckdb.execute(
        f"COPY (SELECT * EXCLUDE (file_row_number) FROM read_parquet('{data}', file_row_number = true) ORDER BY {by}) "
        f"TO '{out}' (FORMAT JSON)"
    )
    return out


def config(**sections):
    """A quick run configuration: k fixed, a small k-selection, lifetime value off."""
    base = {"cluster": {"k": 3}, "k_selection": {"k_max": 4, "stability_resamples": 2}, "clv": {"enabled": False}}
    for name, values in sections.items():
        base[name] = {**base.get(name, {}), **values}
    return load_config(None, **base)


def batch_run(data: Path, out: Path, *, previous=None, **sections):
    """``python -m analysis run`` in this process, with :data:`KEY`."""
    with _key():
        return run_pipeline(data, config=config(**sections), out_dir=out, previous=previous)


class _key:
    def __enter__(self):
        self.old = os.environ.get("SEGMENTATION_KEY")
        os.environ["SEGMENTATION_KEY"] = KEY

    def __exit__(self, *exc):
        if self.old is None:
            os.environ.pop("SEGMENTATION_KEY", None)
        else:
            os.environ["SEGMENTATION_KEY"] = self.old


@dataclass(frozen=True)
class Reference:
    """What the batch says about a file under a model: each customer's segment and cell, and the row accounting."""

    assigned: pd.DataFrame  # customer_id, pseudonym, segment, rfm_cell (sorted by customer_id)
    dropped: dict[str, int]
    snapshot: str


def batch_clean(data: Path):
    """The batch's loading and cleaning of ``data`` (default settings)."""
    cfg = config()
    return clean_transactions(load_transactions(data, columns=cfg.columns, engine=cfg.engine), config=cfg.cleaning)


def batch_reference(data: Path, model: SegmentModel | Path, *, snapshot: str | None = None, cleaned=None) -> Reference:
    """``assign_customers(batch customer table of data, model)``, recency measured to ``snapshot`` (or the batch's).

    ``cleaned`` (:func:`batch_clean` of ``data``) saves cleaning the file again.
    """
    model = load_model(model) if isinstance(model, Path) else model
    sections = {} if snapshot is None else {"customers": {"snapshot_date": snapshot}}
    cfg = config(**sections)
    cleaned = cleaned if cleaned is not None else batch_clean(data)
    table = customer_table(cleaned, config=cfg.customers)
    with _key():
        key = resolve_key(cfg.privacy, data_path=data)
    pseudonyms = pseudonymize(table.customers["customer_id"], key)
    got = assign_customers(table.customers, model, tiebreak=pseudonyms)
    got.insert(1, "pseudonym", pseudonyms)
    assigned = got[["customer_id", "pseudonym", "segment", "rfm_cell"]].sort_values("customer_id")
    dropped = {r: n for r, n in cleaned.dropped.items() if n}
    return Reference(assigned.reset_index(drop=True), dropped, table.snapshot_date.isoformat())


def stream(*args: str, stdin: Path | bytes | None = None, key: str | None = KEY, timeout: float = 600):
    """Run ``python -m analysis stream ARGS`` in a subprocess."""
    env = {k: v for k, v in os.environ.items() if k != "SEGMENTATION_KEY"}
    if key is not None:
        env["SEGMENTATION_KEY"] = key
    source = stdin.open("rb") if isinstance(stdin, Path) else None
    try:
        return subprocess.run(
            [sys.executable, "-m", "analysis", "stream", *args],
            stdin=source if source is not None else (subprocess.DEVNULL if stdin is None else None),
            input=stdin if isinstance(stdin, bytes) else None,
            capture_output=True,
            cwd=REPO,
            env=env,
            timeout=timeout,
        )
    finally:
        if source is not None:
            source.close()


def current(state: Path) -> pd.DataFrame:
    """The state's current-segment table: customer_id, pseudonym, segment, rfm_cell (sorted by customer_id)."""
    con = sqlite3.connect(f"file:{state}?mode=ro", uri=True)
    try:
        frame = pd.read_sql_query("SELECT customer_id, pseudonym, segment, rfm_cell FROM customers", con)
    finally:
        con.close()
    return frame.sort_values("customer_id").reset_index(drop=True)


def meta(state: Path) -> dict:
    con = sqlite3.connect(f"file:{state}?mode=ro", uri=True)
    try:
        return {k: json.loads(v) for k, v in con.execute("SELECT key, value FROM meta")}
    finally:
        con.close()


def dropped(state: Path) -> dict[str, int]:
    con = sqlite3.connect(f"file:{state}?mode=ro", uri=True)
    try:
        return {r: n for r, n in con.execute("SELECT reason, rows FROM dropped") if n}
    finally:
        con.close()


def dump(state: Path) -> dict[str, list]:
    """Every table of a state as sorted rows (digest blobs as sorted digests): equal dumps, equal states."""
    con = sqlite3.connect(f"file:{state}?mode=ro", uri=True)
    try:
        out = {}
        for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
            if table == "digests":
                by_kind: dict[str, list] = {}
                for kind, blob in con.execute("SELECT kind, data FROM digests"):
                    pairs = np.frombuffer(blob, dtype="<u8").reshape(-1, 2)
                    by_kind.setdefault(kind, []).extend(map(tuple, pairs.tolist()))
                out[table] = sorted((k, sorted(v)) for k, v in by_kind.items())
            elif table == "sink":  # where the file is differs between runs; how much of it was written may not
                out[table] = [
                    (target.split(":")[0], seq, offset) for _, target, seq, offset in con.execute("SELECT * FROM sink")
                ]
            else:
                out[table] = sorted(con.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
        return out
    finally:
        con.close()
