"""Business impact by hand: predicted value, value at risk, value an action could move, one ranking."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from analysis.impact import business_impact

SEGMENTS = [SimpleNamespace(id=1), SimpleNamespace(id=2)]
IDS = np.array(["a", "b", "c", "d"])
LABELS = np.array([1, 1, 2, 2])
REVENUE = np.array([100.0, 50.0, 30.0, 20.0])


def test_with_a_model_value_at_risk_is_what_members_would_add_if_all_were_active():
    per_customer = pd.DataFrame({"customer_id": IDS, "clv": [60.0, 40.0, 10.0, 5.0], "p_alive": [1.0, 0.8, 0.25, 0.5]})
    section = business_impact(
        SEGMENTS, labels=LABELS, customer_ids=IDS, revenue=REVENUE, per_customer=per_customer, mde=0.1, horizon_days=364
    )
    one, two = section.segments
    # a: 60 * 0 / 1 = 0; b: 40 * 0.2 / 0.8 = 10; c: 10 * 0.75 / 0.25 = 30; d: 5 * 0.5 / 0.5 = 5
    assert (one.predicted_value, one.at_risk_value, one.at_risk_customers) == (100.0, 10.0, 0)
    assert (two.predicted_value, two.at_risk_value, two.at_risk_customers) == (15.0, 35.0, 1)
    assert one.movable_value == pytest.approx(0.1 * 110) and two.movable_value == pytest.approx(0.1 * 50)
    assert section.basis == "clv" and section.ranking == [1, 2]
    assert section.total_predicted_value == 115.0 and section.total_at_risk_value == 45.0


def test_without_a_model_the_revenue_is_at_stake_and_nothing_is_predicted():
    section = business_impact(
        SEGMENTS, labels=LABELS, customer_ids=IDS, revenue=REVENUE, per_customer=None, mde=0.2, horizon_days=None
    )
    assert section.basis == "revenue" and section.horizon_days is None
    assert [s.predicted_value for s in section.segments] == [None, None]
    assert [s.movable_value for s in section.segments] == [pytest.approx(30.0), pytest.approx(10.0)]
    assert section.ranking == [1, 2]
