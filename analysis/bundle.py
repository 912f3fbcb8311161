"""The versioned JSON bundle: the one contract between analysis and rendering.

Everything downstream (site pages, the PDF brief, publishing) reads only this.
It holds aggregates and keyed pseudonyms, never a raw customer identifier, and
no wall-clock time, so the same data and config give the same bytes.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from analysis.clv import ClvSection
from analysis.experiments import ExperimentResults, ExperimentsSection
from analysis.history_schema import HistorySection, MigrationSection

__all__ = [
    "SCHEMA_VERSION",
    "Bundle",
    "Source",
    "DataSection",
    "Candidate",
    "KSelection",
    "BoxStats",
    "FeatureProfile",
    "Recommendation",
    "Segment",
    "FeaturesSection",
    "Projection",
    "RfmSegment",
    "RfmCell",
    "RfmSection",
    "write_bundle",
    "bundle_bytes",
    "bundle_json_schema",
]

# 1.1.0: optional clv, experiments and experiment_results sections (issue 4).
SCHEMA_VERSION = "1.1.0"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Model):
    name: str = Field(description="file name of the input (no directory)")
    sha256: str = Field(description="SHA-256 of the input file's bytes")
    format: str = Field(description="csv, csv.gz or parquet")
    shape: str = Field(description="recognised layout, e.g. online_retail_ii, cdnow, custom")
    level: str = Field(description="'transactions' or 'customers' (pre-aggregated input)")


class DateRange(_Model):
    first: str | None
    last: str | None


class Returns(_Model):
    rows: int = Field(description="cancellation / negative-quantity rows seen among identified customers")
    value: float = Field(description="their absolute value in the data's currency")
    customers: int = Field(description="customers with at least one return")


class DataSection(_Model):
    source: Source
    rows_in: int
    rows_kept: int
    dropped: dict[str, int] = Field(description="rows dropped, by reason; every reason listed, zeros included")
    reasons: dict[str, str] = Field(description="plain-language meaning of each drop reason")
    customers: int
    orders: int | None
    revenue: float
    currency: str | None = Field(default=None, description="ISO 4217 code of every amount; None when unknown")
    snapshot_date: str | None = Field(description="ISO date recency is measured against")
    date_range: DateRange
    returns: Returns | None
    countries: int | None


class FeaturesSection(_Model):
    columns: list[str]
    log1p: list[str]
    scaler: str
    winsorize: list[float] | None
    skewness: dict[str, float] = Field(description="skewness of each raw feature before transforming")


class Candidate(_Model):
    k: int
    inertia: float
    silhouette: float
    calinski_harabasz: float
    davies_bouldin: float
    stability: float = Field(description="mean adjusted Rand index over bootstrap resamples")
    min_share: float = Field(description="share of customers in the smallest cluster")


class KSelection(_Model):
    candidates: list[Candidate]
    elbow_k: int | None
    chosen_k: int
    overridden: bool = Field(description="true when k was fixed by --k or config")
    rule: str = Field(description="the documented selection rule")
    rationale: str = Field(description="why this k, in words, citing the numbers")


class BoxStats(_Model):
    min: float
    q1: float
    median: float
    q3: float
    max: float
    whisker_low: float
    whisker_high: float
    mean: float


class FeatureProfile(_Model):
    mean: float
    median: float
    z: float = Field(description="(segment mean - base mean) / base std, on the raw feature")
    box: BoxStats


class Recommendation(_Model):
    action: str
    why: str = Field(description="the reason, citing the segment's own numbers")
    kpi: str


class Segment(_Model):
    id: int = Field(description="1-based, ordered by descending mean spend; stable across runs")
    persona: str = Field(description="playbook persona key the name and actions come from")
    name: str
    description: str
    size: int
    share_customers: float
    revenue: float
    share_revenue: float
    outlier: bool
    outlier_reason: str | None
    profile: dict[str, FeatureProfile]
    recommendations: list[Recommendation]
    rfm_mix: dict[str, int] = Field(default_factory=dict, description="members per classic RFM segment")


class ProjectionPoint(_Model):
    x: float
    y: float
    segment: int


class Projection(_Model):
    method: str
    explained_variance: list[float]
    points: list[ProjectionPoint]
    centroids: list[ProjectionPoint]


class RfmSegment(_Model):
    name: str
    description: str
    rule: str
    size: int
    share_customers: float
    revenue: float
    share_revenue: float
    mean_recency: float | None
    mean_frequency: float | None
    mean_monetary: float | None


class RfmCell(_Model):
    r: int
    f: int
    customers: int
    segment: str = Field(description="most common RFM segment in this (R, F) cell")


class RfmSection(_Model):
    segments: list[RfmSegment]
    grid: list[RfmCell]
    crosstab: dict[str, dict[str, int]] = Field(description="{rfm segment: {cluster segment id: customers}}")


class Bundle(_Model):
    schema_version: str = SCHEMA_VERSION
    generator: dict[str, str]
    data: DataSection
    config: dict[str, Any]
    features: FeaturesSection
    k_selection: KSelection
    segments: list[Segment]
    projection: Projection
    rfm: RfmSection
    clv: ClvSection | None = Field(
        default=None, description="customer lifetime value; absent for customer-level input or when disabled"
    )
    experiments: ExperimentsSection | None = Field(
        default=None, description="one A/B test design per segment; absent for customer-level input"
    )
    experiment_results: ExperimentResults | None = Field(
        default=None, description="lift per segment read from a results file, when one is given"
    )
    history: HistorySection | None = Field(
        default=None, description="refit decision, segment continuity and the trend; present after a previous refresh"
    )
    migration: MigrationSection | None = Field(
        default=None, description="customers moving between segments since the previous refresh"
    )


def bundle_json_schema() -> dict[str, Any]:
    """Return the JSON Schema of :class:`Bundle` (what ``schemas/bundle.schema.json`` holds)."""
    schema = Bundle.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"segmentation-bundle-{SCHEMA_VERSION}"
    return schema


def bundle_bytes(bundle: Bundle) -> bytes:
    """The bundle as UTF-8 JSON bytes (same bundle, same bytes)."""
    payload = bundle.model_dump(mode="json")
    return (json.dumps(payload, indent=2, sort_keys=False, ensure_ascii=False, allow_nan=False) + "\n").encode()


def write_bundle(bundle: Bundle, out_dir: Path) -> Path:
    """Write ``out_dir/bundle.json`` atomically and return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "bundle.json"
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".bundle-", suffix=".json")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(bundle_bytes(bundle))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
