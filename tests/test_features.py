"""Tests for analysis.features.build_features."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.config import FeaturesConfig
from analysis.errors import DataError
from analysis.features import build_features


def _customers(**overrides) -> pd.DataFrame:
    base = {
        "recency": [1.0, 2.0, 3.0, 4.0, 5.0],
        "frequency": [1, 1, 1, 1, 6],
        "monetary": [10.0, 20.0, 30.0, 40.0, 50.0],
        "avg_unit_cost": [2.0, 2.0, 2.0, 2.0, 2.0],
    }
    base.update(overrides)
    return pd.DataFrame(base)


def test_standard_scaling_by_hand():
    # recency 1..5 has mean 3 and population std sqrt(2); no log1p requested.
    fm = build_features(_customers(), config=FeaturesConfig(columns=("recency", "monetary"), log1p=()))
    assert fm.columns == ("recency", "monetary")
    assert fm.log1p == ()
    expected = (np.arange(1, 6) - 3) / math.sqrt(2)
    np.testing.assert_allclose(fm.values[:, 0], expected)
    np.testing.assert_allclose(fm.values[:, 1], expected)  # 10..50 is the same shape
    assert fm.values.dtype == np.float64 and fm.values.shape == (5, 2)


def test_skewness_by_hand_and_auto_log1p():
    # frequency = 1,1,1,1,6: mean 2, m2 = 20/5 = 4, m3 = 60/5 = 12, g1 = 12 / 4**1.5 = 1.5,
    # adjusted G1 = g1 * sqrt(n (n-1)) / (n-2) = 1.5 * sqrt(20) / 3 (Joanes & Gill 1998, eq. 2).
    fm = build_features(_customers(), config=FeaturesConfig(columns=("recency", "frequency")))
    assert fm.skewness["frequency"] == pytest.approx(1.5 * math.sqrt(20) / 3)
    assert fm.skewness["recency"] == pytest.approx(0.0, abs=1e-12)
    assert fm.log1p == ("frequency",)
    logged = np.log1p([1, 1, 1, 1, 6])
    np.testing.assert_allclose(fm.values[:, 1], (logged - logged.mean()) / logged.std())


def test_threshold_above_skewness_means_no_log():
    fm = build_features(_customers(), config=FeaturesConfig(columns=("recency", "frequency"), skew_threshold=5.0))
    assert fm.log1p == ()


def test_robust_scaler_centres_on_median_with_unit_iqr():
    fm = build_features(_customers(), config=FeaturesConfig(columns=("recency", "monetary"), log1p=(), scaler="robust"))
    # recency 1..5: median 3, quartiles 2 and 4 -> (x - 3) / 2.
    np.testing.assert_allclose(fm.values[:, 0], (np.arange(1, 6) - 3) / 2)
    assert fm.scaler == "robust"


def test_winsorize_clips_to_quantiles_before_scaling():
    cust = _customers(monetary=[10.0, 20.0, 30.0, 40.0, 1000.0])
    fm = build_features(
        cust,
        config=FeaturesConfig(columns=("recency", "monetary"), log1p=(), scaler="robust", winsorize=(0.0, 0.75)),
    )
    # 75th percentile of 10,20,30,40,1000 is 40, so 1000 -> 40; then median 30, IQR 20.
    np.testing.assert_allclose(fm.values[:, 1], (np.array([10, 20, 30, 40, 40]) - 30) / 20)
    assert fm.winsorize == (0.0, 0.75)


def test_all_missing_feature_is_dropped_with_reason():
    cust = _customers(avg_unit_cost=[np.nan] * 5)
    fm = build_features(cust, config=FeaturesConfig())
    assert "avg_unit_cost" not in fm.columns
    assert "missing for every customer" in fm.dropped["avg_unit_cost"]
    assert fm.values.shape == (5, 3)


def test_partly_missing_feature_is_an_error_naming_it():
    cust = _customers(avg_unit_cost=[1.0, np.nan, 2.0, 3.0, np.inf])
    with pytest.raises(DataError, match=r"avg_unit_cost \(2 of 5 rows\)"):
        build_features(cust, config=FeaturesConfig())


def test_missing_column_and_too_few_features_are_errors():
    with pytest.raises(DataError, match="lacks feature column"):
        build_features(_customers().drop(columns="monetary"), config=FeaturesConfig())
    cust = _customers(avg_unit_cost=[np.nan] * 5)
    with pytest.raises(DataError, match="at least two usable features"):
        build_features(cust, config=FeaturesConfig(columns=("recency", "avg_unit_cost")))


def test_explicit_log1p_on_values_at_or_below_minus_one_is_an_error():
    cust = _customers(recency=[-1.0, 2.0, 3.0, 4.0, 5.0])
    with pytest.raises(DataError, match="log1p needs values above -1"):
        build_features(cust, config=FeaturesConfig(columns=("recency", "monetary"), log1p=("recency",)))


@pytest.mark.parametrize("scaler", ["standard", "robust"])
@pytest.mark.parametrize("winsorize", [None, (0.01, 0.99)])
def test_saved_transform_reproduces_the_matrix_bit_for_bit(scaler, winsorize):
    cust = _customers()
    fm = build_features(cust, config=FeaturesConfig(scaler=scaler, winsorize=winsorize))
    t = fm.transform
    assert t.columns == fm.columns
    assert t.log1p == tuple(c in fm.log1p for c in fm.columns)
    assert (t.bounds is None) == (winsorize is None)
    raw = cust[list(fm.columns)].to_numpy(dtype="float64")
    assert np.array_equal(t.apply(raw), fm.values)
    if t.bounds is not None:
        for (lo, hi), col in zip(t.bounds, raw.T, strict=True):
            assert col.min() <= lo <= hi <= col.max()


@settings(max_examples=30, deadline=None)
@given(
    data=st.lists(
        st.tuples(
            st.floats(1, 700, allow_nan=False),
            st.integers(1, 200),
            st.floats(0.01, 1e6, allow_nan=False),
            st.floats(0.01, 500, allow_nan=False),
        ),
        min_size=3,
        max_size=40,
    ),
    seed=st.integers(0, 2**32 - 1),
    scaler=st.sampled_from(["standard", "robust"]),
)
def test_permuting_customers_permutes_rows_exactly(data, seed, scaler):
    cust = pd.DataFrame(data, columns=["recency", "frequency", "monetary", "avg_unit_cost"])
    perm = np.random.default_rng(seed).permutation(len(cust))
    config = FeaturesConfig(scaler=scaler)
    a = build_features(cust, config=config)
    b = build_features(cust.iloc[perm].reset_index(drop=True), config=config)
    assert np.array_equal(a.values[perm], b.values)
    assert a.log1p == b.log1p and np.isfinite(a.values).all()
