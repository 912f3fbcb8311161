"""A realistic, hand-made :class:`analysis.bundle.Bundle` for the brief and build tests.

The numbers are shaped like a run on the Online Retail II sample (four segments,
pounds sterling) but are invented: tests read them back from the bundle instead
of hard-coding expected output.
"""

from __future__ import annotations

from pathlib import Path

from _kselection import hand_made_selection

from analysis.bundle import (
    BoxStats,
    Bundle,
    DataSection,
    FeatureProfile,
    FeaturesSection,
    Projection,
    ProjectionPoint,
    Recommendation,
    RfmCell,
    RfmSection,
    RfmSegment,
    Segment,
    Source,
    write_bundle,
)

__all__ = ["make_bundle", "make_clv_section", "make_experiments_section", "write_sample_bundle"]

_SEGMENTS = (
    # name, persona, size, revenue, mean recency, mean frequency, mean monetary
    ("Loyal Wholesalers", "champions", 412, 1_480_250.40, 18.0, 21.4, 3592.8),
    ("Regular Gift Buyers", "loyal", 1_105, 905_114.75, 41.0, 6.2, 819.1),
    ("Lapsing Occasionals", "at_risk", 1_380, 402_377.10, 165.0, 2.3, 291.6),
    ("One-off Visitors", "hibernating", 1_503, 211_903.55, 262.0, 1.1, 141.0),
)

_RECOMMENDATIONS = {
    "champions": [
        (
            "Offer a named account manager and early access to new ranges",
            "mean spend {m} over {f} orders",
            "repeat-order rate",
        ),
        ("Invite to a volume-tier price list", "they bring {sr} of revenue", "average order value"),
    ],
    "loyal": [
        (
            "Cross-sell seasonal bundles before peak weeks",
            "{f} orders on average",
            "items per order",
        ),
    ],
    "at_risk": [
        (
            "Send a win-back voucher within 30 days",
            "last order {r} days ago on average",
            "reactivation within 60 days",
        ),
    ],
    "hibernating": [
        (
            "Move to a low-cost quarterly newsletter",
            "a single order of {m} on average",
            "cost per reactivated customer",
        ),
    ],
}


def _box(mean: float) -> BoxStats:
    return BoxStats(
        min=0.1 * mean,
        q1=0.5 * mean,
        median=0.8 * mean,
        q3=1.2 * mean,
        max=4.0 * mean,
        whisker_low=0.1 * mean,
        whisker_high=2.0 * mean,
        mean=mean,
    )


def _profile(value: float, base: float) -> FeatureProfile:
    return FeatureProfile(mean=value, median=0.8 * value, z=(value - base) / base, box=_box(value))


