"""The private per-customer table and the bundle's segment rows, from one pass over the customers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.clv._schema import ClvSegmentValue
from analysis.clv._value import QUANTITIES, CustomerValue

__all__ = ["PER_CUSTOMER_COLUMNS", "customer_tables"]

PER_CUSTOMER_COLUMNS = (
    "customer_id",
    "segment",
    "frequency",
    "recency",
    "T",
    "monetary_value",
    *(f"{q}{s}" for q in QUANTITIES for s in ("", "_low", "_high")),
)


def customer_tables(
    ids: pd.Index, summaries: dict[str, np.ndarray], seg: pd.Series, value: CustomerValue, segment_ids: list[int]
) -> tuple[pd.DataFrame, list[ClvSegmentValue], ClvSegmentValue]:
    """The private per-customer table, and the segment rows and the total of the bundle.

    Parameters
    ----------
    ids
        Customer ids, in the order of ``summaries`` and ``value``.
    summaries
        ``frequency``, ``recency``, ``T`` and ``monetary_value`` per customer.
    seg
        Each customer's segment id (missing when unsegmented).
    value
        Their value and its gradients.
    segment_ids
        Every segment id; each gets a row, empty ones included.

    Returns
    -------
    tuple
        ``(per_customer, segment rows, all-customers row)``; the table has the
        columns :data:`PER_CUSTOMER_COLUMNS`.
    """
    # Segments by label, not by a (segments x customers) membership matrix; customers outside
    # every named segment form one more group, counted in the total only.
    segment_ids = sorted(segment_ids)
    k, n = len(segment_ids), len(seg)
    groups = pd.Index(segment_ids).get_indexer(seg.to_numpy()) if k else np.full(n, -1)
    groups = np.where(groups < 0, k, groups)
    # One float block, filled in place, so the frame is built without copying 16 columns.
    block = np.empty((16, n))
    for i, name in enumerate(("frequency", "recency", "T", "monetary_value")):
        block[i] = summaries[name]
    _, grouped = value.table(groups, k + 1, out=block[4:])
    frame = pd.DataFrame(block.T, columns=list(PER_CUSTOMER_COLUMNS[2:]), copy=False)
    frame.insert(0, "customer_id", ids.astype(str).array)
    frame.insert(1, "segment", pd.array(seg.to_numpy(), dtype="Int64"))
    counts = np.append(np.bincount(groups, minlength=k + 1), n)
    spend = np.bincount(groups, weights=value.values[2], minlength=k + 1)
    pick = [*range(k), k + 1]
    figures = {row: [v[pick] for v in grouped[row]] for row in grouped}
    figures[2] = [np.append(spend, spend.sum())[pick] / np.clip(counts[pick], 1, None)]
    rows = [_segment_value(sid, int(counts[pick][i]), n, figures, i) for i, sid in enumerate([*segment_ids, None])]
    for row in rows:
        row["share_of_value"] = row["clv"] / rows[-1]["clv"] if rows[-1]["clv"] > 0 else 0.0
    rows = [ClvSegmentValue(**row) for row in rows]
    return frame, rows[:-1], rows[-1]


def _segment_value(sid: int | None, c: int, n: int, figures: dict, i: int) -> dict:
    (ep, ep_lo, ep_hi), (pa, pa_lo, pa_hi), (es,), (clv, clv_lo, clv_hi) = (figures[r] for r in range(4))
    return {
        "segment": sid,
        "customers": c,
        "share_customers": c / n if n else 0.0,
        "expected_purchases": float(ep[i]),
        "expected_purchases_low": float(ep_lo[i]),
        "expected_purchases_high": float(ep_hi[i]),
        "expected_purchases_per_customer": float(ep[i] / c) if c else 0.0,
        "p_alive": float(pa[i]) if c else 0.0,
        "p_alive_low": float(pa_lo[i]) if c else 0.0,
        "p_alive_high": float(pa_hi[i]) if c else 0.0,
        "expected_spend": float(es[i]) if c else 0.0,
        "clv": float(clv[i]),
        "clv_low": float(clv_lo[i]),
        "clv_high": float(clv_hi[i]),
        "clv_per_customer": float(clv[i] / c) if c else 0.0,
    }
