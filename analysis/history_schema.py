"""The bundle's ``history`` and ``migration`` sections: what a refresh knows of the previous ones.

Numbers and codes only; the pages word them. Present only when a run was
given the previous refresh (``--previous DIR`` or the build's history).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "RefitDecision",
    "SegmentMatch",
    "TrendSegment",
    "TrendPoint",
    "HistorySection",
    "Transition",
    "MigrationSection",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RefitDecision(_Model):
    """Whether this refresh refitted the segments or kept the previous model, and why."""

    policy: Literal["auto", "always", "never"]
    refitted: bool
    reason: Literal[
        "policy_always",
        "policy_never",
        "k_changed",
        "segments_moved",
        "segment_collapsed",
        "features_changed",
        "previous_fits",
    ] = Field(description="code: what decided it (see the methodology page for the words)")
    previous_k: int
    chosen_k: int = Field(description="the k the consensus chose on this refresh's data")
    agreement: float | None = Field(
        description="adjusted Rand index between the previous model's and a refit's segments on this data"
    )
    min_agreement: float = Field(description="below this agreement 'auto' refits")
    smallest_previous_share: float | None = Field(
        description="share of this refresh's customers in the smallest segment under the previous model"
    )


class SegmentMatch(_Model):
    """One segment of this refresh and the previous segment it continues (if any)."""

    segment: int = Field(description="this refresh's segment id (kept from the previous one when matched)")
    previous: int | None = Field(description="the previous refresh's segment id it continues; None = new")
    distance: float | None = Field(
        description="distance between the two centres in the previous model's scaled feature space"
    )


class TrendSegment(_Model):
    segment: int
    name: str
    customers: int
    share_customers: float
    revenue: float
    predicted_value: float | None


class TrendPoint(_Model):
    """One refresh's segment sizes and value."""

    snapshot: str = Field(description="ISO snapshot date of that refresh")
    data_sha256: str
    customers: int
    revenue: float
    segments: list[TrendSegment]


class HistorySection(_Model):
    previous_snapshot: str
    decision: RefitDecision
    matches: list[SegmentMatch] = Field(description="one per segment of this refresh, in id order")
    retired: list[int] = Field(description="previous segment ids with no continuation in this refresh")
    max_match_distance: float = Field(description="centres farther apart than this are not the same segment")
    trend: list[TrendPoint] = Field(description="every refresh so far, oldest first, this one last")


class Transition(_Model):
    """Customers who were in ``from`` at the previous refresh and are in ``to`` now."""

    from_: int | None = Field(alias="from", description="previous segment id; None = new since the previous refresh")
    to: int | None = Field(description="current segment id; None = not in this refresh's data")
    customers: int
    revenue: float = Field(description="their spend in this refresh's data")
    predicted_value: float | None = Field(description="their predicted lifetime value now; None without a CLV model")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, serialize_by_alias=True)


class MigrationSection(_Model):
    """Per-customer movement between segments, joined on the keyed pseudonym."""

    previous_snapshot: str
    current_snapshot: str
    previous_customers: int
    current_customers: int
    in_both: int = Field(description="customers present at both refreshes")
    new: int = Field(description="customers first seen since the previous refresh")
    gone: int = Field(description="previous customers absent from this refresh's data")
    moved: int = Field(description="customers in both whose segment changed")
    transitions: list[Transition] = Field(description="every non-empty (from, to) pair, from then to in id order")
