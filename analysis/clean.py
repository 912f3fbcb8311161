"""Parse and clean the loaded rows, counting every dropped row under one named reason.

Each row is checked against the rules below *in this order* and counted under
the first one it breaks, so ``rows_in == rows_kept + sum(dropped.values())``
always holds. Reasons with no rows are still listed (as 0).

The rules are SQL expressions over view ``raw`` (:mod:`analysis._rules` reads a
value the same way from text and from typed columns, on DuckDB and on Spark),
evaluated by view ``lines`` (every row, its parsed values and its ``reason``);
view ``clean`` is its rows without a reason. Nothing line-level is stored: the
work is three passes over the file and one small table.

1. A profile (:func:`analysis._checks.profile`): unreadable and out-of-range
   cells per column, the date quartiles of the fence, the currency codes.
2. Exact duplicates: rows whose 64-bit hash of every column occurs more than
   once (a sort of one column on DuckDB, a shuffle aggregation on Spark), then,
   among those rows only, an exact comparison of every column, so a hash
   collision can never drop a row (table ``_dups``: the ``_row`` of each later copy).
3. Table ``_parts``: ``lines`` grouped by reason, customer, order, country and
   calendar day, with row counts, sums and first row. The row accounting, the
   returns, the customer table and the purchase days are read from it. The
   same pass lists each kept group's products, from which table ``_products``
   (the distinct products by the day of their first purchase) is read
   (:mod:`analysis._parts`).

Two of the rules guard the numbers and dates themselves:

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

import datetime as dt
from dataclasses import dataclass

from analysis import _rules as rules
from analysis._checks import (
    Values,
    check_currency,
    check_values,
    column,
    currency_sql,
    date_check,
    date_format,
    parse_once,
    profile,
    transaction_values,
    warn_implausible,
)
from analysis._parts import materialize_parts
from analysis.config import CleaningConfig
from analysis.errors import EmptyDataError
from analysis.load import LoadedData

__all__ = [
    "REASONS",
    "CUSTOMER_REASONS",
    "CleanedData",
    "clean_transactions",
    "parsed_select",
    "flagged_sql",
    "lines_sql",
]

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
    """The row accounting, with views ``lines``, ``clean`` and tables ``_parts``, ``_products`` on ``loaded.engine``.

    ``clean`` columns (transactions): _row, customer_id, order_id, ts (TIMESTAMP),
    quantity (DOUBLE or NULL), unit_price (DOUBLE or NULL), amount
    (DECIMAL(38, 6)), product (VARCHAR or NULL), country (VARCHAR or NULL).
    ``clean`` columns (customer-level input): _row, customer_id, recency,
    frequency, monetary, avg_unit_cost. ``lines`` has the same columns for
    every row, plus ``reason`` (NULL for a kept row). ``currency`` is the one
    ISO 4217 code of the file's currency column, when it has one; ``date_bounds``
    the (lowest, highest) plausible timestamp the rules used (None for an open side).
    """

    loaded: LoadedData
    rows_kept: int
    dropped: dict[str, int]
    reasons: dict[str, str]
    date_format: str | None
    returns_rows: int
    returns_value: float
    returns_customers: int
    currency: str | None = None
    date_bounds: tuple[dt.datetime | None, dt.datetime | None] | None = None

    @property
    def rows_in(self) -> int:
        return self.loaded.rows_in


def _duplicate_flag(data: LoadedData, config: CleaningConfig) -> tuple[str, str]:
    """(the join that brings in ``_dups``, the SQL flag of a later exact copy); materialises ``_dups``."""
    enabled = config.drop_duplicates is True or (config.drop_duplicates == "auto" and "invoice" in data.roles)
    if not enabled:
        return "", "FALSE"
    engine, d = data.engine, data.engine.dialect
    cols = [d.ident(c) for c in data.types if c != "_row"]
    hashed = d.row_hash(cols)
    engine.run(d.materialize("_dup_hashes", d.repeated(hashed, "raw")))
    if not engine.rows("SELECT count(*) FROM _dup_hashes")[0][0]:
        return "", "FALSE"
    # Equal hashes are only candidates: the copies are rows equal in every column, numbered in file order.
    engine.run(
        d.materialize(
            "_dups",
            f"SELECT _row FROM (SELECT _row, row_number() OVER (PARTITION BY {', '.join(cols)} ORDER BY _row) "
            f"AS copy FROM raw WHERE {hashed} IN (SELECT h FROM _dup_hashes)) candidates WHERE copy > 1",
        )
    )
    return " LEFT JOIN _dups ON _parsed._row = _dups._row", "_dups._row IS NOT NULL"


def parsed_select(data: LoadedData, values: Values) -> str:
    """The SELECT list of ``_parsed`` for transactions: the row, the identifiers and texts, the values."""
    d, roles = data.engine.dialect, data.roles
    text = {
        r: rules.text_value(d, *column(data, r)) if r in roles else "NULL" for r in ("invoice", "product", "country")
    }
    currency = currency_sql(data)
    return (
        f"_row, {rules.identifier(d, *column(data, 'customer'))} AS customer_id, "
        f"CAST({text['invoice']} AS STRING) AS invoice, CAST({text['product']} AS STRING) AS product, "
        f"CAST({text['country']} AS STRING) AS country, {values.layer()}"
        + ("" if currency is None else f", {currency} AS _cur")
    )


def flagged_sql(data: LoadedData, config: CleaningConfig, values: Values, join: str, dup: str) -> str:
    """``_parsed`` with the line amount, the duplicate flag and the flags of the first two rules."""
    d, limit = data.engine.dialect, config.max_abs_number
    missing = [f"CAST(NULL AS DOUBLE) AS {c}" for c in ("quantity", "unit_price") if c not in values.columns.values()]
    amount = "amount_in" if "amount" in data.roles else "(quantity * unit_price)"
    parsed = f"SELECT _parsed.*{''.join(', ' + m for m in missing)}, {dup} AS dup FROM _parsed{join}"
    return f"""
        SELECT *, {values.unparseable()} AS bad_parse, {values.out_of_range(d, limit, "amt")} AS bad_range
        FROM (SELECT *, {amount} AS amt FROM ({parsed}) parsed) with_amount"""


def lines_sql(data: LoadedData, config: CleaningConfig, parsed: str, implausible: str) -> str:
    """View ``lines``: the parsed rows, the order id, the exact amount and the first rule each row breaks."""
    d, roles, limit = data.engine.dialect, data.roles, config.max_abs_number
    needed = ["ts", "amt"] + [role for role in ("unit_price", "quantity") if role in roles]
    codes = ", ".join(d.literal(c) for c in config.non_product_codes) or "NULL"
    prefixes = [f"substr(product, 1, {len(p)}) = {d.literal(p)}" for p in config.non_product_prefixes]
    # With unit prices, a zero price is a free line, not revenue. A log with only
    # line amounts (CDNOW) records real purchase occasions worth $0 (80 lines in
    # CDNOW); the published BG/NBD fits count them, so only negative amounts go.
    price_check = "unit_price <= 0" if "unit_price" in roles else "amt < 0"
    # Amounts are exact decimals (to 6 places) so that sums do not depend on the
    # order in which the engine's threads add them: same data, same bytes. Only an
    # amount within the limit is cast, so that no value can overflow the decimal.
    exact = f"CASE WHEN {d.is_finite('amt')} AND abs(amt) <= {limit!r} THEN CAST(round(amt, 6) AS DECIMAL(38, 6)) END"
    return f"""
        SELECT _row, customer_id, invoice, coalesce(invoice, customer_id || '@' || {d.format_ts("ts")}) AS order_id, ts,
               quantity, unit_price, {exact} AS amount, product, country,
               CASE
                 WHEN bad_parse THEN 'unparseable'
                 WHEN bad_range THEN 'out_of_range'
                 WHEN {implausible} THEN 'implausible_date'
                 WHEN dup THEN 'duplicate'
                 WHEN customer_id IS NULL THEN 'missing_customer'
                 WHEN {" OR ".join(f"{e} IS NULL" for e in needed)} THEN 'missing_value'
                 WHEN upper(substr(coalesce(invoice, ''), 1, 1)) = 'C' THEN 'cancellation'
                 WHEN product IN ({codes}) OR {" OR ".join(prefixes) or "FALSE"} THEN 'non_product'
                 WHEN quantity <= 0 THEN 'non_positive_quantity'
                 WHEN {price_check} THEN 'non_positive_price'
               END AS reason
        FROM ({parsed}) flagged"""


def _accounting(data: LoadedData, reasons: dict[str, str], query: str) -> tuple[dict[str, int], int, dict]:
    """(rows dropped by reason with every reason listed, rows kept, {reason: first row}) from ``query``'s
    rows of (reason, rows, first row)."""
    counted = data.engine.rows(query)
    counts = {reason: int(n) for reason, n, _ in counted}
    first = {reason: row for reason, _, row in counted}
    return {r: counts.get(r, 0) for r in reasons}, counts.get(None, 0), first


def _clean_transactions(data: LoadedData, config: CleaningConfig) -> CleanedData:
    engine = data.engine
    fmt = date_format(data)
    values = transaction_values(data, fmt)
    parse_once(data, parsed_select(data, values))
    fence = config.date_fence > 0 and (config.min_date is None or config.max_date is None)
    found = profile(data, values, config.max_abs_number, quartiles=fence)
    check_values(data, found, config.max_abs_number, config.max_unparseable_share)
    currency = check_currency(data, found)
    implausible, bounds = date_check(found, "ts", config)
    join, dup = _duplicate_flag(data, config)
    lines = lines_sql(data, config, flagged_sql(data, config, values, join, dup), implausible)
    engine.execute(f"CREATE OR REPLACE TEMP VIEW lines AS {lines}")
    engine.execute(
        "CREATE OR REPLACE TEMP VIEW clean AS SELECT _row, customer_id, order_id, ts, quantity, unit_price, "
        "amount, product, country FROM lines WHERE reason IS NULL"
    )
    materialize_parts(data)
    dropped, kept, first = _accounting(
        data, REASONS, "SELECT reason, sum(lines), min(first_row) FROM _parts GROUP BY reason"
    )
    warn_implausible(data, dropped["implausible_date"], first.get("implausible_date"), bounds)
    returns = engine.rows(
        "SELECT coalesce(sum(return_lines), 0), coalesce(sum(return_value), 0), "
        "count(DISTINCT CASE WHEN return_lines > 0 THEN customer_id END) FROM _parts "
        "WHERE reason IN ('cancellation', 'non_positive_quantity')"
    )[0]
    return CleanedData(
        loaded=data,
        rows_kept=kept,
        dropped=dropped,
        reasons=dict(REASONS),
        date_format=fmt,
        returns_rows=int(returns[0]),
        returns_value=float(returns[1]),
        returns_customers=int(returns[2]),
        currency=currency,
        date_bounds=bounds,
    )


def _clean_customers(data: LoadedData, config: CleaningConfig) -> CleanedData:
    d = data.engine.dialect
    numbers = ("monetary", "frequency", "recency", "avg_unit_cost")
    parsed = {role: rules.number(d, *column(data, role)) for role in numbers}
    present = {role: rules.present(d, *column(data, role)) for role in numbers}
    values = Values(parsed, present, numbers, {role: role for role in numbers})
    limit = config.max_abs_number
    parse_once(data, f"_row, {rules.identifier(d, *column(data, 'customer'))} AS customer_id, {values.layer()}")
    check_values(data, profile(data, values, limit, quartiles=False), limit, config.max_unparseable_share)
    missing = " OR ".join(f"{role} IS NULL" for role in numbers)
    data.engine.execute(
        f"""
        CREATE OR REPLACE TEMP VIEW lines AS
        SELECT _row, customer_id, recency, frequency, monetary, avg_unit_cost,
               CASE
                 WHEN bad_parse THEN 'unparseable'
                 WHEN bad_range THEN 'out_of_range'
                 WHEN customer_id IS NOT NULL AND copy > 1 THEN 'duplicate'
                 WHEN customer_id IS NULL THEN 'missing_customer'
                 WHEN {missing} THEN 'missing_value'
                 WHEN frequency <= 0 THEN 'non_positive_frequency'
                 WHEN monetary <= 0 OR avg_unit_cost <= 0 THEN 'non_positive_price'
               END AS reason
        FROM (
          SELECT *, {values.unparseable()} AS bad_parse, {values.out_of_range(d, limit)} AS bad_range,
                 row_number() OVER (PARTITION BY customer_id ORDER BY _row) AS copy
          FROM _parsed) parsed
        """
    )
    data.engine.execute(
        "CREATE OR REPLACE TEMP VIEW clean AS SELECT _row, customer_id, recency, frequency, monetary, "
        "avg_unit_cost FROM lines WHERE reason IS NULL"
    )
    dropped, kept, _ = _accounting(
        data, CUSTOMER_REASONS, "SELECT reason, count(*), min(_row) FROM lines GROUP BY reason"
    )
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
        The loaded file (view ``raw``).
    config
        Non-product codes, duplicate handling and the unparseable-share limit.

    Returns
    -------
    CleanedData
        Views ``lines`` and ``clean`` on the same engine, and the row accounting.

    Raises
    ------
    DataError
        A column whose values mostly do not parse (file, column, first bad value);
        a currency column holding several currencies.
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
