"""design_experiments on a small hand-built history: baselines, sizes, flags, assignments."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from analysis.config import ExperimentsConfig
from analysis.errors import DataError
from analysis.experiments import design_experiments
from analysis.experiments._power import required_sizes

END = dt.date(2021, 12, 31)


def _world():
    # Without a lifetime-value model the baseline is a back-test on the 90 days before the
    # last 90 (2021-07-05 .. 2021-10-02). Segment 1: 4,000 customers who first bought in 2020;
    # every 4th bought again in that window for 40.0, and every 3rd bought in the last 90 days
    # (which must not count). Segment 2: 60 customers, same rule. Segment 3: 10 customers first
    # seen in the last window (no history before the back-test window).
    rows, members = [], []
    for seg, n, first in ((1, 4000, "2020-03-01"), (2, 60, "2020-03-01"), (3, 10, "2021-12-01")):
        for i in range(n):
            cid = f"{seg}-{i:04d}"
            members.append((cid, f"p{seg}x{i}", seg))
            rows.append((cid, first, 25.0))
            if seg != 3 and i % 4 == 0:
                rows.append((cid, "2021-08-15", 40.0))
            if seg != 3 and i % 3 == 0:
                rows.append((cid, "2021-11-15", 99.0))
    orders = pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"])
    orders["timestamp"] = pd.to_datetime(orders["timestamp"])
    members = pd.DataFrame(members, columns=["customer_id", "pseudonym", "segment"])
    segments = [
        {"id": 2, "name": "Small", "persona": "small", "recommendations": [{"action": "Call them"}]},
        {"id": 1, "name": "Big", "persona": "big", "recommendations": [{"action": "Send a voucher"}]},
        {"id": 3, "name": "New", "persona": "new", "action": "Welcome mail"},
    ]
    return members, segments, orders


@pytest.fixture(scope="module")
def designed():
    members, segments, orders = _world()
    return design_experiments(
        members, segments=segments, orders=orders, config=ExperimentsConfig(mde=0.2), observation_end=END
    )


def test_without_a_model_the_baseline_is_a_back_test_on_the_window_before_the_last(designed):
    big, small, new = designed.section.designs
    assert [d.segment for d in designed.section.designs] == [1, 2, 3]
    assert big.baseline == pytest.approx(0.25) and big.baseline_customers == 4000
    assert small.baseline == pytest.approx(0.25) and small.baseline_customers == 60
    assert designed.section.baseline_source == "history"
    assert [d.baseline_source for d in designed.section.designs] == ["history", "history", None]
    assert designed.section.baseline_method.startswith("Fallback, because no lifetime-value model was fitted")
    assert "2021-07-05 to 2021-10-02" in designed.section.baseline_method
    assert big.action == "Send a voucher" and new.action == "Welcome mail"


def test_sizes_and_testability(designed):
    big, small, new = designed.section.designs
    req_t, req_c, _ = required_sizes(
        "conversion", baseline=0.25, sd=None, relative_effect=0.2, alpha=0.05, power=0.8, control_share=0.5
    )
    assert (big.required_treatment, big.required_control) == (req_t, req_c)
    assert big.testable and big.reason is None
    assert not small.testable and "smallest lift it could detect" in small.reason
    assert small.min_detectable_effect > 0.2
    assert not new.testable and new.baseline is None and "estimate a baseline" in new.reason
    # Small segments still say what they could detect, relatively and in rate points.
    assert small.min_detectable_difference == pytest.approx(0.25 * small.min_detectable_effect, rel=1e-4)
    assert small.min_detectable_target == pytest.approx(0.25 + small.min_detectable_difference, rel=1e-4)


def test_revenue_baseline_counts_non_buyers_as_zero():
    members, segments, orders = _world()
    res = design_experiments(
        members, segments=segments, orders=orders, config=ExperimentsConfig(metric="revenue"), observation_end=END
    )
    big = res.section.designs[0]
    assert big.baseline == pytest.approx(10.0)  # a quarter spent 40
    assert big.baseline_sd == pytest.approx(np.std([40.0] + [0.0] * 3, ddof=0) * np.sqrt(4000 / 3999), rel=1e-5)
    assert res.section.metric_label == "revenue per customer within 90 days"


def test_assignments_cover_every_member_once(designed):
    members, _, _ = _world()
    table = designed.assignments
    assert list(table.columns) == ["customer_id", "pseudonym", "segment", "arm"]
    assert sorted(table["customer_id"]) == sorted(members["customer_id"])
    sec = designed.section
    assert sec.assigned_control + sec.assigned_treatment == sec.customers == len(members)
    for d in sec.designs:
        assert d.assigned_control + d.assigned_treatment == d.customers


def test_duplicate_members_are_refused():
    members, segments, orders = _world()
    with pytest.raises(DataError, match="each customer must appear once"):
        design_experiments(
            pd.concat([members, members.head(1)]),
            segments=segments,
            orders=orders,
            config=ExperimentsConfig(),
            observation_end=END,
        )


def test_section_is_strict_json_and_reproducible(designed):
    import json

    from analysis.experiments import ExperimentsSection

    members, segments, orders = _world()
    text = json.dumps(designed.section.model_dump(mode="json"), allow_nan=False)
    assert ExperimentsSection.model_validate_json(text) == designed.section
    assert "1-0000" not in text  # raw customer ids stay in the private table
    again = design_experiments(
        members.sample(frac=1.0, random_state=3),
        segments=segments,
        orders=orders,
        config=ExperimentsConfig(mde=0.2),
        observation_end=END,
    )
    assert again.section.model_dump_json() == designed.section.model_dump_json()
    pd.testing.assert_frame_equal(again.assignments, designed.assignments)
