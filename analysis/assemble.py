"""The one place where a run's stage results become its outputs: bundle, saved model, private export.

``bundle_of`` -> ``bundle.json`` (aggregates and pseudonyms only, published),
``model_of`` -> ``model.json`` (private: what assigns a customer),
``export_of`` -> ``assignments.csv`` (private: raw ids, for CRM use).
"""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from analysis._align import join_by_id
from analysis.bundle import Bundle, DataSection, DateRange, FeaturesSection, Returns
from analysis.fingerprint import code_version, sha256_file, sha256_json
from analysis.history_schema import HistorySection, TrendPoint, TrendSegment
from analysis.impact import ImpactSection, business_impact
from analysis.model import (
    ClvModel,
    FeaturesModel,
    FeatureSpec,
    Fingerprint,
    InputModel,
    RfmModel,
    SegmentEntry,
    SegmentModel,
)
from analysis.naming import DEFAULT_PLAYBOOK
from analysis.privacy import key_check
from analysis.stages import RunStages

__all__ = ["bundle_of", "model_of", "export_of", "public_config"]

_VERSIONED = ("segmentation", "duckdb", "pandas", "numpy", "scipy", "scikit-learn", "statsmodels", "pydantic")


def _versions() -> dict[str, str]:
    out = {"name": "segmentation", "python": platform.python_version()}
    for dist in _VERSIONED:
        try:
            out[dist if dist != "segmentation" else "version"] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def public_config(stages: RunStages) -> dict:
    """The run configuration as published: the pseudonym key never appears."""
    dumped = stages.config.model_dump(mode="json")
    if dumped["privacy"].get("key"):
        dumped["privacy"]["key"] = "(set, not shown)"
    return dumped


def _data_section(s: RunStages) -> DataSection:
    table, cleaned, customers = s.table, s.cleaned, s.customers
    return DataSection(
        source=s.loaded.source,
        engine=s.loaded.engine.name,
        rows_in=cleaned.rows_in,
        rows_kept=cleaned.rows_kept,
        dropped=cleaned.dropped,
        customers=len(customers),
        orders=table.order_count,
        revenue=round(float(customers["monetary"].sum()), 2),
        currency=s.currency,
        snapshot_date=None if table.snapshot_date is None else table.snapshot_date.isoformat(),
        date_range=DateRange(
            first=None if table.first_date is None else table.first_date.isoformat(),
            last=None if table.last_date is None else table.last_date.isoformat(),
        ),
        returns=None
        if s.loaded.level == "customers"
        else Returns(
            rows=cleaned.returns_rows, value=round(cleaned.returns_value, 2), customers=cleaned.returns_customers
        ),
        countries=int(customers["country"].nunique()) if customers["country"].notna().any() else None,
    )


def _features_section(s: RunStages) -> FeaturesSection:
    f = s.features
    return FeaturesSection(
        columns=list(f.columns),
        log1p=list(f.log1p),
        scaler=f.scaler,
        winsorize=None if f.winsorize is None else [float(q) for q in f.winsorize],
        skewness={c: round(float(v), 6) for c, v in f.skewness.items()},
    )


def bundle_of(s: RunStages) -> Bundle:
    """The published bundle of a run."""
    segments = [seg.model_copy(update={"rfm_mix": s.rfm.mix.get(seg.id, {})}) for seg in s.segments]
    return Bundle(
        generator=_versions(),
        data=_data_section(s),
        config=public_config(s),
        features=_features_section(s),
        k_selection=s.selection,
        segments=segments,
        projection=s.projection,
        rfm=s.rfm.section,
        clv=None if s.clv is None else s.clv.section,
        experiments=None if s.experiments is None else s.experiments.section,
        experiment_results=s.results,
        impact=_impact(s, segments),
        history=_history(s, segments),
        migration=s.migration,
    )


def _impact(s: RunStages, segments) -> ImpactSection:
    reliable = s.clv is not None and s.clv.section.reliable
    return business_impact(
        segments,
        labels=s.segmentation.labels,
        customer_ids=s.customers["customer_id"].to_numpy(),
        revenue=s.customers["monetary"].to_numpy(dtype="float64"),
        per_customer=s.clv.per_customer if reliable else None,
        mde=s.config.experiments.mde,
        horizon_days=s.clv.section.horizon_days if reliable else None,
    )


def _trend_point(s: RunStages, segments) -> TrendPoint:
    values = {}
    if s.clv is not None and s.clv.section.reliable and s.clv.section.segments:
        values = {row.segment: row.clv for row in s.clv.section.segments}
    return TrendPoint(
        snapshot="" if s.table.snapshot_date is None else s.table.snapshot_date.isoformat(),
        data_sha256=s.loaded.source.sha256,
        customers=len(s.customers),
        revenue=round(float(s.customers["monetary"].sum()), 2),
        segments=[
            TrendSegment(
                segment=seg.id,
                name=seg.name,
                customers=seg.size,
                share_customers=seg.share_customers,
                revenue=seg.revenue,
                predicted_value=values.get(seg.id),
            )
            for seg in segments
        ],
    )


