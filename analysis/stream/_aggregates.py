"""Every customer's running aggregates, and the customer table the model sees, computed from them exactly.

The state keeps raw aggregates, never features: first and last purchase
(epoch microseconds), distinct orders, spend as an exact integer number of
micro-units (the batch sums exact decimals to 6 places), units and distinct
products. From them :meth:`Customers.frame` computes each column the way
``analysis/sql/customers.sql`` and :func:`analysis.customers.table_from_frames`
do (recency and tenure in whole days to the as-of date, spend / units, ...),
so a model reload re-assigns every customer exactly.

Exactness limits (documented in the README): spend per customer below 2**53
micro-units (9·10⁹ currency units), where the batch's decimal-to-float
conversion and ``spend / 1e6`` agree bit for bit; units summed as floats,
exact for whole-number quantities.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.privacy import PseudonymKey, pseudonymize
from analysis.stream._clean import CleanBatch
from analysis.stream._digests import DigestSet
from analysis.stream._errors import StreamError

__all__ = ["NUMERIC", "Customers", "BatchUpdate", "apply_batch", "DAY_US", "NEVER"]

DAY_US = 86_400_000_000
NEVER = np.iinfo(np.int64).max // 4  # "no change scheduled": beyond any real day
_SPEND_LIMIT = 2**63 - 1
# column -> (dtype, value of a customer never seen)
NUMERIC = {
    "first_us": (np.int64, np.iinfo(np.int64).max),
    "last_us": (np.int64, np.iinfo(np.int64).min),
    "orders": (np.int64, 0),
    "spend": (np.int64, 0),
    "quantity": (np.float64, 0.0),
    "products": (np.int64, 0),
    "segment": (np.int64, 0),
    "next_day": (np.int64, NEVER),
}


class Customers:
    """Column arrays indexed by slot (a customer's row number, in order of first appearance)."""

    def __init__(self) -> None:
        self.n = 0
        self.cols = {name: np.full(1024, fill, dtype=dtype) for name, (dtype, fill) in NUMERIC.items()}
        self.ids: list[str] = []
        self.pseudonyms: list[str] = []
        self.cells: list[str] = []
        self.index: dict[str, int] = {}

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, name: str) -> np.ndarray:
        return self.cols[name][: self.n]

    def _grow(self, n: int) -> None:
        size = len(self.cols["orders"])
        if n <= size:
            return
        while size < n:
            size *= 2
        for name, (dtype, fill) in NUMERIC.items():
            grown = np.full(size, fill, dtype=dtype)
            grown[: self.n] = self.cols[name][: self.n]
            self.cols[name] = grown

    def restore(self, ids: list[str], pseudonyms: list[str], cells: list[str], columns: dict[str, np.ndarray]) -> None:
        """Load customers read back from the state (slots 0..n-1 in order)."""
        self._grow(len(ids))
        self.n = len(ids)
        for name, values in columns.items():
            self.cols[name][: self.n] = values
        self.ids, self.pseudonyms, self.cells = list(ids), list(pseudonyms), list(cells)
        self.index = {cid: i for i, cid in enumerate(self.ids)}

    def slots(self, ids: np.ndarray, key: PseudonymKey) -> tuple[np.ndarray, np.ndarray]:
        """Slot of each id, adding unknown ones (with their pseudonym); returns (slots, added slots)."""
        get = self.index.get
        slots = np.fromiter((get(i, -1) for i in ids), dtype=np.int64, count=len(ids))
        fresh = [str(i) for i in ids[slots < 0]]
        if not fresh:
            return slots, np.zeros(0, np.int64)
        start = self.n
        self._grow(start + len(fresh))
        self.ids.extend(fresh)
        self.pseudonyms.extend(pseudonymize(fresh, key))
        self.cells.extend([""] * len(fresh))
        self.index.update({cid: start + k for k, cid in enumerate(fresh)})
        self.n = start + len(fresh)
        slots[slots < 0] = np.arange(start, self.n)
        return slots, np.arange(start, self.n, dtype=np.int64)

    def frame(self, slots: np.ndarray, as_of: int) -> pd.DataFrame:
        """The per-customer table of ``slots`` as of day ``as_of`` (days since 1970-01-01; recency's snapshot).

        Columns as :class:`analysis.customers.CustomerSchema` has them for the
        model: customer_id, recency, frequency, monetary, avg_unit_cost,
        avg_order_value, tenure, distinct_products, total_quantity.
        """
        c = {name: self.cols[name][slots] for name in ("first_us", "last_us", "orders", "spend", "quantity")}
        monetary = c["spend"] / 1e6  # what DuckDB hands pandas for the DECIMAL(38, 6) sum
        with np.errstate(divide="ignore", invalid="ignore"):
            unit_cost = np.where(c["quantity"] != 0, monetary / c["quantity"], np.nan)  # NULLIF(SUM(quantity), 0)
        return pd.DataFrame(
            {
                "customer_id": [self.ids[i] for i in slots],
                "recency": (as_of - c["last_us"] // DAY_US).astype(np.float64),
                "frequency": c["orders"],
                "monetary": monetary,
                "avg_unit_cost": unit_cost,
                "avg_order_value": monetary / c["orders"],
                "tenure": (as_of - c["first_us"] // DAY_US).astype(np.float64),
                "distinct_products": self.cols["products"][slots].astype(np.float64),
                "total_quantity": c["quantity"],
            }
        )


@dataclass(frozen=True)
class BatchUpdate:
    """Which customers a batch touched and which digests it added (for the state)."""

    touched: np.ndarray
    added: np.ndarray
    orders: tuple[np.ndarray, np.ndarray]
    products: tuple[np.ndarray, np.ndarray] | None
    max_day: int | None


def _new_pairs(table, slot_of: dict[str, int], seen: DigestSet) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Slots of the (customer, thing) pairs not seen before, and their digests."""
    cols = {c: table.column(c).to_numpy(zero_copy_only=False) for c in table.column_names}
    h1, h2 = cols["h1"].astype(np.uint64), cols["h2"].astype(np.uint64)
    fresh = ~seen.contains(h1, h2)
    ids = cols["customer_id"][fresh]
    return np.fromiter((slot_of[i] for i in ids), np.int64, len(ids)), (h1[fresh], h2[fresh])


def apply_batch(
    customers: Customers, batch: CleanBatch, *, key: PseudonymKey, orders: DigestSet, products: DigestSet | None
) -> BatchUpdate:
    """Add one cleaned batch to the running aggregates (and its new orders/products to the digest sets).

    Late events (older than a customer's last purchase) need nothing special:
    first and last purchase are a minimum and a maximum, and orders are
    counted once whatever the order they arrive in.

    Raises
    ------
    StreamError
        A customer's spend would leave the exact 64-bit range.
    """
    table = batch.customers
    ids = table.column("customer_id").to_numpy(zero_copy_only=False)
    slots, added = customers.slots(ids, key)
    slot_of = dict(zip(ids.tolist(), slots.tolist(), strict=True))
    col = customers.cols
    first, last = table.column("first_us").to_numpy(), table.column("last_us").to_numpy()
    col["first_us"][slots] = np.minimum(col["first_us"][slots], first)
    col["last_us"][slots] = np.maximum(col["last_us"][slots], last)
    spend = table.column("spend").to_numpy()
    total = col["spend"][slots].astype(object) + spend.astype(object)
    if len(total) and (max(total) > _SPEND_LIMIT or min(total) < -_SPEND_LIMIT):
        worst = int(np.argmax([abs(t) for t in total]))
        raise StreamError(f"customer {customers.pseudonyms[slots[worst]]}: spend leaves the exact 64-bit range.")
    col["spend"][slots] += spend
    col["quantity"][slots] += np.nan_to_num(table.column("quantity").to_numpy(zero_copy_only=False), nan=0.0)
    order_slots, order_digests = _new_pairs(batch.orders, slot_of, orders)
    np.add.at(col["orders"], order_slots, 1)
    orders.add(*order_digests)
    product_digests = None
    if products is not None and batch.products is not None:
        product_slots, product_digests = _new_pairs(batch.products, slot_of, products)
        np.add.at(col["products"], product_slots, 1)
        products.add(*product_digests)
    max_day = int(last.max() // DAY_US) if len(last) else None
    return BatchUpdate(touched=slots, added=added, orders=order_digests, products=product_digests, max_day=max_day)
