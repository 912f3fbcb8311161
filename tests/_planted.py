"""Transaction logs with planted customer types, for testing the choice of k end to end.

:func:`write_planted_log` writes a small Online Retail II-shaped CSV in which
every customer belongs to one of a few planted *types* (a profile of recency,
number of orders, order value and unit price) or is a *noise* customer drawn
from the whole range. The pipeline's own stages (load, clean, customer table,
features) then turn the log into the matrix that :func:`analysis.kselect.choose_k`
sees, so a test checks that the real feature building recovers the types, not
just that KMeans separates blobs it was handed.

Each type's four quantities are log-normal around the type's medians with the
type's ``spread`` as the standard deviation of the log, so the types are
separated on the log scale the features use (frequency, spend and unit price are
log1p-transformed when skewed). :data:`CASES` holds the twelve cases the tests
run: k = 3 to 7, one 5% group in most, different spreads, some noise customers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["TYPES", "CASES", "PlantedCase", "PlantedType", "write_planted_log"]

END = dt.datetime(2011, 12, 9, 12, 0)
SPAN_DAYS = 720
RECENCY_DAMPING = np.array([0.5, 1.0, 1.0, 1.0])
COLUMNS = ["Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price", "Customer ID", "Country"]


@dataclass(frozen=True)
class PlantedType:
    """Medians of one customer type (the log of each is normal with sd ``spread``)."""

    name: str
    recency: float
    orders: float
    order_value: float
    unit_price: float


#: Seven types far enough apart on the log scale (at least about one unit on two of the four
#: quantities for every pair) that a spread of 0.15-0.3 leaves them clearly separated.
TYPES = {
    "vip": PlantedType("vip", recency=6, orders=30, order_value=900.0, unit_price=2.0),
    "regular": PlantedType("regular", recency=25, orders=8, order_value=250.0, unit_price=3.0),
    "lapsed": PlantedType("lapsed", recency=450, orders=1, order_value=120.0, unit_price=3.0),
    "premium": PlantedType("premium", recency=140, orders=1, order_value=500.0, unit_price=20.0),
    "new": PlantedType("new", recency=12, orders=1, order_value=50.0, unit_price=7.0),
    "wholesale": PlantedType("wholesale", recency=260, orders=5, order_value=2000.0, unit_price=0.7),
    "bargain": PlantedType("bargain", recency=60, orders=14, order_value=40.0, unit_price=0.9),
}


@dataclass(frozen=True)
class PlantedCase:
    """One generated log: which types, their shares, their spreads, how much noise.

    ``shares`` and ``spreads`` run parallel to ``types``; the shares of the types
    and ``noise`` add up to one.
    """

    id: str
    types: tuple[str, ...]
    shares: tuple[float, ...]
    spreads: tuple[float, ...]
    customers: int
    noise: float
    seed: int

    @property
    def k(self) -> int:
        """The planted number of types."""
        return len(self.types)


def _case(case_id, types, shares, spreads, *, customers=400, noise=0.0, seed=0) -> PlantedCase:
    if isinstance(spreads, float):
        spreads = (spreads,) * len(types)
    return PlantedCase(case_id, tuple(types), tuple(shares), tuple(spreads), customers, noise, seed)


CASES = (
    _case("k3-equal", ["regular", "lapsed", "premium"], [1 / 3] * 3, 0.2, seed=1),
    _case("k3-vip5", ["vip", "regular", "premium"], [0.05, 0.55, 0.40], 0.25, customers=400, seed=2),
    _case("k4-equal-wide", ["regular", "lapsed", "premium", "new"], [0.25] * 4, 0.3, seed=3),
    _case("k4-vip5-noise", ["vip", "regular", "lapsed", "new"], [0.05, 0.30, 0.38, 0.25], 0.2, noise=0.02, seed=4),
    _case(
        "k4-mixed-spread",
        ["regular", "lapsed", "premium", "wholesale"],
        [0.35, 0.35, 0.2, 0.1],
        (0.15, 0.3, 0.2, 0.25),
        seed=5,
    ),
    _case(
        "k5-vip6",
        ["vip", "regular", "lapsed", "premium", "new"],
        [0.06, 0.30, 0.30, 0.14, 0.20],
        0.2,
        customers=500,
        seed=6,
    ),
    _case(
        "k5-small5-noise",
        ["regular", "lapsed", "premium", "new", "wholesale"],
        [0.25, 0.30, 0.15, 0.23, 0.05],
        0.25,
        customers=500,
        noise=0.02,
        seed=7,
    ),
    _case(
        "k5-tight",
        ["vip", "lapsed", "premium", "wholesale", "bargain"],
        [0.15, 0.25, 0.2, 0.2, 0.2],
        0.15,
        seed=8,
    ),
    _case(
        "k6-vip5",
        ["vip", "regular", "lapsed", "premium", "new", "bargain"],
        [0.05, 0.2, 0.25, 0.15, 0.2, 0.15],
        0.2,
        customers=600,
        seed=9,
    ),
    _case(
        "k6-noise",
        ["regular", "lapsed", "premium", "new", "wholesale", "bargain"],
        [0.2, 0.2, 0.15, 0.15, 0.15, 0.15],
        0.2,
        customers=600,
        noise=0.03,
        seed=10,
    ),
    _case(
        "k7-all",
        list(TYPES),
        [0.05, 0.2, 0.2, 0.12, 0.18, 0.1, 0.15],
        0.18,
        customers=700,
        seed=11,
    ),
    _case(
        "k7-mixed-noise",
        list(TYPES),
        [0.08, 0.16, 0.18, 0.14, 0.16, 0.12, 0.14],
        (0.15, 0.2, 0.25, 0.2, 0.2, 0.15, 0.2),
        customers=700,
        noise=0.02,
        seed=12,
    ),
)


def _profiles(case: PlantedCase, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per-customer (recency, orders, order value, unit price) and planted label (-1: noise)."""
    n_noise = int(round(case.noise * case.customers))
    counts = np.floor(np.asarray(case.shares) * (case.customers - n_noise)).astype(int)
    counts[np.argmax(case.shares)] += case.customers - n_noise - counts.sum()
    medians, sds, labels = [], [], []
    for t, (name, size, spread) in enumerate(zip(case.types, counts, case.spreads, strict=True)):
        kind = TYPES[name]
        medians.append(np.tile([kind.recency, kind.orders, kind.order_value, kind.unit_price], (size, 1)))
        sds.append(np.full((size, 4), spread))
        labels.append(np.full(size, t))
    # Recency varies half as much: it is often clustered unlogged (its skewness is low), where a
    # log-normal spread around 450 days would stretch the lapsed types into long bands.
    logs = np.log(np.vstack(medians)) + rng.normal(size=(counts.sum(), 4)) * np.vstack(sds) * RECENCY_DAMPING
    all_types = np.log([[k.recency, k.orders, k.order_value, k.unit_price] for k in TYPES.values()])
    noise = rng.uniform(all_types.min(axis=0), all_types.max(axis=0), size=(n_noise, 4))
    values = np.exp(np.vstack([logs, noise]))
    return values, np.concatenate([*labels, np.full(n_noise, -1)])


