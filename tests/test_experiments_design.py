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
    assert designed.section.baseline_problem == "no_model"
    assert (designed.section.backtest.start, designed.section.backtest.end) == ("2021-07-05", "2021-10-02")
    assert big.action == "Send a voucher" and new.action == "Welcome mail"


def test_sizes_and_testability(designed):
    big, small, new = designed.section.designs
    req_t, req_c, _ = required_sizes(
        "conversion", baseline=0.25, sd=None, relative_effect=0.2, alpha=0.05, power=0.8, control_share=0.5
    )
    assert (big.required_treatment, big.required_control) == (req_t, req_c)
    assert big.testable and big.verdict == "testable" and big.options == []
    assert not small.testable and small.verdict == "too_small"
    assert small.min_detectable_effect > 0.2
    assert not new.testable and new.baseline is None and new.verdict == "no_history"
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
    assert res.section.metric == "revenue"


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


# --- Forward-looking baselines from the lifetime-value models -------------------------------

SIM_END = dt.date(2021, 6, 30)


def _simulated_orders(n: int = 2000, seed: int = 7) -> pd.DataFrame:
    # Customers drawn from the BG/NBD and Gamma-Gamma processes themselves (weekly rates), first
    # purchases spread over 2020, followed 90 days past SIM_END so the "future" is known.
    rng = np.random.default_rng(seed)
    r, alpha, a, b = 0.6, 4.0, 0.7, 3.0
    p, q, g = 6.0, 4.0, 15.0
    origin = pd.Timestamp("2020-01-01")
    stop = (pd.Timestamp(SIM_END) - origin).days + 1 + 90
    rows = []
    for i in range(n):
        lam, drop, nu = rng.gamma(r, 1 / alpha) / 7.0, rng.beta(a, b), rng.gamma(q, 1 / g)
        t = rng.uniform(0, 365)
        rows.append((f"c{i:05d}", t, rng.gamma(p, 1 / nu)))
        while (t := t + rng.exponential(1 / lam)) < stop:
            rows.append((f"c{i:05d}", t, rng.gamma(p, 1 / nu)))
            if rng.random() < drop:
                break
    orders = pd.DataFrame(rows, columns=["customer_id", "day", "amount"])
    orders["timestamp"] = origin + pd.to_timedelta(np.floor(orders["day"]), unit="D")
    orders["order_id"] = np.arange(len(orders)).astype(str)
    return orders.drop(columns="day")


@pytest.fixture(scope="module")
def simulated():
    from analysis.clv import fit_clv
    from analysis.config import ClvConfig

    orders = _simulated_orders()
    end = pd.Timestamp(SIM_END)
    past, future = orders[orders["timestamp"] <= end], orders[orders["timestamp"] > end]
    last = past.groupby("customer_id")["timestamp"].max()
    # "Lapsed": no purchase in the last 180 days, so both the last window and the one before are empty.
    segment = (last < end - pd.Timedelta(days=179)).map({False: 1, True: 2})
    members = pd.DataFrame(
        {"customer_id": segment.index, "pseudonym": [f"p-{c}" for c in segment.index], "segment": segment.to_numpy()}
    )
    segments = [{"id": 1, "name": "Active", "action": "Upsell"}, {"id": 2, "name": "Lapsed", "action": "Win back"}]
    names = {1: "Active", 2: "Lapsed"}
    clv = fit_clv(past, config=ClvConfig(), segment_of=segment, segment_ids=sorted(names), observation_end=SIM_END)
    unreliable = fit_clv(
        past,
        config=ClvConfig(min_repeat_buyers=10**6),
        segment_of=segment,
        segment_ids=sorted(names),
        observation_end=SIM_END,
    )
    spent = future[future["timestamp"] <= end + pd.Timedelta(days=90)].groupby("customer_id")["amount"].sum()
    outcome = pd.DataFrame({"segment": segment, "revenue": spent.reindex(segment.index).fillna(0.0)})
    return dict(members=members, segments=segments, orders=past, clv=clv, unreliable=unreliable, outcome=outcome)


def _run(world, *, clv, metric="conversion"):
    return design_experiments(
        world["members"],
        segments=world["segments"],
        orders=world["orders"],
        config=ExperimentsConfig(metric=metric),
        observation_end=SIM_END,
        clv=clv,
    ).section