def make_bundle(
    *,
    names: tuple[str, ...] | None = None,
    actions: tuple[str, ...] | None = None,
    source_name: str = "online_retail_II_sample.csv.gz",
) -> Bundle:
    """Return a four-segment bundle; ``names``/``actions`` override names and first actions."""
    customers = sum(s[2] for s in _SEGMENTS)
    revenue = round(sum(s[3] for s in _SEGMENTS), 2)
    base = {"recency": 120.0, "frequency": 5.0, "monetary": 700.0}
    segments = []
    for i, (name, persona, size, rev, rec, freq, mon) in enumerate(_SEGMENTS):
        recs = []
        for j, (action, why, kpi) in enumerate(_RECOMMENDATIONS[persona]):
            if actions is not None and j == 0:
                action = actions[i]
            recs.append(
                Recommendation(
                    action=action,
                    why=why.format(m=f"£{mon:,.0f}", f=f"{freq:.1f}", r=f"{rec:.0f}", sr=f"{rev / revenue:.0%}"),
                    kpi=kpi,
                )
            )
        segments.append(
            Segment(
                id=i + 1,
                persona=persona,
                name=names[i] if names is not None else name,
                description=f"Mean spend £{mon:,.0f}, last order {rec:.0f} days ago",
                size=size,
                share_customers=size / customers,
                revenue=rev,
                share_revenue=rev / revenue,
                outlier=False,
                profile={
                    "recency": _profile(rec, base["recency"]),
                    "frequency": _profile(freq, base["frequency"]),
                    "monetary": _profile(mon, base["monetary"]),
                },
                recommendations=recs,
                rfm_mix={"Champions": size // 3, "At Risk": size // 4},
            )
        )
    return Bundle(
        generator={"segmentation": "0.1.0", "python": "3.11"},
        data=DataSection(
            source=Source(
                name=source_name,
                sha256="0" * 64,
                format="csv.gz",
                shape="online_retail_ii",
                level="transactions",
            ),
            rows_in=250_000,
            rows_kept=231_442,
            dropped={"no_customer": 15_000, "cancelled": 3_558},
            customers=customers,
            orders=17_820,
            revenue=revenue,
            currency="GBP",
            snapshot_date="2011-12-10",
            date_range={"first": "2009-12-01", "last": "2011-12-09"},
            returns=None,
            countries=37,
        ),
        config={"cluster": {"method": "kmeans", "k": None}},
        features=FeaturesSection(
            columns=["recency", "frequency", "monetary"],
            log1p=["frequency", "monetary"],
            scaler="standard",
            winsorize=None,
            skewness={"recency": 1.2, "frequency": 9.1, "monetary": 20.3},
        ),
        k_selection=hand_made_selection(4, k_max=8),
        segments=segments,
        projection=Projection(
            method="pca",
            explained_variance=[0.6, 0.3],
            points=[
                ProjectionPoint(x=i * 0.5 - j, y=j * 0.7 - i * 0.1, segment=i + 1)
                for i in range(len(segments))
                for j in range(3)
            ],
            centroids=[ProjectionPoint(x=i * 0.5 - 1, y=0.7 - i * 0.1, segment=i + 1) for i in range(len(segments))],
        ),
        rfm=RfmSection(
            segments=[
                RfmSegment(
                    name="Champions",
                    description="bought recently, often",
                    rule={"r": (4, 5), "f": (4, 5)},
                    shadowed=False,
                    size=900,
                    share_customers=900 / customers,
                    revenue=1_600_000.0,
                    share_revenue=1_600_000.0 / revenue,
                    mean_recency=15.0,
                    mean_frequency=14.0,
                    mean_monetary=1800.0,
                )
            ],
            grid=[RfmCell(r=5, f=5, customers=600, segment="Champions")],
            crosstab={"Champions": {"1": 400, "2": 500}},
        ),
    )


def write_sample_bundle(out_dir: Path, **kwargs) -> Path:
    """Write :func:`make_bundle` to ``out_dir/bundle.json`` and return the path."""
    return write_bundle(make_bundle(**kwargs), out_dir)


def make_clv_section(bundle: Bundle, *, reliable: bool = True):
    """A validated ``ClvSection`` for ``bundle``'s segments (value proportional to revenue)."""
    from analysis.clv._schema import ClvSection, ClvSegmentValue

    def row(seg_id, customers, value, share):
        return ClvSegmentValue(
            segment=seg_id,
            customers=customers,
            share_customers=customers / bundle.data.customers,
            expected_purchases=2.0 * customers,
            expected_purchases_low=1.5 * customers,
            expected_purchases_high=2.5 * customers,
            expected_purchases_per_customer=2.0,
            p_alive=0.7,
            p_alive_low=0.6,
            p_alive_high=0.8,
            expected_spend=300.0,
            clv=value,
            clv_low=0.8 * value,
            clv_high=1.2 * value,
            clv_per_customer=value / customers,
            share_of_value=share,
        )

    total_value = 0.9 * bundle.data.revenue
    rows = [row(s.id, s.size, 0.9 * s.revenue, s.share_revenue) for s in bundle.segments]
    return ClvSection(
        reliable=reliable,
        headline=None if reliable else "too_few_repeat_buyers",
        withheld=[] if reliable else [{"code": "too_few_repeat_buyers", "value": 40, "needed": 100}],
        time_unit="week",
        time_unit_days=7.0,
        horizon=52.0,
        horizon_days=364.0,
        annual_discount_rate=0.1,
        interval_level=0.9,
        observation_start="2010-12-01",
        observation_end="2011-12-09",
        calibration_end="2011-06-30",
        max_spend_frequency_correlation=0.3,
        customers=bundle.data.customers,
        repeat_buyers=3000,
        calibration_repeat_buyers=2500,
        customers_without_segment=0,
        zero_spend_repeat_buyers=0,
        params=None,
        standard_errors=None,
        log_likelihood=None,
        forecast_params=None,
        forecast_standard_errors=None,
        forecast_period=None,
        spend_frequency_correlation=None,
        population_mean_spend=None,
        segments=rows if reliable else None,
        total=row(None, bundle.data.customers, total_value, 1.0) if reliable else None,
        validation=None,
    )


def make_experiments_section(bundle: Bundle):
    """A validated ``ExperimentsSection``: the smallest segment too small to test."""
    from analysis.experiments._schema import ExperimentDesign, ExperimentsSection

    smallest = min(bundle.segments, key=lambda s: (s.size, s.id)).id
    designs = []
    for s in bundle.segments:
        small = s.id == smallest
        designs.append(
            ExperimentDesign(
                segment=s.id,
                persona=s.persona,
                action=s.recommendations[0].action if s.recommendations else None,
                customers=s.size,
                baseline_customers=s.size,
                baseline_source="history",
                metric="conversion",
                metric_switch=None,
                baseline_issue=None,
                absolute=False,
                verdict="too_small" if small else "testable",
                testable=not small,
                conversion_baseline=0.3,
                baseline=0.3,
                baseline_sd=None,
                target=0.33,
                effect_size=0.06,
                required_treatment=800,
                required_control=800,
                required_total=1600,
                assigned_treatment=s.size // 2,
                assigned_control=s.size - s.size // 2,
                min_detectable_effect=0.25 if small else 0.1,
                min_detectable_target=0.375 if small else 0.33,
                min_detectable_difference=0.075 if small else 0.03,
            )
        )
    return ExperimentsSection(
        metric="conversion",
        window_days=90,
        mde=0.1,
        alpha=0.05,
        power=0.8,
        control_share=0.5,
        min_baseline_customers=30,
        baseline_source="history",
        baseline_problem="no_model",
        backtest={"start": "2011-06-11", "end": "2011-09-09"},
        holdout=None,
        designs=designs,
        customers=bundle.data.customers,
        assigned_treatment=bundle.data.customers // 2,
        assigned_control=bundle.data.customers - bundle.data.customers // 2,
        testable_segments=sum(d.testable for d in designs),
        control_options=[],
    )
