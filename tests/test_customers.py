"""Per-customer table: aggregates computed by hand on tests/data/tiny_retail.csv."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.clean import clean_transactions
from analysis.config import CleaningConfig, ColumnsConfig, CustomersConfig
from analysis.customers import customer_table
from analysis.errors import DataError
from analysis.load import load_transactions
from tests._data import DATA, SAMPLE


def _table(path, snapshot=None, columns=None):
    columns = columns or ColumnsConfig()
    cleaned = clean_transactions(
        load_transactions(path, columns=columns), config=CleaningConfig(max_unparseable_share=0.2)
    )
    return customer_table(cleaned, config=CustomersConfig(snapshot_date=snapshot))


def test_hand_computed_aggregates():
    table = _table(DATA / "tiny_retail.csv")
    # Last kept purchase is 2011-03-31, so the snapshot is the day after.
    assert table.snapshot_date == dt.date(2011, 4, 1)
    c = table.customers.set_index("customer_id")
    assert list(c.index) == ["111", "222", "333", "444"]
    # 111: orders 1001 (2x5 + 1x8), 1002 (4x5, its duplicate dropped), 1011 (1x5).
    assert c.loc["111", "frequency"] == 3
    assert c.loc["111", "monetary"] == pytest.approx(43.0)
    assert c.loc["111", "avg_unit_cost"] == pytest.approx(43.0 / 8)
    assert c.loc["111", "avg_order_value"] == pytest.approx(43.0 / 3)
    assert c.loc["111", "recency"] == 1.0  # 31 Mar -> 1 Apr
    assert c.loc["111", "tenure"] == 88.0  # 3 Jan -> 1 Apr
    assert c.loc["111", "distinct_products"] == 2
    assert c.loc["111", "country"] == "United Kingdom"
    # 222: one order of 10 x 1.50; its postage line is not merchandise.
    assert (c.loc["222", "frequency"], c.loc["222", "monetary"]) == (1, pytest.approx(15.0))
    assert c.loc["222", "recency"] == 76.0  # 15 Jan -> 1 Apr
    # 333: 6 x 8.00 + 2 x 1.50; the zero-price and negative lines are dropped.
    assert c.loc["333", "monetary"] == pytest.approx(51.0)
    assert c.loc["333", "avg_unit_cost"] == pytest.approx(51.0 / 8)
    assert c.loc["333", "recency"] == 27.0
    assert c.loc["444", "monetary"] == pytest.approx(6.0)
    assert len(table.orders) == 6
    assert table.orders["amount"].sum() == pytest.approx(43 + 15 + 51 + 6)


def test_configured_snapshot_date_and_its_check():
    table = _table(DATA / "tiny_retail.csv", snapshot=dt.date(2011, 4, 11))
    assert table.customers.set_index("customer_id").loc["111", "recency"] == 11.0
    with pytest.raises(DataError, match="snapshot_date must be after"):
        _table(DATA / "tiny_retail.csv", snapshot=dt.date(2011, 3, 31))


def test_customer_level_input(tmp_path):
    path = tmp_path / "customer_data.csv"
    path.write_text(
        "CustomerID,PurchaseAmount,PurchaseFrequency,Recency,AvgUnitCost\n"
        "1,100.0,4,10,2.5\n2,50,1,200,5\n2,50,1,200,5\n3,,2,3,1\n"
    )
    cleaned = clean_transactions(load_transactions(path, columns=ColumnsConfig()), config=CleaningConfig())
    assert cleaned.dropped["duplicate"] == 1 and cleaned.dropped["missing_value"] == 1
    table = customer_table(cleaned, config=CustomersConfig())
    assert table.orders is None and table.snapshot_date is None
    assert table.customers["avg_order_value"].tolist() == [25.0, 50.0]


ROWS = (DATA / "tiny_retail.csv").read_text().splitlines()


@settings(max_examples=6, deadline=None)
@given(st.permutations(list(range(1, len(ROWS)))))
def test_row_order_does_not_change_the_table(tmp_path_factory, order):
    path = tmp_path_factory.mktemp("perm") / "shuffled.csv"
    path.write_text("\n".join([ROWS[0]] + [ROWS[i] for i in order]) + "\n")
    got = _table(path).customers
    want = _table(DATA / "tiny_retail.csv").customers
    pd.testing.assert_frame_equal(got, want)
    assert got["customer_id"].is_unique
    assert np.all(got["frequency"] >= 1)


def test_a_table_cut_at_a_date_is_the_table_of_the_rows_up_to_that_day():

    cleaned = clean_transactions(
        load_transactions(DATA / "tiny_retail.csv", columns=ColumnsConfig()),
        config=CleaningConfig(max_unparseable_share=0.2),
    )
    full = customer_table(cleaned, config=CustomersConfig())
    day = full.first_date + (full.last_date - full.first_date) / 2
    cut = customer_table(cleaned, config=CustomersConfig(), until=day)
    assert cut.snapshot_date == day + dt.timedelta(days=1)
    assert cut.orders["timestamp"].max() < pd.Timestamp(day + dt.timedelta(days=1))
    kept = full.orders[full.orders["timestamp"] < pd.Timestamp(day + dt.timedelta(days=1))]
    assert set(cut.customers["customer_id"]) == set(kept["customer_id"])
    spend = kept.groupby("customer_id")["amount"].sum()
    assert cut.customers.set_index("customer_id")["monetary"].to_dict() == pytest.approx(spend.to_dict())


@pytest.mark.parametrize("hashed", [(True, True), (True, False), (False, True), (False, False)])
def test_products_by_hashed_or_text_keys_are_first_buys_per_day(monkeypatch, hashed):
    import analysis._parts as parts

    # (products hashed, customers hashed): every path must give the table defined on the kept lines.
    monkeypatch.setattr(parts, "_injective", lambda data, column, source: hashed[column == "customer_id"])
    cleaned = clean_transactions(load_transactions(SAMPLE, columns=ColumnsConfig()), config=CleaningConfig())
    engine, d = cleaned.loaded.engine, cleaned.loaded.engine.dialect
    got = engine.rows("SELECT customer_id, day, products FROM _products ORDER BY customer_id, day")
    expected = engine.rows(
        f"""SELECT customer_id, day, count(*) FROM (SELECT customer_id, product, min({d.epoch_day("ts")}) AS day
            FROM clean WHERE product IS NOT NULL GROUP BY customer_id, product) pairs
            GROUP BY customer_id, day ORDER BY customer_id, day"""
    )
    assert len(expected) > 1000 and sum(r[2] for r in expected) > len(expected)
    assert got == expected
    assert "_part_lists" not in {r[0] for r in engine.rows("SELECT table_name FROM duckdb_tables()")}


def test_the_collision_check_compares_distinct_values_with_distinct_hashes(monkeypatch):
    from analysis._parts import _injective

    cleaned = clean_transactions(load_transactions(SAMPLE, columns=ColumnsConfig()), config=CleaningConfig())
    data = cleaned.loaded
    assert _injective(data, "customer_id", "_parts WHERE reason IS NULL")
    assert _injective(data, "product", "_parsed")
    # Every value hashed to one number: what a collision looks like to the check.
    monkeypatch.setattr(type(data.engine.dialect), "row_hash", lambda self, exprs: "42")
    assert not _injective(data, "product", "_parsed")
