"""fit_clv end to end on the CDNOW sample: the bundle section, the private table, thin-data refusal."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from analysis.clv import PER_CUSTOMER_COLUMNS, ClvSection, fit_clv
from analysis.clv import _bgnbd as bgnbd
from analysis.clv import _gammagamma as gammagamma
from analysis.clv._data import occasions
from analysis.config import ClvConfig
from tests._data import shared_file

# FHL (2005) BG/NBD and Fader & Hardie's Gamma-Gamma note, CDNOW 1/10 sample, 39 weeks.
PAPER = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "p": 6.25, "q": 3.74, "gamma": 15.44}
REFERENCE = ClvConfig(calibration_end=dt.date(1997, 9, 30), time_unit="week")
NAMES = {1: "Light", 2: "Regular", 3: "Heavy"}


@pytest.fixture(scope="module")
def orders() -> pd.DataFrame:
    raw = pd.read_csv(shared_file("cdnow_sample.csv.gz"), dtype={"customer_id": str, "date": str})
    raw["timestamp"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    out = raw.groupby(["customer_id", "timestamp"], as_index=False)["dollar_value"].sum()
    out = out.rename(columns={"dollar_value": "amount"})
    out["order_id"] = out.index.astype(str)
    return out


@pytest.fixture(scope="module")
def segment_of(orders) -> pd.Series:
    # Any partition will do; spend terciles keep every segment populated.
    spend = orders.groupby("customer_id")["amount"].sum()
    return pd.qcut(spend.rank(method="first"), 3, labels=False).astype(int) + 1


def _run(orders, segment_of, config=REFERENCE):
    return fit_clv(
        orders,
        config=config,
        segment_of=segment_of,
        segment_ids=sorted(NAMES),
        observation_end=dt.date(1998, 6, 30),
    )


@pytest.fixture(scope="module")
def result(orders, segment_of):
    return _run(orders, segment_of)


@pytest.mark.parametrize("name", list(PAPER))
def test_bundle_params_match_the_papers(result, name):
    assert result.section.reliable
    got = result.section.params[name]
    assert abs(got / PAPER[name] - 1) < 0.005, (name, got)


def test_section_is_json_without_nan_or_raw_ids(result, orders):
    text = json.dumps(result.section.model_dump(mode="json"), allow_nan=False)
    assert ClvSection.model_validate_json(text) == result.section
    ids = set(orders["customer_id"])
    assert len(ids) == 2357  # the CDNOW sample's customers (../shared/data/SOURCES.md)
    assert [cid for cid in sorted(ids) if f'"{cid}"' in text] == []


def test_same_input_same_section(orders, segment_of, result):
    again = _run(orders, segment_of)
    assert again.section.model_dump_json() == result.section.model_dump_json()
    pd.testing.assert_frame_equal(again.per_customer, result.per_customer)


def test_segment_rows_add_up_to_the_total(result):
    sec = result.section
    assert [s.segment for s in sec.segments] == [1, 2, 3]
    assert sum(s.customers for s in sec.segments) == sec.total.customers == 2357
    assert sum(s.share_of_value for s in sec.segments) == pytest.approx(1.0, abs=1e-4)
    assert sum(s.clv for s in sec.segments) == pytest.approx(sec.total.clv, rel=1e-4)
    for row in [*sec.segments, sec.total]:
        assert row.clv_low <= row.clv <= row.clv_high
        assert 0 <= row.p_alive_low <= row.p_alive <= row.p_alive_high <= 1
    # Heavier buyers are worth more per head.
    per_head = [s.clv_per_customer for s in sec.segments]
    assert per_head == sorted(per_head)


def test_holdout_validation_is_published(result):
    val = result.section.validation
    assert (val.calibration_end, val.holdout_start, val.holdout_end) == ("1997-09-30", "1997-10-01", "1998-06-30")
    assert val.holdout_length == pytest.approx(39.0)
    assert val.customers == 2357 and val.new_in_holdout == 0
    assert val.overall.customers == sum(r.customers for r in val.segments)
    assert val.overall.customers == sum(r.customers for r in val.by_frequency)
    assert val.overall.actual == pytest.approx(sum(r.actual for r in val.by_frequency))
    # A loose sanity bound on the published error (measured: about -12% on this sample).
    assert abs(val.overall.relative_error) < 0.25


def test_private_table_one_row_per_customer(result):
    table = result.per_customer
    assert list(table.columns) == list(PER_CUSTOMER_COLUMNS)
    assert table["customer_id"].is_unique and len(table) == 2357
    assert table["p_alive"].between(0, 1).all()
    assert (table["clv_low"] <= table["clv"]).all() and (table["clv"] <= table["clv_high"]).all()
    assert np.isfinite(table["clv"]).all()


def test_longer_horizon_never_lowers_value(orders, segment_of, result):
    longer = _run(orders, segment_of, REFERENCE.model_copy(update={"horizon": 104.0}))
    assert (longer.per_customer["clv"] >= result.per_customer["clv"]).all()
    assert longer.section.total.clv > result.section.total.clv


def test_thin_data_is_refused_without_numbers(orders, segment_of):
    few = orders[orders["customer_id"].isin(sorted(set(orders["customer_id"]))[:60])]
    thin = _run(few, segment_of)
    sec = thin.section
    assert not sec.reliable
    assert sec.headline == "too_few_repeat_buyers"
    (reason,) = [w for w in sec.withheld if w.code == "too_few_repeat_buyers"]
    assert reason.needed == 100 and reason.value < 100
    assert sec.params is None and sec.segments is None and sec.total is None and sec.validation is None
    assert thin.per_customer.empty and list(thin.per_customer.columns) == list(PER_CUSTOMER_COLUMNS)
    assert sec.customers == 60


def test_calibration_end_outside_the_data_is_refused(orders, segment_of):
    late = _run(orders, segment_of, REFERENCE.model_copy(update={"calibration_end": dt.date(1998, 7, 1)}))
    assert not late.section.reliable
    assert [w.code for w in late.section.withheld][0] == "calibration_end_outside"


def test_default_calibration_end_holds_out_a_share_of_the_span(orders, segment_of):
    res = _run(orders, segment_of, ClvConfig(time_unit="week", holdout_share=0.25))
    # 1997-01-01 .. 1998-06-30 spans 545 days; a quarter is 136 days.
    assert res.section.validation.calibration_end == "1998-02-14"


def test_unsegmented_customers_count_in_the_total_only(orders, segment_of):
    partial = segment_of.iloc[100:]
    res = _run(orders, partial)
    sec = res.section
    assert sec.customers_without_segment == 100
    assert sum(s.customers for s in sec.segments) == sec.total.customers - 100
    assert res.per_customer["segment"].isna().sum() == 100
    assert sum(s.share_of_value for s in sec.segments) < 1.0


def test_grouped_occasions_give_the_same_result(orders, segment_of, result):
    again = _run(occasions(orders), segment_of)
    assert again.section.model_dump_json() == result.section.model_dump_json()
    pd.testing.assert_frame_equal(again.per_customer, result.per_customer)


def test_large_data_fits_agree_with_the_exact_ones(orders, segment_of, result, monkeypatch):
    # Force the coarse-start Newton fits on the sample: the same optimum to far below what the bundle shows.
    monkeypatch.setattr(bgnbd, "EXACT_ROWS", 0)
    monkeypatch.setattr(gammagamma, "EXACT_ROWS", 0)
    large = _run(orders, segment_of)
    for name, value in result.section.params.items():
        assert large.section.params[name] == pytest.approx(value, rel=2e-6), name
    for col in ("expected_purchases", "p_alive", "clv", "clv_low", "clv_high"):
        np.testing.assert_allclose(large.per_customer[col], result.per_customer[col], rtol=1e-6, err_msg=col)


def test_per_customer_values_add_up_to_the_segment_rows(result):
    table, sec = result.per_customer, result.section
    for row in sec.segments:
        members = table[table["segment"] == row.segment]
        assert row.customers == len(members)
        assert row.clv == pytest.approx(members["clv"].sum(), rel=1e-5)
        assert row.expected_purchases == pytest.approx(members["expected_purchases"].sum(), rel=1e-5)
        assert row.p_alive == pytest.approx(members["p_alive"].mean(), rel=1e-5)
        assert row.expected_spend == pytest.approx(members["expected_spend"].mean(), rel=1e-5)


def test_a_fit_that_cannot_pin_the_dropout_on_a_short_history_reads_history_too_short():
    from analysis.clv._fit import _headline
    from analysis.clv._schema import Withheld

    year = {"start": dt.date(2010, 12, 1), "end": dt.date(2011, 12, 9)}
    failed = [Withheld(code="fit_failed", model="bgnbd", detail="hessian_not_positive_definite")]
    assert _headline(failed, year) == "history_too_short"
    two_years = {"start": dt.date(2009, 12, 1), "end": dt.date(2011, 12, 9)}
    assert _headline(failed, two_years) == "model_did_not_fit"
    assert _headline([Withheld(code="too_few_repeat_buyers", value=40, needed=100)], two_years) == (
        "too_few_repeat_buyers"
    )
    assert _headline([], year) is None
