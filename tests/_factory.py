"""A realistic hand-made :class:`analysis.bundle.Bundle` for the site, figure and filter tests.

Shaped like a run on the Online Retail II sample (pounds sterling, four segments,
a full 5 x 5 RFM grid, a 2-D projection), but the numbers are invented and
generated from a fixed seed: tests read expected values back from the bundle,
never from constants copied here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from _kselection import hand_made_selection

from analysis.bundle import (
    BoxStats,
    Bundle,
    DataSection,
    FeatureProfile,
    FeaturesSection,
    Projection,
    Recommendation,
    RfmCell,
    RfmSection,
    RfmSegment,
    Segment,
    Source,
    write_bundle,
)
from analysis.clv import ClvSection
from analysis.experiments import ExperimentResults, ExperimentsSection

__all__ = ["INJECTION", "make_bundle", "write_factory_bundle"]

#: Hostile text used by the injection tests (HTML, Markdown table and fence breakers).
INJECTION = "<script>alert(1)</script> <img src=x onerror=alert(1)> *bold* | pipe ```"

_SEGMENTS = (
    # persona, name, description, size, mean recency (days), frequency, monetary, avg unit cost
    (
        "champions",
        "Loyal Wholesalers",
        "Frequent, high-value trade buyers who ordered recently.",
        412,
        18.0,
        21.4,
        3592.8,
        2.1,
    ),
    ("loyal", "Regular Gift Buyers", "Steady customers with several orders a year.", 1105, 41.0, 6.2, 819.1, 2.9),
    ("at_risk", "Lapsing Occasionals", "Used to buy a few times; not seen for months.", 1380, 165.0, 2.3, 291.6, 3.4),
    ("hibernating", "One-off Visitors", "A single small order, long ago.", 1503, 262.0, 1.1, 141.0, 4.8),
)

_RECS = {
    "champions": [
        ("Offer a named account manager", "they bring {sr} of revenue", "repeat-order rate"),
        ("Invite to a volume-tier price list", "mean spend {m}", "average order value"),
    ],
    "loyal": [("Cross-sell seasonal bundles before peak weeks", "{f} orders on average", "items per order")],
    "at_risk": [
        (
            "Send a win-back voucher within 30 days",
            "last order {r} days ago on average",
            "reactivation rate within 60 days",
        )
    ],
    "hibernating": [
        ("Move to a low-cost quarterly newsletter", "a single order of {m} on average", "cost per reactivated customer")
    ],
}

_RFM = (
    ("Champions", "Bought recently, buy often and spend the most.", {"r": (4, 5), "f": (4, 5)}),
    ("Loyal Customers", "Buy often; respond to promotions.", {"f": (4, 5)}),
    ("Potential Loyalists", "Recent customers with average frequency.", {"r": (4, 5), "f": (2, 3)}),
    ("New Customers", "Bought most recently, but not often.", {"r": (5, 5), "f": (1, 1)}),
    ("At Risk", "Spent big and often, but long ago.", {"r": (1, 2), "f": (3, 5)}),
    ("Hibernating", "Last purchase long ago, low spend.", {"r": (1, 2), "f": (1, 2)}),
)


def _rfm_name(r: int, f: int) -> str:
    if r >= 4 and f >= 4:
        return "Champions"
    if f >= 4:
        return "Loyal Customers"
    if r == 5 and f == 1:
        return "New Customers"
    if r >= 4:
        return "Potential Loyalists"
    if r <= 2 and f >= 3:
        return "At Risk"
    return "Hibernating"


def _box(rng: np.random.Generator, mean: float) -> BoxStats:
    median = mean * 0.8
    q1, q3 = median * 0.55, median * 1.5
    iqr = q3 - q1
    low, high = max(0.0, q1 - 1.5 * iqr), q3 + 1.5 * iqr
    return BoxStats(
        min=0.0 if low == 0 else low * 0.9,
        q1=q1,
        median=median,
        q3=q3,
        max=high * float(rng.uniform(1.5, 4.0)),
        whisker_low=low,
        whisker_high=high,
        mean=mean,
    )


def make_bundle(
    *,
    text: str | None = None,
    source_name: str = "online_retail_II_sample.csv.gz",
    n_segments: int = 4,
    seed: int = 7,
    clv: str | None = "reliable",
    experiments: bool = True,
    results: bool = True,
) -> Bundle:
    """Return a realistic bundle.

    Parameters
    ----------
    text
        When given, appended to every free text that reaches a page (segment
        names, descriptions, recommendations, drop reasons, RFM names) to test
        escaping.
    source_name
        The ``data.source.name`` field.
    n_segments
        2 to 4 segments (the first ``n_segments`` personas).
    seed
        Seed of the generated projection and box statistics.
    clv
        ``"reliable"`` (a full CLV section), ``"unreliable"`` (the model refused
        with a reason) or None (no section).
    experiments, results
        Add the ``experiments`` (test designs) and ``experiment_results`` sections.
    """
    rng = np.random.default_rng(seed)
    tag = "" if text is None else f" {text}"
    chosen = _SEGMENTS[:n_segments]
    customers = sum(s[3] for s in chosen)
    revenue_by = [s[3] * s[6] for s in chosen]
    revenue = round(float(sum(revenue_by)), 2)
    base = {  # whole-base mean and std per feature
        "recency": (150.0, 110.0),
        "frequency": (4.5, 8.0),
        "monetary": (650.0, 1900.0),
        "avg_unit_cost": (3.6, 2.2),
    }
    rfm_names = [name for name, _, _ in _RFM]
    segments = []
    for i, (persona, name, desc, size, rec, freq, mon, unit) in enumerate(chosen):
        values = {"recency": rec, "frequency": freq, "monetary": mon, "avg_unit_cost": unit}
        profile = {
            feat: FeatureProfile(mean=v, median=0.8 * v, z=(v - base[feat][0]) / base[feat][1], box=_box(rng, v))
            for feat, v in values.items()
        }
        recs = [
            Recommendation(
                action=action + tag,
                why=why.format(sr=f"{revenue_by[i] / revenue:.0%}", m=f"£{mon:,.0f}", f=f"{freq:.1f}", r=f"{rec:.0f}")
                + tag,
                kpi=kpi + tag,
            )
            for action, why, kpi in _RECS[persona]
        ]
        weights = rng.dirichlet(np.ones(len(rfm_names)))
        mix = {n: int(c) for n, c in zip(rfm_names, rng.multinomial(size, weights), strict=True) if c}
        segments.append(
            Segment(
                id=i + 1,
                persona=persona,
                name=name + tag,
                description=desc + tag,
                size=size,
                share_customers=size / customers,
                revenue=round(revenue_by[i], 2),
                share_revenue=revenue_by[i] / revenue,
                outlier=False,
                profile=profile,
                recommendations=recs,
                rfm_mix=mix,
            )
        )

    centres = rng.normal(0.0, 2.5, size=(n_segments, 2))
    points = []
    for i in range(n_segments):
        xy = centres[i] + rng.normal(0.0, 0.8, size=(60, 2))
        points += [{"x": float(x), "y": float(y), "segment": i + 1} for x, y in xy]
    projection = Projection(
        method="pca",
        explained_variance=[0.58, 0.27],
        points=points,
        centroids=[{"x": float(c[0]), "y": float(c[1]), "segment": i + 1} for i, c in enumerate(centres)],
    )

    grid = []
    for r in range(1, 6):
        for f in range(1, 6):
            grid.append(RfmCell(r=r, f=f, customers=int(rng.integers(20, 400)), segment=_rfm_name(r, f) + tag))
    rfm_sizes = rng.multinomial(customers, np.full(len(_RFM), 1 / len(_RFM)))
    rfm_segments = [
        RfmSegment(
            name=name + tag,
            description=desc + tag,
            rule=rule,
            shadowed=name == "Loyal Customers",
            size=int(n),
            share_customers=int(n) / customers,
            revenue=float(n) * 300.0,
            share_revenue=float(n) * 300.0 / revenue,
            mean_recency=40.0 + 30 * j,
            mean_frequency=max(1.0, 12.0 - 2 * j),
            mean_monetary=2000.0 / (j + 1),
        )
        for j, ((name, desc, rule), n) in enumerate(zip(_RFM, rfm_sizes, strict=True))
    ]
    crosstab = {name + tag: {str(s.id): s.rfm_mix.get(name, 0) for s in segments} for name in rfm_names}
    rows_in = 250_000
    dropped = {
        "missing_customer": 52_310,
        "cancelled": 4_102,
        "non_product": 1_250,
        "duplicate": 1_734,
        "bad_price": 12,
    }
    optional = {
        "clv": None if clv is None else _clv(segments, reliable=clv == "reliable", tag=tag),
        "experiments": _experiments(segments, tag) if experiments else None,
        "experiment_results": _results(segments, tag) if results else None,
    }
    return Bundle(
        **optional,
        generator={
            "segmentation": "0.1.0",
            "python": "3.11.2",
            "pandas": "3.0.0",
            "scikit-learn": "1.7.0",
            "duckdb": "1.3.0",
        },
        data=DataSection(
            source=Source(
                name=source_name, sha256="ab" * 32, format="csv.gz", shape="online_retail_ii", level="transactions"
            ),
            rows_in=rows_in,
            rows_kept=rows_in - sum(dropped.values()),
            dropped=dropped,
            customers=customers,
            orders=17_820,
            revenue=revenue,
            currency="GBP",
            snapshot_date="2011-12-10",
            date_range={"first": "2009-12-01", "last": "2011-12-09"},
            returns={"rows": 3_950, "value": 61_234.5, "customers": 1_210},
            countries=37,
        ),
        config={
            "features": {
                "columns": ["recency", "frequency", "monetary", "avg_unit_cost"],
                "log1p": "auto",
                "scaler": "standard",
            },
            "cluster": {"method": "kmeans", "k": None, "random_state": 42, "n_init": 10},
            "k_selection": {"k_min": 2, "k_max": 10, "min_stability": 0.75},
        },
        features=FeaturesSection(
            columns=["recency", "frequency", "monetary", "avg_unit_cost"],
            log1p=["frequency", "monetary", "avg_unit_cost"],
            scaler="standard",
            winsorize=None,
            skewness={"recency": 0.9, "frequency": 11.2, "monetary": 24.7, "avg_unit_cost": 6.3},
        ),
        k_selection=hand_made_selection(n_segments),
        segments=segments,
        projection=projection,
        rfm=RfmSection(segments=rfm_segments, grid=grid, crosstab=crosstab),
    )


def _value_row(segment: int | None, customers: int, total: int, clv: float, all_clv: float, rate: float) -> dict:
    purchases = customers * rate
    return {
        "segment": segment,
        "customers": customers,
        "share_customers": customers / total,
        "expected_purchases": purchases,
        "expected_purchases_low": purchases * 0.93,
        "expected_purchases_high": purchases * 1.07,
        "expected_purchases_per_customer": rate,
        "p_alive": min(0.95, 0.3 + rate / 4),
        "p_alive_low": min(0.9, 0.25 + rate / 4),
        "p_alive_high": min(0.99, 0.35 + rate / 4),
        "expected_spend": clv / max(purchases, 1.0),
        "clv": clv,
        "clv_low": clv * 0.9,
        "clv_high": clv * 1.1,
        "clv_per_customer": clv / customers,
        "share_of_value": clv / all_clv,
    }


def _holdout_row(customers: int, actual: float, predicted: float, **extra) -> dict:
    return {
        "customers": customers,
        "actual": actual,
        "predicted": predicted,
        "actual_per_customer": actual / customers,
        "predicted_per_customer": predicted / customers,
        "error": predicted - actual,
        "relative_error": (predicted - actual) / actual if actual else None,
        "mae": abs(predicted - actual) / customers + 0.2,
        "rmse": abs(predicted - actual) / customers + 0.4,
        **extra,
    }


def _clv(segments: list[Segment], *, reliable: bool, tag: str) -> ClvSection:
    total = sum(s.size for s in segments)
    common = {
        "time_unit": "week",
        "time_unit_days": 7.0,
        "horizon": 52.0,
        "horizon_days": 364.0,
        "annual_discount_rate": 0.1,
        "interval_level": 0.9,
        "observation_start": "2009-12-01",
        "observation_end": "2011-12-09",
        "calibration_end": "2011-06-30",
        "max_spend_frequency_correlation": 0.3,
        "customers": total,
        "repeat_buyers": total * 2 // 3,
        "calibration_repeat_buyers": total // 2,
        "customers_without_segment": 0,
        "zero_spend_repeat_buyers": 3,
    }
    if not reliable:
        none = dict.fromkeys(
            (
                "params",
                "standard_errors",
                "log_likelihood",
                "forecast_params",
                "forecast_standard_errors",
                "forecast_period",
                "spend_frequency_correlation",
                "population_mean_spend",
                "segments",
                "total",
                "validation",
            )
        )
        withheld = [{"code": "too_few_repeat_buyers", "value": 40, "needed": 100}]
        return ClvSection(reliable=False, headline="too_few_repeat_buyers", withheld=withheld, **common, **none)
    values = [s.revenue * 0.6 for s in segments]
    all_clv = sum(values)
    rows = [_value_row(s.id, s.size, total, v, all_clv, 4.0 / s.id) for s, v in zip(segments, values, strict=True)]
    params = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "p": 6.25, "q": 3.74, "gamma": 15.44}
    ses = {k: v / 10 for k, v in params.items()}
    by_freq = [
        _holdout_row(400 // (f + 1), 50.0 * (f + 1), 48.0 * (f + 1.1), frequency_min=f, frequency_max=f)
        for f in range(4)
    ]
    validation = {
        "calibration_start": "2009-12-01",
        "calibration_end": "2011-06-30",
        "holdout_start": "2011-07-01",
        "holdout_end": "2011-12-09",
        "calibration_length": 82.0,
        "holdout_length": 23.0,
        "customers": total,
        "new_in_holdout": 120,
        "overall": _holdout_row(total, 2400.0, 2310.0),
        "segments_basis": "calibration",
        "segments": [
            _holdout_row(s.size, 300.0 * (5 - s.id), 290.0 * (5 - s.id), segment=s.id, group=s.id, name=s.name)
            for s in segments
        ],
        "by_frequency": by_freq,
    }
    return ClvSection(
        reliable=True,
        headline=None,
        **common,
        params=params,
        standard_errors=ses,
        log_likelihood={"bgnbd": -9582.4, "gammagamma": -4023.1},
        forecast_params=params,
        forecast_standard_errors=ses,
        forecast_period="observation",
        spend_frequency_correlation=0.11,
        population_mean_spend=35.2,
        segments=rows,
        total=_value_row(None, total, total, all_clv, all_clv, 1.5),
        validation=validation,
    )


def _design(s: Segment, need: int, testable: bool) -> dict:
    baseline = 0.2 + 0.05 * s.id
    ok = testable and s.size // 2 >= need
    return {
        "segment": s.id,
        "persona": s.persona,
        "action": s.recommendations[0].action,
        "customers": s.size,
        "baseline_customers": s.size - 10,
        "baseline_source": "bgnbd",
        "metric": "conversion",
        "metric_switch": None,
        "baseline_issue": None,
        "absolute": False,
        "verdict": "testable" if ok else "too_small",
        "testable": ok,
        "conversion_baseline": baseline,
        "baseline": baseline,
        "baseline_sd": None,
        "target": baseline * 1.1,
        "effect_size": 0.06,
        "required_treatment": need,
        "required_control": need,
        "required_total": 2 * need,
        "assigned_treatment": s.size // 2,
        "assigned_control": s.size - s.size // 2,
        "min_detectable_effect": 0.1 if testable else 0.3,
        "min_detectable_target": baseline * (1.1 if testable else 1.3),
        "min_detectable_difference": baseline * (0.1 if testable else 0.3),
        "options": []
        if ok
        else [
            {
                "kind": "longer_window",
                "window_days": 180,
                "customers": s.size,
                "metric": "conversion",
                "baseline": baseline * 1.6,
                "required_treatment": need // 3,
                "required_control": need // 3,
                "assigned_treatment": s.size // 2,
                "assigned_control": s.size - s.size // 2,
                "testable": s.size // 2 >= need // 3,
            }
        ],
    }


def _experiments(segments: list[Segment], tag: str) -> ExperimentsSection:
    designs = [_design(s, 900 if s.id % 2 == 1 else 9000, s.id % 2 == 1) for s in segments]
    total = sum(s.size for s in segments)
    treat = sum(d["assigned_treatment"] for d in designs)
    options = [
        {
            "control_share": share,
            "held_back": int(total * share),
            "testable_segments": sum(d["testable"] for d in designs),
            "segments": [
                {
                    "segment": d["segment"],
                    "assigned_treatment": d["customers"] - int(d["customers"] * share),
                    "assigned_control": int(d["customers"] * share),
                    "required_treatment": d["required_treatment"],
                    "required_control": d["required_control"],
                    "testable": d["testable"],
                }
                for d in designs
            ],
        }
        for share in (0.1, 0.2, 0.3, 0.5)
    ]
    return ExperimentsSection(
        metric="conversion",
        window_days=90,
        mde=0.1,
        alpha=0.05,
        power=0.8,
        control_share=0.5,
        min_baseline_customers=30,
        baseline_source="bgnbd",
        baseline_problem=None,
        backtest=None,
        holdout={
            "start": "2011-06-10",
            "end": "2011-12-09",
            "predicted": 410.0,
            "actual": 400.0,
            "relative_error": 0.025,
        },
        designs=designs,
        customers=total,
        assigned_treatment=treat,
        assigned_control=total - treat,
        testable_segments=sum(d["testable"] for d in designs),
        control_options=options,
    )


def _lift(segment: int | None, t: int, c: int, tv: float, cv: float) -> dict:
    diff = tv - cv
    return {
        "segment": segment,
        "treatment_customers": t,
        "control_customers": c,
        "treatment_value": tv,
        "control_value": cv,
        "difference": diff,
        "difference_low": diff - 0.03,
        "difference_high": diff + 0.03,
        "lift": diff / cv,
        "lift_low": (diff - 0.03) / cv,
        "lift_high": (diff + 0.03) / cv,
        "p_value": 0.02 if diff > 0.03 else 0.4,
        "significant": diff > 0.03,
        "note": None,
    }


def _results(segments: list[Segment], tag: str) -> ExperimentResults:
    rows = [_lift(s.id, s.size // 2, s.size - s.size // 2, 0.3 + 0.02 * s.id, 0.28) for s in segments]
    total = sum(s.size for s in segments)
    overall = _lift(None, total // 2, total - total // 2, 0.33, 0.28)
    table = {"metric": "conversion", "segments": rows, "overall": overall}
    return ExperimentResults(
        file="results" + tag.replace("/", "") + ".csv",
        rows=total + 12,
        used=total,
        unparseable=5,
        unknown_customers=4,
        duplicates=2,
        arm_mismatches=1,
        problems=[{"row": 7, "column": "arm", "value": "x" + tag}],
        alpha=0.05,
        confidence_level=0.95,
        primary=table,
        secondary={**table, "metric": "revenue"},
    )


def write_factory_bundle(out_dir: Path, **kwargs) -> Path:
    """Write :func:`make_bundle` to ``out_dir/bundle.json`` and return the path."""
    return write_bundle(make_bundle(**kwargs), out_dir)
