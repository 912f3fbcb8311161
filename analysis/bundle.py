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
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from analysis.clv import ClvSection
from analysis.experiments import ExperimentResults, ExperimentsSection
from analysis.history_schema import HistorySection, MigrationSection
from analysis.impact import ImpactSection

__all__ = [
    "SCHEMA_VERSION",
    "Bundle",
    "Source",
    "SheetRows",
    "DataSection",
    "CRITERIA",
    "Candidate",
    "Vote",
    "TallyRow",
    "KSample",
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
# 2.0.0: k_selection carries the criteria's votes, the tally, the sample and reason codes instead of the
#        English `rule` and `rationale` (issues 8, 9, 11); `elbow_k` gave way to the elbow's vote. Fields were
#        removed and `candidates` gained required ones, so readers of 1.x bundles must change: a major bump.
SCHEMA_VERSION = "2.0.0"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SheetRows(_Model):
    name: str = Field(description="sheet name as in the workbook")
    rows: int = Field(description="data rows read from the sheet (0 for an empty sheet)")


class Source(_Model):
    name: str = Field(description="file name of the input (no directory)")
    sha256: str = Field(description="SHA-256 of the input file's bytes")
    format: str = Field(description="csv, csv.gz, parquet or xlsx")
    shape: str = Field(description="recognised layout, e.g. online_retail_ii, cdnow, custom")
    level: str = Field(description="'transactions' or 'customers' (pre-aggregated input)")
    encoding: str | None = Field(default=None, description="text encoding a CSV was read with (Python codec name)")
    sheets: list[SheetRows] | None = Field(
        default=None,
        description="for a workbook: every sheet in order with its data rows; they add up to data.rows_in",
    )


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
    dropped: dict[str, int] = Field(
        description="rows dropped, by reason code in evaluation order; every reason listed, zeros included "
        "(the pages word each code)"
    )
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


CRITERIA = ("silhouette", "calinski_harabasz", "davies_bouldin", "gap", "elbow")
"""The criteria that vote for k, in the order they are listed in a :class:`KSelection`."""


class Candidate(_Model):
    k: int
    inertia: float = Field(description="within-segment sum of squares on the scaled features (of the sample)")
    silhouette: float
    calinski_harabasz: float
    davies_bouldin: float
    gap: float = Field(description="gap statistic: mean log inertia of the reference sets minus log inertia")
    gap_sd: float = Field(description="s_k: standard deviation of the reference log inertias times sqrt(1 + 1/B)")
    elbow: float | None = Field(
        description=(
            "log(W[k-1] / W[k]) / log(W[k] / W[k+1]) for inertia W: how much more the last segment added than "
            "the next one would; None at k_max and for a fixed k outside the range"
        )
    )
    stability: float = Field(description="mean adjusted Rand index between the fit and refits on subsamples")
    min_share: float = Field(description="share of customers in the smallest cluster")
    admissible: bool = Field(description="stability and smallest share both meet their thresholds")


class Vote(_Model):
    criterion: Literal["silhouette", "calinski_harabasz", "davies_bouldin", "gap", "elbow"]
    k: int | None = Field(description="the k this criterion votes for; None when it abstains")
    abstained: Literal["gap_rule_not_met", "no_elbow"] | None = Field(
        default=None, description="why the criterion did not vote"
    )


class TallyRow(_Model):
    k: int
    votes: int
    criteria: list[str] = Field(description="the criteria that voted for this k")


class KSample(_Model):
    customers: int = Field(description="customers in the data")
    size: int = Field(description="customers k was chosen on")
    method: Literal["all", "stratified"]
    bins: int | None = Field(description="quantile bins per feature of the stratification grid")
    cells: int | None = Field(description="non-empty cells of the stratification grid")


class KSelection(_Model):
    candidates: list[Candidate] = Field(description="every k scored, sorted by k (a fixed k may lie outside the range)")
    k_min: int
    k_max: int
    sample: KSample
    gap_references: int = Field(description="B, the number of uniform reference sets of the gap statistic")
    base_inertia: float = Field(
        description="inertia at k_min - 1 (the total sum of squares when k_min = 2), for the elbow score at k_min"
    )
    min_stability: float = Field(description="admissibility threshold on stability")
    min_share: float = Field(description="admissibility threshold on the smallest segment's share")
    admissible: list[int] = Field(description="admissible k in [k_min, k_max]")
    fallback: Literal["no_admissible_k"] | None = Field(
        description="'no_admissible_k': nothing was admissible, so every k in the range took part in the vote"
    )
    votes: list[Vote] = Field(description="one per criterion, in a fixed order")
    tally: list[TallyRow] = Field(description="k that received votes, most votes first, then smaller k")
    decision: Literal["most_votes", "tie_smaller_k"] = Field(
        description="'tie_smaller_k': several k shared the most votes and the smallest was taken"
    )
    rule_k: int = Field(description="the k the rule chose")
    chosen_k: int = Field(description="the k used: rule_k, unless fixed by --k or config")
    overridden: bool = Field(description="true when k was fixed by --k or config")

    def vote(self, criterion: str) -> int | None:
        """The k ``criterion`` voted for (``None`` when it abstained or is unknown)."""
        return next((v.k for v in self.votes if v.criterion == criterion), None)


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
    """One playbook action, as templates over the segment's ``values`` (filled by the renderer)."""

    action: str = Field(description="what to do (playbook template)")
    why: str = Field(description="the reason, citing the segment's own numbers (playbook template)")
    kpi: str = Field(description="what to watch (playbook template)")


class Segment(_Model):
    id: int = Field(description="1-based, ordered by descending mean spend; stable across runs")
    persona: str = Field(description="playbook persona key the name and actions come from")
    name: str
    description: str = Field(description="playbook template over 'values' (filled by the renderer)")
    values: dict[str, float] = Field(
        default_factory=dict,
        description="what the playbook templates may cite: size, share_customers, revenue, share_revenue and "
        "mean_/median_/z_/pct_<feature>",
    )
    size: int
    share_customers: float
    revenue: float
    share_revenue: float
    outlier: bool = Field(description="true when the segment holds less than cluster.min_share of customers")
    outlier_feature: str | None = Field(
        default=None, description="for an outlier: the clustering feature that sets it apart most"
    )
    outlier_ratio: float | None = Field(
        default=None, description="for an outlier: its mean of outlier_feature divided by the whole base's mean"
    )
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


class RfmRuleRanges(_Model):
    """A rule's inclusive score ranges; a missing key places no condition."""

    r: tuple[int, int] | None = None
    f: tuple[int, int] | None = None
    m: tuple[int, int] | None = None
    fm: tuple[int, int] | None = Field(default=None, description="floor((F + M) / 2)")


class RfmSegment(_Model):
    name: str
    description: str = Field(description="the rules table's description (user text)")
    rule: RfmRuleRanges | None = Field(description="the segment's score ranges; None for the fallback")
    shadowed: bool = Field(description="some cells matching this rule are taken by an earlier rule")
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
    impact: ImpactSection | None = Field(
        default=None, description="predicted value, value at risk and value an action could move, per segment"
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
