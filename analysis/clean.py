"""Parse and clean the loaded rows, counting every dropped row under one named reason.

Each row is checked against the rules below *in this order* and counted under
the first one it breaks, so ``rows_in == rows_kept + sum(dropped.values())``
always holds. Reasons with no rows are still listed (as 0).

The rules are SQL expressions over view ``raw`` (:mod:`analysis._rules` reads a
value the same way from text and from typed columns). Two of them guard the
numbers and dates themselves:

- ``out_of_range``: a quantity, unit price or line amount whose size is above
  ``[cleaning] max_abs_number`` (1e12 by default, at most 1e15 so that amounts
  stay exact decimals to 6 places), or that is infinite. When more than
  ``max_unparseable_share`` of a column is out of range (or unparseable), the
  run stops with a one-line error naming the file, the column and the first
  bad value instead.
- ``implausible_date``: a date outside the date fence, ``k * max(IQR, 365
  days)`` beyond the first and third quartiles of every parsed date in the
  file (``k = [cleaning] date_fence``, 3 by default; 0 turns it off), or
  outside ``[cleaning] min_date`` / ``max_date``, each of which replaces the
  fence on its side. A warning gives the count, the bounds and the first such
  row. The snapshot date is taken from the kept rows, so one row dated 2099 can
  no longer move it. On the real files (Online Retail II, Online Retail, CDNOW)
  the fence drops no row.

A text date column's format is detected without guessing (see
:mod:`analysis._dates`); a typed timestamp column (Parquet, Excel) needs none.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from analysis import _rules as rules
from analysis._checks import (
    Values,
    check_values,
    column,
    date_check,
    date_format,
    transaction_values,
    warn_implausible,
)
from analysis.config import CleaningConfig
from analysis.errors import EmptyDataError
from analysis.load import LoadedData

__all__ = ["REASONS", "CUSTOMER_REASONS", "CleanedData", "clean_transactions"]

# reason -> plain-language meaning, in evaluation order.
REASONS: dict[str, str] = {
    "unparseable": "a date or number that cannot be read",
    "out_of_range": "a quantity, price or amount too large to be real (above [cleaning] max_abs_number) or infinite",
    "implausible_date": "a date far outside the rest of the file (beyond the date fence) or the configured date bounds",
    "duplicate": "an exact copy of an earlier row (e.g. 1-9 Dec 2010 appears in both sheets of Online Retail II)",
    "missing_customer": "no customer ID, so the purchase cannot be attributed",
    "missing_value": "no date, or no amount / quantity / price",
    "cancellation": "a cancelled invoice (invoice number starting with 'C'); counted as a return",
    "non_product": "postage, fees, vouchers, bank charges and manual adjustments (not merchandise)",
    "non_positive_quantity": "zero or negative quantity (returns and stock adjustments outside 'C' invoices)",
    "non_positive_price": (
        "zero or negative unit price (free items, bad-debt adjustments); without unit prices, a negative amount"
    ),
}
CUSTOMER_REASONS: dict[str, str] = {
    "unparseable": REASONS["unparseable"],
    "out_of_range": "a spend, frequency, recency or unit cost above [cleaning] max_abs_number, or infinite",
    "duplicate": "a second row for a customer already seen",
    "missing_customer": REASONS["missing_customer"],
    "missing_value": "no value for one of recency, frequency, spend or unit cost",
    "non_positive_frequency": "zero or negative purchase frequency",
    "non_positive_price": "zero or negative spend or unit cost",
}


@dataclass(frozen=True)
class CleanedData:
    """Kept rows as DuckDB table ``clean`` on ``loaded.con``, plus the row accounting.

    ``clean`` columns (transactions): customer_id, order_id, ts (TIMESTAMP),
    quantity (DOUBLE or NULL), unit_price (DOUBLE or NULL), amount (DOUBLE),
    product (VARCHAR or NULL), country (VARCHAR or NULL).
    ``clean`` columns (customer-level input): customer_id, recency, frequency,
    monetary, avg_unit_cost.
    """

    loaded: LoadedData
    rows_kept: int
    dropped: dict[str, int]
    reasons: dict[str, str]
    date_format: str | None
    returns_rows: int
    returns_value: float
    returns_customers: int

    @property
    def rows_in(self) -> int:
        return self.loaded.rows_in


def _keep_unflagged(
    con: duckdb.DuckDBPyConnection, reasons: dict[str, str], columns: str
) -> tuple[dict[str, int], int]:
    """Count table ``flagged`` by reason (every reason listed), keep its unflagged rows as
    table ``clean`` (``columns``, in file order) and drop ``flagged``; return (dropped, kept)."""
    counted = con.execute("SELECT reason, count(*) FROM flagged WHERE reason IS NOT NULL GROUP BY reason")
    counts = dict(counted.fetchall())
    con.execute(f"CREATE OR REPLACE TABLE clean AS SELECT {columns} FROM flagged WHERE reason IS NULL ORDER BY _row")
    con.execute("DROP TABLE flagged")
    kept = con.execute("SELECT count(*) FROM clean").fetchone()[0]
    return {reason: int(counts.get(reason, 0)) for reason in reasons}, int(kept)


def _transaction_rules(data: LoadedData, config: CleaningConfig, values: Values, implausible: str) -> str:
    """The SELECT list of table ``flagged``: the parsed columns, then every rule, in order, as one CASE."""
    roles, parsed, limit = data.roles, values.parsed, config.max_abs_number
    ts = parsed["timestamp"]
    amount = parsed["amount"] if "amount" in roles else f"({parsed['quantity']} * {parsed['unit_price']})"
    qty = parsed.get("quantity", "NULL::DOUBLE")
    price = parsed.get("unit_price", "NULL::DOUBLE")
    needed = [ts, amount] + [parsed[r] for r in ("unit_price", "quantity") if r in roles]
    text = {r: rules.text_value(*column(data, r)) if r in roles else "NULL" for r in ("invoice", "product", "country")}
    invoice, product = text["invoice"], text["product"]
    customer = rules.identifier(*column(data, "customer"))
    codes = ", ".join(rules.quote_literal(c) for c in config.non_product_codes) or "NULL"
    prefixes = [f"starts_with({product}, {rules.quote_literal(p)})" for p in config.non_product_prefixes]
    src_cols = ", ".join(rules.quote_ident(c) for c in data.types if c != "_row")
    dup = (
        f"row_number() OVER (PARTITION BY {src_cols} ORDER BY _row) > 1"
        if config.drop_duplicates is True or (config.drop_duplicates == "auto" and "invoice" in roles)
        else "FALSE"
    )
    # With unit prices, a zero price is a free line, not revenue. A log with only
    # line amounts (CDNOW) records real purchase occasions worth $0 (80 lines in
    # CDNOW); the published BG/NBD fits count them, so only negative amounts go.
    price_check = f"{price} <= 0" if "unit_price" in roles else f"{amount} < 0"
    # Amounts are exact decimals (to 6 places) so that sums do not depend on the
    # order in which DuckDB's threads add them: same data, same bytes. Only an
    # amount within the limit is cast, so that no value can overflow the decimal.
    exact = (
        f"CASE WHEN isfinite({amount}) AND abs({amount}) <= {limit!r} "
        f"THEN CAST(round({amount}, 6) AS DECIMAL(38, 6)) END"
    )
    select = f"""
        _row, {customer} AS customer_id, {invoice} AS invoice, {ts} AS ts,
        {qty} AS quantity, {price} AS unit_price, {exact} AS amount,
        {product} AS product, {text["country"]} AS country,
        CASE
          WHEN {values.unparseable()} THEN 'unparseable'
          WHEN {values.out_of_range(limit, amount)} THEN 'out_of_range'
          WHEN {implausible} THEN 'implausible_date'
          WHEN {dup} THEN 'duplicate'
          WHEN {customer} IS NULL THEN 'missing_customer'
          WHEN {" OR ".join(f"{e} IS NULL" for e in needed)} THEN 'missing_value'
          WHEN starts_with(upper(coalesce({invoice}, '')), 'C') THEN 'cancellation'
          WHEN {product} IN ({codes}) OR {" OR ".join(prefixes) or "FALSE"} THEN 'non_product'
          WHEN {qty} <= 0 THEN 'non_positive_quantity'
          WHEN {price_check} THEN 'non_positive_price'
        END AS reason"""
    return select


def _clean_transactions(data: LoadedData, config: CleaningConfig) -> CleanedData:
    con = data.con
    fmt = date_format(data)
    values = transaction_values(data, fmt)
    check_values(data, values, config.max_abs_number, config.max_unparseable_share)
    implausible, bounds = date_check(data, values.parsed["timestamp"], config)
    select = _transaction_rules(data, config, values, implausible)
    con.execute(f"CREATE OR REPLACE TABLE flagged AS SELECT {select} FROM raw")
    warn_implausible(data, bounds)
    returns = con.execute(
        """
        SELECT count(*), coalesce(sum(abs(amount)), 0), count(DISTINCT customer_id) FROM flagged
        WHERE reason IN ('cancellation', 'non_positive_quantity') AND quantity < 0
        """
    ).fetchone()
    order_id = "coalesce(invoice, customer_id || '@' || strftime(ts, '%Y-%m-%dT%H:%M:%S'))"
    dropped, kept = _keep_unflagged(
        con, REASONS, f"customer_id, {order_id} AS order_id, ts, quantity, unit_price, amount, product, country"
    )
    return CleanedData(
        loaded=data,
        rows_kept=kept,
        dropped=dropped,
        reasons=dict(REASONS),
        date_format=fmt,
        returns_rows=int(returns[0]),
        returns_value=float(returns[1]),
        returns_customers=int(returns[2]),
    )


def _clean_customers(data: LoadedData, config: CleaningConfig) -> CleanedData:
    con = data.con
    numbers = ("monetary", "frequency", "recency", "avg_unit_cost")
    parsed = {role: rules.number(*column(data, role)) for role in numbers}
    present = {role: rules.present(*column(data, role)) for role in numbers}
    values = Values(parsed, present, numbers)
    limit = config.max_abs_number
    check_values(data, values, limit, config.max_unparseable_share)
    customer = rules.identifier(*column(data, "customer"))
    missing = " OR ".join(f"{e} IS NULL" for e in parsed.values())
    con.execute(
        f"""
        CREATE OR REPLACE TABLE flagged AS
        SELECT _row, {customer} AS customer_id,
               {parsed["recency"]} AS recency, {parsed["frequency"]} AS frequency,
               {parsed["monetary"]} AS monetary, {parsed["avg_unit_cost"]} AS avg_unit_cost,
               CASE
                 WHEN {values.unparseable()} THEN 'unparseable'
                 WHEN {values.out_of_range(limit)} THEN 'out_of_range'
                 WHEN {customer} IS NOT NULL AND row_number() OVER (
                      PARTITION BY {customer} ORDER BY _row) > 1 THEN 'duplicate'
                 WHEN {customer} IS NULL THEN 'missing_customer'
                 WHEN {missing} THEN 'missing_value'
                 WHEN {parsed["frequency"]} <= 0 THEN 'non_positive_frequency'
                 WHEN {parsed["monetary"]} <= 0 OR {parsed["avg_unit_cost"]} <= 0 THEN 'non_positive_price'
               END AS reason
        FROM raw
        """
    )
    dropped, kept = _keep_unflagged(con, CUSTOMER_REASONS, "customer_id, recency, frequency, monetary, avg_unit_cost")
    return CleanedData(
        loaded=data,
        rows_kept=kept,
        dropped=dropped,
        reasons=dict(CUSTOMER_REASONS),
        date_format=None,
        returns_rows=0,
        returns_value=0.0,
        returns_customers=0,
    )


def clean_transactions(data: LoadedData, *, config: CleaningConfig) -> CleanedData:
    """Parse dates and numbers, drop unusable rows and count each under its reason.

    Parameters
    ----------
    data
        The loaded file (table ``raw``).
    config
        Non-product codes, duplicate handling and the unparseable-share limit.

    Returns
    -------
    CleanedData
        Table ``clean`` on the same connection and the row accounting.

    Raises
    ------
    DataError
        A column whose values mostly do not parse (file, column, first bad value).
    EmptyDataError
        Every row was dropped (the message gives the counts by reason).
    """
    if data.level == "customers":
        result = _clean_customers(data, config)
    else:
        result = _clean_transactions(data, config)
    assert result.rows_kept + sum(result.dropped.values()) == data.rows_in, "row accounting broken"
    if result.rows_kept == 0:
        top = ", ".join(f"{k}={v:,}" for k, v in result.dropped.items() if v)
        raise EmptyDataError(f"every one of the {data.rows_in:,} rows was dropped ({top}).", path=data.path)
    return result