def _history(s: RunStages, segments) -> HistorySection | None:
    if s.previous is None or s.continuity is None:
        return None
    c = s.continuity
    earlier = [p for p in s.previous.trend if p.snapshot != _trend_point(s, segments).snapshot]
    return HistorySection(
        previous_snapshot=s.previous.snapshot,
        decision=c.decision,
        matches=c.matches,
        retired=c.retired,
        max_match_distance=s.config.history.max_match_distance,
        trend=[*earlier, _trend_point(s, segments)],
    )


def _fingerprint(s: RunStages) -> Fingerprint:
    playbook = Path(s.config.naming.playbook) if s.config.naming.playbook is not None else DEFAULT_PLAYBOOK
    return Fingerprint(
        data_sha256=s.loaded.source.sha256,
        config_sha256=sha256_json(public_config(s)),
        playbook_sha256=sha256_file(playbook),
        rfm_rules_sha256=s.rfm.rules_sha256,
        code_version=code_version(),
        key_check=key_check(s.key),
    )


def _clv_model(s: RunStages) -> ClvModel | None:
    section = None if s.clv is None else s.clv.section
    if section is None or not section.reliable or not section.forecast_params:
        return None
    return ClvModel(
        time_unit=section.time_unit,
        unit_days=section.time_unit_days,
        params=dict(section.forecast_params),
        horizon=section.horizon,
        annual_discount_rate=section.annual_discount_rate,
    )


def model_of(s: RunStages) -> SegmentModel:
    """The saved segment model of a run (see :mod:`analysis.model`)."""
    t = s.features.transform
    specs = [
        FeatureSpec(
            name=name,
            winsorize=None if t.bounds is None else t.bounds[j],
            log1p=t.log1p[j],
            center=t.center[j],
            scale=t.scale[j],
        )
        for j, name in enumerate(t.columns)
    ]
    return SegmentModel(
        fingerprint=_fingerprint(s),
        snapshot_date=None if s.table.snapshot_date is None else s.table.snapshot_date.isoformat(),
        input=InputModel(
            shape=s.loaded.source.shape,
            level=s.loaded.level,
            roles=dict(s.loaded.roles),
            date_format=s.cleaned.date_format,
            cleaning=s.config.cleaning.model_dump(mode="json"),
            currency=s.currency,
            columns=list(s.loaded.columns_found),
            date_bounds=_date_bounds(s),
        ),
        features=FeaturesModel(scaler=t.scaler, transforms=specs),
        clusters=s.segmentation.clusters,
        segments=[SegmentEntry(id=seg.id, persona=seg.persona, name=seg.name) for seg in s.segments],
        rfm=RfmModel(bins=s.config.rfm.bins, rules_sha256=s.rfm.rules_sha256, edges=s.rfm.edges, cells=s.rfm.cells),
        clv=_clv_model(s),
        retired=_retired(s),
    )


def _date_bounds(s: RunStages) -> tuple[str | None, str | None] | None:
    """The implausible-date bounds the cleaning used, as ISO text, so the stream applies the very same ones."""
    bounds = s.cleaned.date_bounds
    if s.loaded.level != "transactions" or bounds is None:
        return None
    return tuple(None if side is None else side.isoformat(sep=" ") for side in bounds)


def _retired(s: RunStages) -> list[SegmentEntry]:
    if s.previous is None or s.continuity is None:
        return []
    earlier = list(s.previous.model.retired)
    now = {e.id: e for e in s.previous.model.segments}
    return earlier + [now[i] for i in s.continuity.retired if i in now]


def export_of(s: RunStages) -> pd.DataFrame:
    """The private per-customer export: raw id, pseudonym, segment, RFM, features, arm and CLV."""
    customers, scored, labels = s.customers, s.rfm.scored, s.segmentation.labels
    names = {seg.id: seg.name for seg in s.segments}
    out = pd.DataFrame(
        {
            "customer_id": customers["customer_id"].astype(str).to_numpy(),
            "pseudonym": s.pseudonyms,
            "segment": labels.astype(np.int64),
            "segment_name": [names[int(i)] for i in labels],
            "rfm_segment": scored["rfm_segment"].to_numpy(),
            "rfm_cell": scored["rfm_cell"].to_numpy(),
        }
    )
    for col in s.features.columns:
        out[col] = customers[col].to_numpy()
    if s.experiments is not None:
        arms = s.experiments.assignments.set_index("customer_id")["arm"]
        out["arm"] = out["customer_id"].map(arms).to_numpy()
    per_customer = None if s.clv is None else s.clv.per_customer
    if per_customer is not None and len(per_customer):
        value = per_customer.drop(columns=["segment"], errors="ignore").add_prefix("clv_")
        renamed = {"clv_customer_id": "customer_id", "clv_clv": "clv", "clv_clv_low": "clv_low"}
        value = value.rename(columns={**renamed, "clv_clv_high": "clv_high"})
        out = join_by_id(out, value, how="left")
    return out
