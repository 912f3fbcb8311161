"""One bucket's state: its customers' running aggregates and the digests the cleaning remembers, as Spark state.

Customers are hashed into a fixed number of buckets, and a bucket is one key
of Spark's state (``applyInPandasWithState``). A bucket holds exactly what the
local processor holds for its customers: an :class:`analysis.stream.Customers`
table (first and last purchase, distinct orders, exact spend, units, distinct
products, segment, RFM cell, next-change day) and three digest sets (rows
seen, for the duplicate rule; (customer, order) and (customer, product)
pairs). In Spark's state row they are bytes: the customers as an Arrow IPC
stream, each digest set as packed little-endian pairs
(:func:`analysis.stream._digests.pack`). ``as_of`` is the last day the bucket
assigned at, ``seq`` counts the bucket's updates (it orders a customer's
successive assignments in the output).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from analysis.stream._aggregates import NUMERIC, Customers
from analysis.stream._digests import DigestSet, pack, unpack

__all__ = ["STATE_DDL", "BucketState"]

STATE_DDL = "customers binary, lines binary, orders binary, products binary, as_of long, seq long"
_DIGESTS = ("lines", "orders", "products")


def _digests(blob: bytes | None) -> DigestSet:
    found = DigestSet()
    if blob:
        found.add(*unpack(bytes(blob)))
    return found


def _customers_bytes(c: Customers) -> bytes:
    columns = {"id": pa.array(c.ids, pa.string()), "pseudonym": pa.array(c.pseudonyms, pa.string())}
    columns["cell"] = pa.array(c.cells, pa.string())
    columns.update({name: pa.array(c[name]) for name in NUMERIC})
    table = pa.table(columns)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _customers(blob: bytes | None) -> Customers:
    customers = Customers()
    if blob:
        table = pa.ipc.open_stream(pa.py_buffer(bytes(blob))).read_all()
        columns = {name: table.column(name).to_numpy().astype(dtype) for name, (dtype, _) in NUMERIC.items()}
        customers.restore(
            table.column("id").to_pylist(),
            table.column("pseudonym").to_pylist(),
            table.column("cell").to_pylist(),
            columns,
        )
    return customers


@dataclass
class BucketState:
    """A bucket's customers and digests, in memory for one call of the state function."""

    customers: Customers
    lines: DigestSet
    orders: DigestSet
    products: DigestSet
    as_of: int | None
    seq: int

    @classmethod
    def empty(cls) -> BucketState:
        return cls(Customers(), DigestSet(), DigestSet(), DigestSet(), None, 0)

    @classmethod
    def load(cls, row: tuple) -> BucketState:
        """From Spark's state row (the fields of :data:`STATE_DDL`, in order)."""
        customers, lines, orders, products, as_of, seq = row
        return cls(_customers(customers), _digests(lines), _digests(orders), _digests(products), as_of, int(seq))

    def row(self) -> tuple:
        """Spark's state row."""
        digests = [pack(*getattr(self, name).arrays()) for name in _DIGESTS]
        return (_customers_bytes(self.customers), *digests, self.as_of, self.seq)

    def next_day(self) -> int | None:
        """The earliest next-change day of the bucket's customers (None: nothing changes by time alone)."""
        days = self.customers["next_day"]
        return int(days.min()) if len(days) and days.min() < NUMERIC["next_day"][1] else None

    def due(self, as_of: int) -> np.ndarray:
        """Slots whose next-change day has come."""
        return np.flatnonzero(self.customers["next_day"] <= as_of).astype(np.int64)
