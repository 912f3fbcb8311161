"""Parse and clean the loaded rows, counting every dropped row under one named reason.

Each row is checked against the rules below *in this order* and counted under
the first one it breaks, so ``rows_in == rows_kept + sum(dropped.values())``
always holds. Reasons with no rows are still listed (as 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from analysis.config import CleaningConfig
from analysis.errors import DataError, EmptyDataError
from analysis.load import LoadedData

__all__ = ["REASONS", "CleanedData", "clean_transactions"]

# reason -> plain-language meaning, in evaluation order.
REASONS: dict[str, str] = {
    "unparseable": "a date or number that cannot be read",
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
    "duplicate": "a second row for a customer already seen",
    "missing_customer": REASONS["missing_customer"],
    "missing_value": "no value for one of recency, frequency, spend or unit cost",
    "non_positive_frequency": "zero or negative purchase frequency",
    "non_positive_price": "zero or negative spend or unit cost",
}

DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d",
    "%Y%m%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y %H:%M",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d.%m.%Y",
)


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


def _text(role: str) -> str:
    return f"NULLIF(trim(\"{role}\"), '')"


def _customer_expr() -> str:
    # IDs stored as floats in some exports ("13085.0") are the same customer as "13085".
    return f"regexp_replace({_text('customer')}, '^([0-9]+)\\.0+$', '\\1')"


def _number(role: str) -> str:
    return f"TRY_CAST(replace({_text(role)}, '£', '') AS DOUBLE)"


def _detect_date_format(data: LoadedData) -> str:
    con = data.con
    sample = con.execute(
        "SELECT DISTINCT trim(timestamp) AS v FROM raw WHERE NULLIF(trim(timestamp), '') IS NOT NULL LIMIT 20000"
    ).fetchall()
    values = [row[0] for row in sample]
    if not values:
        raise EmptyDataError("every value of the date column is empty.", path=data.path, column=data.roles["timestamp"])
    con.execute("CREATE OR REPLACE TEMP TABLE _dates(v VARCHAR)")
    con.executemany("INSERT INTO _dates VALUES (?)", [(v,) for v in values])
    best, best_fail = None, None
    for fmt in DATE_FORMATS:
        fails = con.execute("SELECT count(*) FROM _dates WHERE try_strptime(v, ?) IS NULL", [fmt]).fetchone()[0]
        if best_fail is None or fails < best_fail:
            best, best_fail = fmt, fails
        if fails == 0:
            break
    con.execute("DROP TABLE _dates")
    if best_fail == len(values):
        raise DataError(
            f"no date format fits the date column (tried {len(DATE_FORMATS)} formats, set [columns] date_format).",
            path=data.path,
            column=data.roles["timestamp"],
            value=values[0],
        )
    return best


def _check_parse_share(data: LoadedData, role: str, parsed: str, limit: float) -> None:
    """Stop with a one-line error when a column is mostly unreadable, not just a few cells."""
    con = data.con
    present, bad, first_row, first_value = con.execute(
        f"""
        SELECT count(*) FILTER (WHERE {_text(role)} IS NOT NULL),
               count(*) FILTER (WHERE {_text(role)} IS NOT NULL AND {parsed} IS NULL),
               min(_row) FILTER (WHERE {_text(role)} IS NOT NULL AND {parsed} IS NULL),
               arg_min("{role}", _row) FILTER (WHERE {_text(role)} IS NOT NULL AND {parsed} IS NULL)
        FROM raw
        """
    ).fetchone()
    if bad and bad / max(present, 1) > limit:
        kind = "date" if role == "timestamp" else "number"
        raise DataError(
            f"{bad:,} of {present:,} values are not a valid {kind} "
            f"(more than the allowed {limit:.1%}; first at data row {first_row}).",
            path=data.path,
            column=data.roles[role],
            value=first_value,
        )


def _finite(expr: str) -> str:
    return f"CASE WHEN isfinite({expr}) THEN {expr} END"


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


def _clean_transactions(data: LoadedData, config: CleaningConfig) -> CleanedData:
    con, roles = data.con, data.roles
    fmt = data.date_format or _detect_date_format(data)
    parsed = {"timestamp": f"try_strptime({_text('timestamp')}, '{fmt}')"}
    for role in ("quantity", "unit_price", "amount"):
        if role in roles:
            parsed[role] = _finite(_number(role))
    for role, expr in parsed.items():
        _check_parse_share(data, role, expr, config.max_unparseable_share)

    unparseable = " OR ".join(f"({_text(r)} IS NOT NULL AND {e} IS NULL)" for r, e in parsed.items())
    if "amount" in roles:
        amount = parsed["amount"]
    else:
        amount = f"({parsed['quantity']} * {parsed['unit_price']})"
    qty = parsed.get("quantity", "NULL::DOUBLE")
    price = parsed.get("unit_price", "NULL::DOUBLE")
    needed = [parsed["timestamp"], amount]
    if "unit_price" in roles:
        needed.append(price)
    if "quantity" in roles:
        needed.append(qty)
    missing_value = " OR ".join(f"{e} IS NULL" for e in needed)
    invoice = _text("invoice") if "invoice" in roles else "NULL"
    product = _text("product") if "product" in roles else "NULL"
    codes = ", ".join("'" + c.replace("'", "''") + "'" for c in config.non_product_codes) or "NULL"
    prefixes = (
        " OR ".join(f"starts_with({product}, '" + p.replace("'", "''") + "')" for p in config.non_product_prefixes)
        or "FALSE"
    )
    src_cols = [f'"{c}"' for c in con.execute("SELECT * FROM raw LIMIT 0").fetch_df().columns if c != "_row"]
    dup = (
        f"row_number() OVER (PARTITION BY {', '.join(src_cols)} ORDER BY _row) > 1"
        if config.drop_duplicates is True or (config.drop_duplicates == "auto" and "invoice" in roles)
        else "FALSE"
    )
    # With unit prices, a zero price is a free line, not revenue. A log with only
    # line amounts (CDNOW) records real purchase occasions worth $0 (80 lines in
    # CDNOW); the published BG/NBD fits count them, so only negative amounts go.
    price_check = f"{price} <= 0" if "unit_price" in roles else f"{amount} < 0"
    con.execute(
        f"""
        CREATE OR REPLACE TABLE flagged AS
        SELECT _row,
               {_customer_expr()} AS customer_id,
               {invoice} AS invoice,
               {parsed["timestamp"]} AS ts,
               {qty} AS quantity,
               {price} AS unit_price,
               CAST(round({amount}, 6) AS DECIMAL(38, 6)) AS amount,
               {product} AS product,
               {_text("country") if "country" in roles else "NULL"} AS country,
               CASE
                 WHEN {unparseable} THEN 'unparseable'
                 WHEN {dup} THEN 'duplicate'
                 WHEN {_customer_expr()} IS NULL THEN 'missing_customer'
                 WHEN {missing_value} THEN 'missing_value'
                 WHEN starts_with(upper(coalesce({invoice}, '')), 'C') THEN 'cancellation'
                 WHEN {product} IN ({codes}) OR {prefixes} THEN 'non_product'
                 WHEN {qty} <= 0 THEN 'non_positive_quantity'
                 WHEN {price_check} THEN 'non_positive_price'
               END AS reason
        FROM raw
        """
    )
    returns = con.execute(
        """
        SELECT count(*), coalesce(sum(abs(amount)), 0), count(DISTINCT customer_id) FROM flagged
        WHERE reason IN ('cancellation', 'non_positive_quantity') AND quantity < 0
        """
    ).fetchone()
    # Amounts are exact decimals (to 6 places) so that sums do not depend on the
    # order in which DuckDB's threads add them: same data, same bytes.
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
    parsed = {role: _finite(_number(role)) for role in ("monetary", "frequency", "recency", "avg_unit_cost")}
    for role, expr in parsed.items():
        _check_parse_share(data, role, expr, config.max_unparseable_share)
    unparseable = " OR ".join(f"({_text(r)} IS NOT NULL AND {e} IS NULL)" for r, e in parsed.items())
    missing = " OR ".join(f"{e} IS NULL" for e in parsed.values())
    con.execute(
        f"""
        CREATE OR REPLACE TABLE flagged AS
        SELECT _row, {_customer_expr()} AS customer_id,
               {parsed["recency"]} AS recency, {parsed["frequency"]} AS frequency,
               {parsed["monetary"]} AS monetary, {parsed["avg_unit_cost"]} AS avg_unit_cost,
               CASE
                 WHEN {unparseable} THEN 'unparseable'
                 WHEN {_customer_expr()} IS NOT NULL AND row_number() OVER (
                      PARTITION BY {_customer_expr()} ORDER BY _row) > 1 THEN 'duplicate'
                 WHEN {_customer_expr()} IS NULL THEN 'missing_customer'
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
