"""window_forecast: the columns, their consistency with the model formulas, and refused inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.clv import WINDOW_COLUMNS, window_forecast
from analysis.clv._bgnbd import conditional_expected_purchases, conditional_probability_purchase
from analysis.clv._gammagamma import conditional_expected_spend
from analysis.errors import DataError

# CDNOW sample estimates: FHL 2005 (BG/NBD) and Fader & Hardie's Gamma-Gamma note.
PARAMS = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "p": 6.25, "q": 3.74, "gamma": 15.44}
BG = np.array([PARAMS[k] for k in ("r", "alpha", "a", "b")])
GG = np.array([PARAMS[k] for k in ("p", "q", "gamma")])
CUSTOMERS = pd.DataFrame(
    {
        "customer_id": ["a", "b", "c", "d"],
        "frequency": [0.0, 1.0, 4.0, 12.0],
        "recency": [0.0, 10.0, 30.0, 70.0],
        "T": [20.0, 40.0, 60.0, 75.0],
        "monetary_value": [np.nan, 25.0, 40.0, 60.0],
    }
)


def test_columns_follow_the_model_formulas():
    out = window_forecast(CUSTOMERS, params=PARAMS, window=13.0)
    assert tuple(out.columns) == WINDOW_COLUMNS and list(out["customer_id"]) == ["a", "b", "c", "d"]
    args = (CUSTOMERS[c].to_numpy() for c in ("frequency", "recency", "T"))
    x, tx, T = args
    purchases = conditional_expected_purchases(BG, 13.0, x, tx, T)
    np.testing.assert_allclose(out["p_purchase"], conditional_probability_purchase(BG, 13.0, x, tx, T))
    np.testing.assert_allclose(out["expected_purchases"], purchases, rtol=1e-9)
    spend = conditional_expected_spend(GG, x, CUSTOMERS["monetary_value"].to_numpy())
    np.testing.assert_allclose(out["expected_revenue"], purchases * spend, rtol=1e-9)
    # A variance is never negative, and the chance of buying never exceeds the expected count.
    assert np.all(out["revenue_second_moment"] >= out["expected_revenue"] ** 2)
    assert np.all(out["p_purchase"] <= out["expected_purchases"])


def test_longer_windows_expect_more():
    short = window_forecast(CUSTOMERS, params=PARAMS, window=4.0)
    long = window_forecast(CUSTOMERS, params=PARAMS, window=26.0)
    for col in WINDOW_COLUMNS[1:]:
        assert np.all(long[col].to_numpy() > short[col].to_numpy()), col


@pytest.mark.parametrize(
    ("frame", "params", "window", "match"),
    [
        (CUSTOMERS.drop(columns="T"), PARAMS, 13.0, r"missing columns \['T'\]"),
        (CUSTOMERS, {k: v for k, v in PARAMS.items() if k != "q"}, 13.0, r"parameters \['q'\]"),
        (CUSTOMERS, PARAMS, 0.0, "must be > 0"),
    ],
    ids=["no-T", "no-q", "empty-window"],
)
def test_bad_inputs_are_refused(frame, params, window, match):
    with pytest.raises(DataError, match=match):
        window_forecast(frame, params=params, window=window)


def test_customers_with_the_same_history_get_the_same_forecast():
    # The moments are summed once per distinct (x, T); the crowd's rows must equal each customer alone.
    rng = np.random.default_rng(4)
    crowd = CUSTOMERS.iloc[rng.integers(0, len(CUSTOMERS), 300)].reset_index(drop=True)
    crowd["customer_id"] = [f"c{i}" for i in range(len(crowd))]
    out = window_forecast(crowd, params=PARAMS, window=13.0)
    alone = {cid: window_forecast(CUSTOMERS.iloc[[i]], params=PARAMS, window=13.0) for i, cid in enumerate("abcd")}
    origin = crowd["frequency"].map(dict(zip(CUSTOMERS["frequency"], "abcd", strict=True)))
    for col in WINDOW_COLUMNS[1:]:
        want = np.array([alone[c][col].iloc[0] for c in origin])
        np.testing.assert_array_equal(out[col].to_numpy(), want, err_msg=col)
    assert list(out["customer_id"]) == list(crowd["customer_id"])
