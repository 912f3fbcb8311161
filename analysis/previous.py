"""Read the previous refresh: its saved model, who was in which segment, and its trend so far.

A previous refresh is a directory holding ``model.json`` and either
``segments.csv`` (``pseudonym, segment``: what the build's history keeps, no
raw ids) or ``assignments.csv`` (a run's own private export), plus
``bundle.json`` for the trend. Files are read here, at the edge; the compute
stages get the parsed objects.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError

from analysis.errors import ModelError
from analysis.history_schema import TrendPoint, TrendSegment
from analysis.model import SegmentModel, load_model

__all__ = ["PreviousRun", "read_previous"]


@dataclass(frozen=True)
class PreviousRun:
    """The previous refresh as the next one needs it.

    Attributes
    ----------
    path
        Where it was read from.
    model
        Its saved segment model.
    segment_of
        ``pseudonym -> segment id`` of every customer it segmented.
    trend
        Its trend points (every refresh up to and including it), oldest first.
    """

    path: Path
    model: SegmentModel
    segment_of: pd.Series
    trend: tuple[TrendPoint, ...]

    @property
    def snapshot(self) -> str:
        return self.model.snapshot_date or self.trend[-1].snapshot


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Seg(_Loose):
    id: int
    name: str
    size: int
    share_customers: float
    revenue: float


class _ClvRow(_Loose):
    segment: int | None
    clv: float


class _Clv(_Loose):
    reliable: bool = False
    segments: list[_ClvRow] | None = None


class _Data(_Loose):
    customers: int
    revenue: float
    snapshot_date: str | None
    source: dict


class _History(_Loose):
    trend: list[TrendPoint]


class _Summary(_Loose):
    """Just what the trend needs from a bundle, so bundles of older schema versions still read."""

    data: _Data
    segments: list[_Seg]
    clv: _Clv | None = None
    history: _History | None = None


def _own_point(summary: _Summary) -> TrendPoint:
    values = {}
    if summary.clv is not None and summary.clv.reliable and summary.clv.segments:
        values = {row.segment: row.clv for row in summary.clv.segments}
    return TrendPoint(
        snapshot=summary.data.snapshot_date or "",
        data_sha256=str(summary.data.source.get("sha256", "")),
        customers=summary.data.customers,
        revenue=summary.data.revenue,
        segments=[
            TrendSegment(
                segment=s.id,
                name=s.name,
                customers=s.size,
                share_customers=s.share_customers,
                revenue=s.revenue,
                predicted_value=values.get(s.id),
            )
            for s in sorted(summary.segments, key=lambda s: s.id)
        ],
    )


def _trend(path: Path) -> tuple[TrendPoint, ...]:
    try:
        summary = _Summary.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise ModelError(f"{path}: the previous refresh has no bundle.json.") from None
    except (OSError, ValueError, ValidationError) as exc:
        first = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        raise ModelError(f"{path}: not a readable bundle of a previous refresh ({first}).") from None
    earlier = [] if summary.history is None else list(summary.history.trend)
    if earlier and earlier[-1].snapshot == summary.data.snapshot_date:
        return tuple(earlier)
    return (*earlier, _own_point(summary))


def _segment_of(directory: Path) -> pd.Series:
    for name in ("segments.csv", "assignments.csv"):
        path = directory / name
        if path.is_file():
            break
    else:
        raise ModelError(f"{directory}: the previous refresh has neither segments.csv nor assignments.csv.")
    try:
        frame = pd.read_csv(path, usecols=["pseudonym", "segment"], dtype={"pseudonym": str})
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise ModelError(f"{path}: cannot read the previous segments (columns pseudonym, segment): {exc}.") from None
    if frame["pseudonym"].isna().any() or frame["pseudonym"].duplicated().any():
        raise ModelError(f"{path}: every pseudonym must appear once, with a segment.")
    return pd.Series(frame["segment"].astype("int64").to_numpy(), index=frame["pseudonym"].to_numpy(), name="segment")


def read_previous(directory: Path | str) -> PreviousRun:
    """Read a previous refresh's directory.

    Raises
    ------
    ModelError
        The directory or one of its files is missing or unreadable (one line, naming it).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ModelError(f"{directory}: --previous must be the directory of a previous run (it does not exist).")
    model = load_model(directory / "model.json")
    segment_of = _segment_of(directory)
    unknown = sorted(set(segment_of.unique().tolist()) - set(model.clusters.segment_ids))
    if unknown:
        raise ModelError(
            f"{directory}: segments {unknown} in the previous assignments are not in its model.json; "
            "the two files come from different runs."
        )
    return PreviousRun(path=directory, model=model, segment_of=segment_of, trend=_trend(directory / "bundle.json"))