@pytest.mark.parametrize(
    ("which", "source", "problem"),
    [
        ("clv", "bgnbd", None),
        ("unreliable", "history", "model_unreliable"),
        (None, "history", "no_model"),
    ],
    ids=["reliable", "unreliable", "absent"],
)
def test_baseline_source_follows_the_models_reliability(simulated, which, source, problem):
    section = _run(simulated, clv=None if which is None else simulated[which])
    assert section.baseline_source == source
    assert {d.baseline_source for d in section.designs} == {source}
    assert section.baseline_problem == problem
    assert (section.backtest is not None) == (source == "history")
    assert (section.holdout is not None) == (source == "bgnbd")


def test_model_baseline_of_a_lapsed_segment_is_positive_where_history_reads_zero(simulated):
    modelled = _run(simulated, clv=simulated["clv"]).designs[1]
    historic = _run(simulated, clv=None).designs[1]
    lapsed = simulated["outcome"][simulated["outcome"]["segment"] == 2]
    # Lapsed members bought nothing in the last 180 days: the last window (the old baseline) and
    # the back-test window are empty by construction, yet some of them do buy in the next 90 days.
    assert historic.baseline == 0.0 and historic.baseline_source == "history"
    actual = float((lapsed["revenue"] > 0).mean())
    assert actual > 0.0
    assert modelled.baseline_source == "bgnbd" and modelled.baseline_customers == len(lapsed)
    assert modelled.baseline > 0.0
    assert abs(modelled.baseline - actual) < 3 * np.sqrt(actual * (1 - actual) / len(lapsed))


def test_model_baselines_equal_the_mean_member_probability(simulated):
    from analysis.clv._bgnbd import conditional_probability_purchase

    clv = simulated["clv"]
    params = [clv.section.forecast_params[k] for k in ("r", "alpha", "a", "b")]
    table = clv.per_customer.merge(simulated["members"], on="customer_id", suffixes=("_clv", ""))
    prob = conditional_probability_purchase(
        params, 90 / clv.section.time_unit_days, table["frequency"], table["recency"], table["T"]
    )
    for design in _run(simulated, clv=clv).designs:
        assert design.baseline == pytest.approx(prob[table["segment"].to_numpy() == design.segment].mean(), rel=1e-5)


@pytest.mark.parametrize("segment", [1, 2], ids=["active", "lapsed"])
def test_model_revenue_mean_and_spread_match_what_members_then_spent(simulated, segment):
    design = _run(simulated, clv=simulated["clv"], metric="revenue").designs[segment - 1]
    spent = simulated["outcome"].loc[simulated["outcome"]["segment"] == segment, "revenue"]
    assert design.metric == "revenue" and design.baseline_source == "bgnbd"
    assert abs(design.baseline - spent.mean()) < 3 * spent.std() / np.sqrt(len(spent))
    # The spread sizes the test: it must be the spread of what a member spends, not of the forecasts.
    assert design.baseline_sd == pytest.approx(spent.std(), rel=0.25)


# --- Degenerate conversion baselines ------------------------------------------------------------


def _degenerate_world():
    # Back-test window 2021-07-05 .. 2021-10-02 (no model). Segment 1: 95% of 400 bought in it
    # (a 10% lift would pass 100%), spend varying. Segment 2: none of 400 did. Segment 3: all 400
    # did, each for exactly 30.0 (no revenue spread to fall back on).
    rows, members = [], []
    for seg in (1, 2, 3):
        for i in range(400):
            cid = f"{seg}-{i:03d}"
            members.append((cid, f"q{seg}x{i}", seg))
            rows.append((cid, "2020-05-01", 20.0))
            if (seg == 1 and i % 20) or seg == 3:
                rows.append((cid, "2021-08-01", 30.0 if seg == 3 else 10.0 + i % 7 * 5.0))
    orders = pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"])
    orders["timestamp"] = pd.to_datetime(orders["timestamp"])
    members = pd.DataFrame(members, columns=["customer_id", "pseudonym", "segment"])
    segments = [{"id": s, "name": f"S{s}", "action": "Do it"} for s in (1, 2, 3)]
    return design_experiments(
        members, segments=segments, orders=orders, config=ExperimentsConfig(mde=0.1), observation_end=END
    ), orders


