"""Business impact, defined once: what each segment is worth, what is slipping away, what an action could move.

One public verb, :func:`business_impact`; the site's overview and the brief both
rank segments by its numbers, so they tell the same story.

Definitions (with a reliable lifetime-value model, ``basis = "clv"``)
--------------------------------------------------------------------
* **Predicted value**: the segment's discounted expected spend over the
  horizon (the sum of its members' CLV).
* **Value at risk**: what the segment's members would bring over the horizon
  if every one of them were still an active customer, minus what the model
  expects from them. Under BG/NBD a customer's expected purchases factor into
  P(still active) x purchases if active, so a member's value if active is
  ``clv / p_alive`` and the part at risk is ``clv * (1 - p_alive) / p_alive``.
  It is large where many valuable customers have probably stopped buying.
* **Value an action could move**: the minimum detectable lift the test plan
  is sized for (``[experiments] mde``) applied to the value at stake:
  ``mde x (predicted value + value at risk)``; a win-back that brings some
  lapsed customers back moves value at risk, an upsell moves predicted value.

Without a reliable model (``basis = "revenue"``) nothing is predicted: the
value at stake is the revenue the segment brought in the period, and there is
no value at risk. The ranking is by value an action could move, then by id.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SegmentImpact", "ImpactSection", "business_impact"]

_TINY = 1e-9  # below this P(alive), a customer's value if active is not measurable: left out of the risk


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SegmentImpact(_Model):
    segment: int
    customers: int
    predicted_value: float | None = Field(description="sum of the members' CLV; None without a reliable model")
    at_risk_value: float | None = Field(description="what members would add if all were still active")
    at_risk_customers: int | None = Field(description="members whose P(still active) is below one half")
    revenue: float = Field(description="the members' spend in the period")
    movable_value: float = Field(description="mde x the value at stake (see the module docstring)")


class ImpactSection(_Model):
    """The business impact of each segment, and the ranking the overview and the brief share."""

    basis: str = Field(description="'clv' (the lifetime-value model) or 'revenue' (no reliable model)")
    mde: float = Field(description="the relative lift the 'movable' value is computed with")
    horizon_days: float | None = Field(description="the horizon of the predicted value, in days")
    segments: list[SegmentImpact] = Field(description="in segment id order")
    ranking: list[int] = Field(description="segment ids, largest value an action could move first")
    total_predicted_value: float | None
    total_at_risk_value: float | None


def _fsum(values) -> float:
    return round(math.fsum(float(v) for v in values), 2)


def business_impact(
    segments: Sequence[object],
    *,
    labels: np.ndarray,
    customer_ids: np.ndarray,
    revenue: np.ndarray,
    per_customer: pd.DataFrame | None,
    mde: float,
    horizon_days: float | None,
) -> ImpactSection:
    """Each segment's predicted value, value at risk and value an action could move.

    Parameters
    ----------
    segments
        The named segments (anything with ``id``).
    labels, customer_ids, revenue
        Every customer's segment id, id and spend, aligned.
    per_customer
        The lifetime-value model's private table (``customer_id``, ``clv``,
        ``p_alive``), or ``None`` / empty when the model is withheld.
    mde
        The relative lift of the test plans.
    horizon_days
        The CLV horizon in days (``None`` without a model).
    """
    frame = pd.DataFrame({"customer_id": np.asarray(customer_ids).astype(str), "segment": labels, "revenue": revenue})
    basis = "clv" if per_customer is not None and len(per_customer) else "revenue"
    if basis == "clv":
        value = per_customer.set_index("customer_id")[["clv", "p_alive"]]
        frame = frame.join(value, on="customer_id")
        p = frame["p_alive"].to_numpy(dtype="float64")
        clv = frame["clv"].to_numpy(dtype="float64")
        with np.errstate(divide="ignore", invalid="ignore"):
            frame["at_risk"] = np.where(np.isfinite(clv) & (p > _TINY), clv * (1.0 - p) / p, 0.0)
    rows = []
    for seg in sorted(segments, key=lambda s: s.id):
        mine = frame[frame["segment"] == seg.id]
        spend = _fsum(mine["revenue"])
        if basis == "clv":
            predicted, at_risk = _fsum(mine["clv"].fillna(0.0)), _fsum(mine["at_risk"].fillna(0.0))
            lapsing = int((mine["p_alive"] < 0.5).sum())
            movable = round(mde * (predicted + at_risk), 2)
        else:
            predicted = at_risk = lapsing = None
            movable = round(mde * spend, 2)
        rows.append(
            SegmentImpact(
                segment=seg.id,
                customers=len(mine),
                predicted_value=predicted,
                at_risk_value=at_risk,
                at_risk_customers=lapsing,
                revenue=spend,
                movable_value=movable,
            )
        )
    ranking = [r.segment for r in sorted(rows, key=lambda r: (-r.movable_value, r.segment))]
    return ImpactSection(
        basis=basis,
        mde=mde,
        horizon_days=horizon_days if basis == "clv" else None,
        segments=rows,
        ranking=ranking,
        total_predicted_value=_fsum(r.predicted_value for r in rows) if basis == "clv" else None,
        total_at_risk_value=_fsum(r.at_risk_value for r in rows) if basis == "clv" else None,
    )
