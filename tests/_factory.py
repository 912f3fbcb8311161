"""A realistic hand-made :class:`analysis.bundle.Bundle` for the site, figure and filter tests.

Shaped like a run on the Online Retail II sample (pounds sterling, four segments,
a full 5 x 5 RFM grid, a 2-D projection), but the numbers are invented and
generated from a fixed seed: tests read expected values back from the bundle,
never from constants copied here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from analysis.bundle import (
    BoxStats,
    Bundle,
    Candidate,
    DataSection,
    FeatureProfile,
    FeaturesSection,
    KSelection,
    Projection,
    Recommendation,
    RfmCell,
    RfmSection,
    RfmSegment,
    Segment,
    Source,
    write_bundle,
)

__all__ = ["INJECTION", "make_bundle", "write_factory_bundle"]

#: Hostile text used by the injection tests (HTML, Markdown table and fence breakers).
INJECTION = "<script>alert(1)</script> <img src=x onerror=alert(1)> *bold* | pipe ```"

_SEGMENTS = (
    # persona, name, description, size, mean recency (days), frequency, monetary, avg unit cost
    ("champions", "Loyal Wholesalers", "Frequent, high-value trade buyers who ordered recently.",
     412, 18.0, 21.4, 3592.8, 2.1),
    ("loyal", "Regular Gift Buyers", "Steady customers with several orders a year.",
     1105, 41.0, 6.2, 819.1, 2.9),
    ("at_risk", "Lapsing Occasionals", "Used to buy a few times; not seen for months.",
     1380, 165.0, 2.3, 291.6, 3.4),
    ("hibernating", "One-off Visitors", "A single small order, long ago.",
     1503, 262.0, 1.1, 141.0, 4.8),
)

_RECS = {
    "champions": [("Offer a named account manager", "they bring {sr} of revenue", "repeat-order rate"),
                  ("Invite to a volume-tier price list", "mean spend {m}", "average order value")],
    "loyal": [("Cross-sell seasonal bundles before peak weeks", "{f} orders on average", "items per order")],
    "at_risk": [("Send a win-back voucher within 30 days", "last order {r} days ago on average",
                 "reactivation rate within 60 days")],
    "hibernating": [("Move to a low-cost quarterly newsletter", "a single order of {m} on average",
                     "cost per reactivated customer")],
}

_RFM = (
    ("Champions", "Bought recently, buy often and spend the most.", "R>=4 and F>=4"),
    ("Loyal Customers", "Buy often; respond to promotions.", "F>=4"),
    ("Potential Loyalists", "Recent customers with average frequency.", "R>=4 and 2<=F<=3"),
    ("New Customers", "Bought most recently, but not often.", "R=5 and F=1"),
    ("At Risk", "Spent big and often, but long ago.", "R<=2 and F>=3"),
    ("Hibernating", "Last purchase long ago, low spend.", "R<=2 and F<=2"),
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
    return BoxStats(min=0.0 if low == 0 else low * 0.9, q1=q1, median=median, q3=q3,
                    max=high * float(rng.uniform(1.5, 4.0)), whisker_low=low, whisker_high=high, mean=mean)


def make_bundle(
    *,
    text: str | None = None,
    source_name: str = "online_retail_II_sample.csv.gz",
    n_segments: int = 4,
    seed: int = 7,
) -> Bundle:
    """Return a realistic bundle.

    Parameters
    ----------
    text
        When given, appended to every free text that reaches a page (segment
        names, descriptions, recommendations, drop reasons, RFM names, the
        rationale) to test escaping.
    source_name
        The ``data.source.name`` field.
    n_segments
        2 to 4 segments (the first ``n_segments`` personas).
    seed
        Seed of the generated projection and box statistics.
    """
    rng = np.random.default_rng(seed)
    tag = "" if text is None else f" {text}"
    chosen = _SEGMENTS[:n_segments]
    customers = sum(s[3] for s in chosen)
    revenue_by = [s[3] * s[6] for s in chosen]
    revenue = round(float(sum(revenue_by)), 2)
    base = {  # whole-base mean and std per feature
        "recency": (150.0, 110.0), "frequency": (4.5, 8.0), "monetary": (650.0, 1900.0),
        "avg_unit_cost": (3.6, 2.2),
    }
    rfm_names = [name for name, _, _ in _RFM]
    segments = []
    for i, (persona, name, desc, size, rec, freq, mon, unit) in enumerate(chosen):
        values = {"recency": rec, "frequency": freq, "monetary": mon, "avg_unit_cost": unit}
        profile = {
            feat: FeatureProfile(mean=v, median=0.8 * v, z=(v - base[feat][0]) / base[feat][1],
                                 box=_box(rng, v))
            for feat, v in values.items()
        }
        recs = [
            Recommendation(
                action=action + tag,
                why=why.format(sr=f"{revenue_by[i] / revenue:.0%}", m=f"£{mon:,.0f}", f=f"{freq:.1f}",
                               r=f"{rec:.0f}") + tag,
                kpi=kpi + tag,
            )
            for action, why, kpi in _RECS[persona]
        ]
        weights = rng.dirichlet(np.ones(len(rfm_names)))
        mix = {n: int(c) for n, c in zip(rfm_names, rng.multinomial(size, weights), strict=True) if c}
        segments.append(Segment(
            id=i + 1, persona=persona, name=name + tag, description=desc + tag, size=size,
            share_customers=size / customers, revenue=round(revenue_by[i], 2),
            share_revenue=revenue_by[i] / revenue, outlier=False, outlier_reason=None,
            profile=profile, recommendations=recs, rfm_mix=mix,
        ))

    centres = rng.normal(0.0, 2.5, size=(n_segments, 2))
    points = []
    for i in range(n_segments):
        xy = centres[i] + rng.normal(0.0, 0.8, size=(60, 2))
        points += [{"x": float(x), "y": float(y), "segment": i + 1} for x, y in xy]
    projection = Projection(
        method="pca", explained_variance=[0.58, 0.27], points=points,
        centroids=[{"x": float(c[0]), "y": float(c[1]), "segment": i + 1} for i, c in enumerate(centres)],
    )

    ks = list(range(2, 11))
    inertia = [9000.0 / k ** 0.9 + 300.0 * k for k in ks]
    candidates = [
        Candidate(k=k, inertia=round(inertia[j], 2), silhouette=0.42 - 0.02 * abs(k - n_segments),
                  calinski_harabasz=2100.0 - 80 * k, davies_bouldin=0.9 + 0.04 * k,
                  stability=min(0.98, 0.99 - 0.03 * max(0, k - n_segments)), min_share=0.5 / k)
        for j, k in enumerate(ks)
    ]

    grid = []
    for r in range(1, 6):
        for f in range(1, 6):
            grid.append(RfmCell(r=r, f=f, customers=int(rng.integers(20, 400)),
                                segment=_rfm_name(r, f) + tag))
    rfm_sizes = rng.multinomial(customers, np.full(len(_RFM), 1 / len(_RFM)))
    rfm_segments = [
        RfmSegment(name=name + tag, description=desc + tag, rule=rule, size=int(n),
                   share_customers=int(n) / customers, revenue=float(n) * 300.0,
                   share_revenue=float(n) * 300.0 / revenue, mean_recency=40.0 + 30 * j,
                   mean_frequency=max(1.0, 12.0 - 2 * j), mean_monetary=2000.0 / (j + 1))
        for j, ((name, desc, rule), n) in enumerate(zip(_RFM, rfm_sizes, strict=True))
    ]
    crosstab = {
        name + tag: {str(s.id): s.rfm_mix.get(name, 0) for s in segments} for name in rfm_names
    }
    rows_in = 250_000
    dropped = {"missing_customer": 52_310, "cancelled": 4_102, "non_product": 1_250,
               "duplicate": 1_734, "bad_price": 12}
    return Bundle(
        generator={"segmentation": "0.1.0", "python": "3.11.2", "pandas": "3.0.0",
                   "scikit-learn": "1.7.0", "duckdb": "1.3.0"},
        data=DataSection(
            source=Source(name=source_name, sha256="ab" * 32, format="csv.gz",
                          shape="online_retail_ii", level="transactions"),
            rows_in=rows_in, rows_kept=rows_in - sum(dropped.values()), dropped=dropped,
            reasons={
                "missing_customer": "No customer ID, so the line cannot be tied to anyone" + tag,
                "cancelled": "Cancelled invoice (number starts with C)",
                "non_product": "Postage, fees and other non-product codes",
                "duplicate": "Exact copy of another line",
                "bad_price": "Zero or negative unit price",
            },
            customers=customers, orders=17_820, revenue=revenue, snapshot_date="2011-12-10",
            date_range={"first": "2009-12-01", "last": "2011-12-09"},
            returns={"rows": 3_950, "value": 61_234.5, "customers": 1_210}, countries=37,
        ),
        config={"features": {"columns": ["recency", "frequency", "monetary", "avg_unit_cost"],
                             "log1p": "auto", "scaler": "standard"},
                "cluster": {"method": "kmeans", "k": None, "random_state": 42, "n_init": 10},
                "k_selection": {"k_min": 2, "k_max": 10, "min_stability": 0.75}},
        features=FeaturesSection(
            columns=["recency", "frequency", "monetary", "avg_unit_cost"],
            log1p=["frequency", "monetary", "avg_unit_cost"], scaler="standard", winsorize=None,
            skewness={"recency": 0.9, "frequency": 11.2, "monetary": 24.7, "avg_unit_cost": 6.3},
        ),
        k_selection=KSelection(
            candidates=candidates, elbow_k=n_segments, chosen_k=n_segments, overridden=False,
            rule="largest silhouette among k whose stability >= 0.75 and smallest cluster >= 2%",
            rationale=f"k = {n_segments} has the best silhouette among stable solutions." + tag,
        ),
        segments=segments,
        projection=projection,
        rfm=RfmSection(segments=rfm_segments, grid=grid, crosstab=crosstab),
    )


def write_factory_bundle(out_dir: Path, **kwargs) -> Path:
    """Write :func:`make_bundle` to ``out_dir/bundle.json`` and return the path."""
    return write_bundle(make_bundle(**kwargs), out_dir)