def test_degenerate_conversion_baselines_switch_metric_or_go_absolute():
    from statsmodels.stats.power import NormalIndPower

    result, orders = _degenerate_world()
    ceiling, floor, full = result.section.designs
    # Near 100%: sized on revenue per customer in the same window, with its own mean and spread.
    assert ceiling.metric == "revenue" and ceiling.metric_switch == "ceiling_to_revenue"
    assert ceiling.conversion_baseline == pytest.approx(0.95)
    spend = orders[(orders["timestamp"] == "2021-08-01") & orders["customer_id"].str.startswith("1-")]["amount"]
    per_member = np.concatenate([spend.to_numpy(), np.zeros(400 - len(spend))])
    assert ceiling.baseline == pytest.approx(per_member.mean(), rel=1e-5)
    assert ceiling.baseline_sd == pytest.approx(per_member.std(ddof=1), rel=1e-5)
    req_t, req_c, _ = required_sizes(
        "revenue",
        baseline=ceiling.baseline,
        sd=ceiling.baseline_sd,
        relative_effect=0.1,
        alpha=0.05,
        power=0.8,
        control_share=0.5,
    )
    assert (ceiling.required_treatment, ceiling.required_control) == (req_t, req_c)
    # At 0%: no relative lift, but the smallest detectable rise in points, from statsmodels' h.
    assert floor.metric == "conversion" and floor.baseline == 0.0 and not floor.testable
    assert floor.absolute and floor.baseline_issue == "rate_at_zero" and floor.verdict == "absolute_only"
    h = NormalIndPower().solve_power(
        nobs1=floor.assigned_treatment, alpha=0.05, power=0.8, ratio=floor.assigned_control / floor.assigned_treatment
    )
    assert floor.min_detectable_difference == pytest.approx(np.sin(h / 2) ** 2, rel=1e-5)  # 6 digits kept
    assert floor.min_detectable_target == pytest.approx(floor.min_detectable_difference)
    assert floor.min_detectable_effect is None and floor.required_total is None
    # At 100% with identical spend: nothing to switch to and no room to rise; said plainly.
    assert full.metric == "conversion" and full.baseline == 1.0 and not full.testable
    assert full.min_detectable_difference is None and full.baseline_issue == "rate_at_ceiling" and full.absolute


# --- What would make a small segment testable, and what each control share costs -----------


def test_small_segments_get_sized_options_and_every_control_share_is_costed(simulated):
    from analysis.experiments._assign import unit_draws

    section = design_experiments(
        simulated["members"],
        segments=simulated["segments"],
        orders=simulated["orders"],
        config=ExperimentsConfig(mde=0.05),
        observation_end=SIM_END,
        clv=simulated["clv"],
        neighbours={1: [2], 2: [1]},
    ).section
    members = simulated["members"]
    for d in section.designs:
        if d.verdict != "too_small":
            assert d.options == []
            continue
        longer = [o for o in d.options if o.kind == "longer_window"]
        assert [o.window_days for o in longer] == [180, 360]
        assert all(o.baseline >= d.baseline for o in longer)  # more time, more buyers
        pooled = next(o for o in d.options if o.kind == "pooled")
        assert pooled.pooled_with == [2 if d.segment == 1 else 1]
        assert pooled.customers == len(members)
        assert pooled.assigned_treatment + pooled.assigned_control == len(members)
    draws = unit_draws(members["pseudonym"], seed=ExperimentsConfig().seed)
    shares = [o.control_share for o in section.control_options]
    assert shares == [0.1, 0.2, 0.3, 0.5]
    for option in section.control_options:
        assert option.held_back == int((draws < option.control_share).sum())
        assert option.testable_segments == sum(c.testable for c in option.segments)
    # A smaller control share needs more customers in total for the same lift.
    one = {o.control_share: o.segments[0] for o in section.control_options}
    assert (
        one[0.1].required_treatment + one[0.1].required_control
        > one[0.5].required_treatment + one[0.5].required_control
    )
