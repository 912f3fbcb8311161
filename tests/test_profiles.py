"""Tests for analysis.profiles.profile_segments."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.config import ClusterConfig
from analysis.errors import DataError
from analysis.profiles import profile_segments

CLUSTERED = ("recency", "frequency", "monetary")


def _six() -> tuple[pd.DataFrame, np.ndarray]:
    customers = pd.DataFrame(
        {
            "customer_id": list("abcdef"),
            "recency": [10.0, 20.0, 30.0, 100.0, 200.0, 300.0],
            "frequency": [5, 4, 3, 1, 1, 1],
            "monetary": [100.0, 200.0, 300.0, 10.0, 20.0, 30.0],
            "avg_unit_cost": [np.nan] * 6,
            "avg_order_value": [20.0, 50.0, 100.0, 10.0, 20.0, 30.0],
            "tenure": [400.0, 300.0, 200.0, 100.0, 200.0, 300.0],
        }
    )
    return customers, np.array([1, 1, 1, 2, 2, 2])


def test_sizes_revenue_and_monetary_summary_by_hand():
    customers, labels = _six()
    one, two = profile_segments(customers, labels, features=CLUSTERED)
    assert (one.id, one.size, two.size) == (1, 3, 3)
    assert one.share_customers == 0.5
    assert one.revenue == 600.0 and two.revenue == 60.0
    assert one.share_revenue == pytest.approx(600 / 660)
    m = one.features["monetary"]
    assert (m.mean, m.median) == (200.0, 200.0)
    # Base: mean 110; squared deviations 100+8100+36100+10000+8100+6400 = 68800, population std sqrt(68800/6).
    assert m.z == pytest.approx((200 - 110) / math.sqrt(68800 / 6))
    # Linear quartiles of 100, 200, 300 are 150 and 250; nothing lies beyond 1.5 IQR.
    assert (m.box.q1, m.box.q3, m.box.whisker_low, m.box.whisker_high) == (150.0, 250.0, 100.0, 300.0)
    assert (m.box.min, m.box.max, m.box.mean) == (100.0, 300.0, 200.0)
    # Monetary ranks 4, 5, 6 of 6: mid-rank percentiles (r - 0.5) / 6 average to 0.75.
    assert one.pct("monetary") == pytest.approx(0.75)
    assert two.pct("monetary") == pytest.approx(0.25)


def test_all_missing_and_absent_features_are_skipped():
    customers, labels = _six()
    profiles = profile_segments(customers, labels, features=CLUSTERED)
    for p in profiles:
        assert set(p.features) == {"recency", "frequency", "monetary", "avg_order_value", "tenure"}


def test_whiskers_stop_at_the_last_point_inside_one_and_a_half_iqr():
    customers = pd.DataFrame({"monetary": [1.0, 2.0, 3.0, 4.0, 100.0], "recency": [1.0] * 5})
    (p,) = profile_segments(customers, np.ones(5, dtype=int), features=("monetary",))
    box = p.features["monetary"].box
    # q1 = 2, q3 = 4, IQR = 2: the upper fence is 7, so the whisker ends at 4 and 100 is beyond it.
    assert (box.q1, box.q3, box.whisker_low, box.whisker_high, box.max) == (2.0, 4.0, 1.0, 4.0, 100.0)
    assert p.features["recency"].z == 0.0  # constant feature: no spread, no z


def test_whisker_never_ends_inside_the_box():
    # 1, 1, 1, 2: q3 = 1.25 and the fence is 1.625, so the last point inside is 1 < q3; like
    # matplotlib.cbook.boxplot_stats the whisker is then drawn at q3.
    customers = pd.DataFrame({"monetary": [1.0, 1.0, 1.0, 2.0]})
    (p,) = profile_segments(customers, np.ones(4, dtype=int), features=("monetary",))
    box = p.features["monetary"].box
    assert (box.q3, box.whisker_high, box.max) == (1.25, 1.25, 2.0)


def test_tiny_segment_is_an_outlier_with_the_feature_that_sets_it_apart():
    n = 60
    customers = pd.DataFrame({"recency": [50.0] * n, "frequency": [2] * n, "monetary": [100.0] * (n - 1) + [6000.0]})
    labels = np.array([2] * (n - 1) + [1])
    top, rest = profile_segments(customers, labels, features=CLUSTERED, config=ClusterConfig(min_share=0.02))
    assert top.outlier and not rest.outlier and rest.outlier_feature is None and rest.outlier_ratio is None
    # Base mean spend = (59 * 100 + 6000) / 60 = 198.333...; 6000 / 198.333... = 30.252101.
    assert top.outlier_feature == "monetary"
    assert top.outlier_ratio == pytest.approx(6000 / ((59 * 100 + 6000) / 60), abs=1e-6)


@pytest.mark.parametrize(
    ("customers", "labels", "match"),
    [
        (pd.DataFrame({"monetary": [1.0, 2.0]}), np.array([1]), "one label per customer"),
        (pd.DataFrame({"recency": [1.0, 2.0]}), np.array([1, 2]), "needs a 'monetary' column"),
        (pd.DataFrame({"monetary": [1.0, np.nan]}), np.array([1, 2]), "must be finite"),
        (pd.DataFrame({"monetary": []}, dtype=float), np.array([]), "empty customer table"),
    ],
    ids=["label-length", "no-monetary", "nan-monetary", "empty"],
)
def test_invalid_inputs_raise_data_error(customers, labels, match):
    with pytest.raises(DataError, match=match):
        profile_segments(customers, labels, features=("monetary",))


@settings(max_examples=30, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.floats(1, 700, allow_nan=False),
            st.integers(1, 50),
            st.floats(0.01, 1e5, allow_nan=False),
            st.integers(1, 4),
        ),
        min_size=1,
        max_size=40,
    ),
    seed=st.integers(0, 2**32 - 1),
)
def test_totals_add_up_and_row_order_changes_nothing(rows, seed):
    customers = pd.DataFrame(rows, columns=["recency", "frequency", "monetary", "label"])
    labels = customers.pop("label").to_numpy()
    profiles = profile_segments(customers, labels, features=CLUSTERED)
    assert sum(p.size for p in profiles) == len(customers)
    # Shares are published rounded to 6 decimals: each is off by at most 5e-7.
    assert sum(p.share_customers for p in profiles) == pytest.approx(1.0, abs=5e-7 * len(profiles))
    assert sum(p.revenue for p in profiles) == pytest.approx(customers["monetary"].sum())
    # Size-weighted mean percentile is the base's, 0.5.
    assert sum(p.pct("monetary") * p.size for p in profiles) / len(customers) == pytest.approx(0.5)
    for p in profiles:
        for fp in p.features.values():
            b = fp.box
            assert b.min <= b.whisker_low <= b.q1 <= b.median <= b.q3 <= b.whisker_high <= b.max
    perm = np.random.default_rng(seed).permutation(len(customers))
    again = profile_segments(customers.iloc[perm].reset_index(drop=True), labels[perm], features=CLUSTERED)
    assert again == profiles