def write_planted_log(case: PlantedCase, path: Path) -> np.ndarray:
    """Write ``case`` as an Online Retail II CSV at ``path``; return the planted label per customer.

    Customers are numbered ``10000, 10001, ...`` in the order of the returned
    labels (types in ``case.types`` order, then noise as ``-1``); the file lists
    their orders in date order, one line per order. The last order of each
    customer falls ``recency`` days before the log's last day, the others
    uniformly over the rest of the two years.
    """
    rng = np.random.default_rng(case.seed)
    values, labels = _profiles(case, rng)
    recency = np.clip(values[:, 0], 0, SPAN_DAYS - 1)
    orders = np.clip(np.rint(values[:, 1]), 1, 200).astype(int)
    owner = np.repeat(np.arange(len(labels)), orders)
    first = np.r_[0, np.cumsum(orders)[:-1]]
    is_last = np.zeros(len(owner), dtype=bool)
    is_last[first] = True
    days_back = np.where(
        is_last, recency[owner], recency[owner] + rng.uniform(0, 1, len(owner)) * (SPAN_DAYS - recency[owner])
    )
    # One line per order: the order's value at the customer's unit price (a few percent of jitter).
    price = np.round(values[owner, 3] * np.exp(rng.normal(0, 0.03, len(owner))), 2).clip(min=0.01)
    quantity = np.maximum(1, np.rint(values[owner, 2] * np.exp(rng.normal(0, 0.05, len(owner))) / price)).astype(int)
    stamp = pd.Timestamp(END) - pd.to_timedelta(np.floor(days_back), unit="D")
    # The newest customer buys on the last day so that recency is measured from the same snapshot every time.
    stamp = stamp.where(np.arange(len(owner)) != np.argmin(days_back), pd.Timestamp(END))
    frame = pd.DataFrame(
        {
            "Invoice": np.arange(len(owner)) + 500_000,
            "StockCode": [f"2{t % 10}{o % 7}7" for t, o in zip(labels[owner], owner, strict=True)],
            "Description": "PLANTED ITEM",
            "Quantity": quantity,
            "InvoiceDate": stamp.strftime("%Y-%m-%d %H:%M:%S"),
            "Price": price,
            "Customer ID": owner + 10_000,
            "Country": "United Kingdom",
        }
    )
    frame.sort_values(["InvoiceDate", "Invoice"], kind="stable").to_csv(path, index=False, columns=COLUMNS)
    return labels
