"""Load a transaction log (CSV, CSV.gz or Parquet) into DuckDB and map its columns to roles.

Every column is read as text first, so that parsing, and counting what does not
parse, happens in one place (:mod:`analysis.clean`) whatever the file format.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from analysis.bundle import Source
from analysis.config import ColumnsConfig
from analysis.errors import DataError, EmptyDataError, SchemaMappingError

__all__ = ["LoadedData", "KNOWN_SHAPES", "KNOWN_CURRENCIES", "load_transactions"]

TRANSACTION_ROLES = (
    "customer",
    "timestamp",
    "invoice",
    "quantity",
    "unit_price",
    "amount",
    "product",
    "description",
    "country",
)
CUSTOMER_ROLES = ("customer", "monetary", "frequency", "recency", "avg_unit_cost")

# Layouts recognised without configuration: {shape: (level, {role: column})}.
KNOWN_SHAPES: dict[str, tuple[str, dict[str, str]]] = {
    "online_retail_ii": (
        "transactions",
        {
            "invoice": "Invoice",
            "product": "StockCode",
            "description": "Description",
            "quantity": "Quantity",
            "timestamp": "InvoiceDate",
            "unit_price": "Price",
            "customer": "Customer ID",
            "country": "Country",
        },
    ),
    "online_retail": (
        "transactions",
        {
            "invoice": "InvoiceNo",
            "product": "StockCode",
            "description": "Description",
            "quantity": "Quantity",
            "timestamp": "InvoiceDate",
            "unit_price": "UnitPrice",
            "customer": "CustomerID",
            "country": "Country",
        },
    ),
    "cdnow": (
        "transactions",
        {
            "customer": "customer_id",
            "timestamp": "date",
            "quantity": "number_of_cds",
            "amount": "dollar_value",
        },
    ),
    "customer_data": (
        "customers",
        {
            "customer": "CustomerID",
            "monetary": "PurchaseAmount",
            "frequency": "PurchaseFrequency",
            "recency": "Recency",
            "avg_unit_cost": "AvgUnitCost",
        },
    ),
}

# Currency of the recognised public data sets (ISO 4217).
KNOWN_CURRENCIES = {"online_retail_ii": "GBP", "online_retail": "GBP", "cdnow": "USD"}

# Candidate names for an unconfigured file, compared after lower-casing and
# removing everything but letters and digits.
_ALIASES: dict[str, tuple[str, ...]] = {
    "customer": ("customerid", "customer", "customerno", "clientid", "client", "userid", "memberid"),
    "timestamp": ("invoicedate", "orderdate", "transactiondate", "purchasedate", "timestamp", "datetime", "date"),
    "invoice": ("invoice", "invoiceno", "invoiceid", "orderid", "orderno", "order", "transactionid"),
    "quantity": ("quantity", "qty", "units", "numberofitems"),
    "unit_price": ("unitprice", "price", "itemprice"),
    "amount": ("amount", "lineamount", "total", "linetotal", "sales", "revenue", "value", "dollarvalue"),
    "product": ("stockcode", "productid", "sku", "product", "itemid"),
    "description": ("description", "productname", "itemname"),
    "country": ("country", "region"),
}


@dataclass(frozen=True)
class LoadedData:
    """A file loaded into DuckDB as table ``raw`` (all text) plus its role mapping.

    ``raw`` has the source columns renamed to their roles (``customer``,
    ``timestamp``, ...), every value as VARCHAR, and ``_row``: the 1-based data
    row number in the file (for error messages).
    """

    con: duckdb.DuckDBPyConnection = field(repr=False)
    path: Path
    source: Source
    roles: dict[str, str]
    rows_in: int
    columns_found: tuple[str, ...]
    date_format: str | None

    @property
    def level(self) -> str:
        return self.source.level


def _file_format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".parquet") or name.endswith(".pq"):
        return "parquet"
    if name.endswith(".csv.gz") or name.endswith(".tsv.gz") or name.endswith(".txt.gz"):
        return "csv.gz"
    if name.endswith(".csv") or name.endswith(".tsv") or name.endswith(".txt"):
        return "csv"
    raise DataError(
        "unsupported file type; allowed: .csv, .csv.gz, .parquet.", path=path, value=path.suffix or path.name
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _map_roles(columns: list[str], cfg: ColumnsConfig, path: Path) -> tuple[str, str, dict[str, str]]:
    """Return (shape, level, {role: column})."""
    configured = cfg.mapping()
    header = set(columns)
    for shape, (level, mapping) in KNOWN_SHAPES.items():
        if set(mapping.values()) <= header and not configured:
            return shape, level, dict(mapping)
    if configured:
        missing_cols = [f"{role}={col!r}" for role, col in configured.items() if col not in header]
        if missing_cols:
            raise SchemaMappingError(
                f"[columns] names column(s) not in the file: {', '.join(missing_cols)}; columns found: {columns}.",
                path=path,
            )
        mapping = dict(configured)
        level = "customers" if {"monetary", "recency"} & set(mapping) else "transactions"
        shape = "custom"
    else:
        mapping = {}
        by_norm = {_norm(c): c for c in columns}
        for role, aliases in _ALIASES.items():
            for alias in aliases:
                if alias in by_norm and by_norm[alias] not in mapping.values():
                    mapping[role] = by_norm[alias]
                    break
        level, shape = "transactions", "auto"
    _check_required(mapping, level, columns, path)
    return shape, level, mapping


def _check_required(mapping: dict[str, str], level: str, columns: list[str], path: Path) -> None:
    if level == "customers":
        missing = [r for r in CUSTOMER_ROLES if r not in mapping]
    else:
        missing = [r for r in ("customer", "timestamp") if r not in mapping]
        if "amount" not in mapping and not {"quantity", "unit_price"} <= set(mapping):
            missing.append("amount (or quantity and unit_price)")
    if missing:
        raise SchemaMappingError(
            f"cannot map the columns to the roles the pipeline needs; missing role(s): "
            f"{', '.join(missing)}. Columns found: {columns}. "
            "Name them in the [columns] section of a config file.",
            path=path,
        )


def _read_relation(con: duckdb.DuckDBPyConnection, path: Path, fmt: str) -> duckdb.DuckDBPyRelation:
    try:
        if fmt == "parquet":
            return con.read_parquet(str(path))
        return con.read_csv(str(path), header=True, all_varchar=True, auto_detect=True, sample_size=-1)
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0]
        raise DataError(f"cannot be read as {fmt}: {first}", path=path) from None


def load_transactions(path: Path, *, columns: ColumnsConfig) -> LoadedData:
    """Load ``path`` into an in-memory DuckDB table ``raw`` with role-named text columns.

    Parameters
    ----------
    path
        A ``.csv``, ``.csv.gz`` or ``.parquet`` file with a header row.
    columns
        Optional explicit role mapping; empty for the recognised layouts.

    Returns
    -------
    LoadedData
        ``raw`` columns: ``_row`` (1-based row in the file), one VARCHAR column
        per mapped role, and ``_src_N`` (text) for each source column mapped to
        no role; together they are every column of the file, for exact-duplicate
        detection.

    Raises
    ------
    DataError
        Missing or unreadable file, unsupported type.
    EmptyDataError
        The file has no data rows.
    SchemaMappingError
        Roles that cannot be mapped (every missing role listed, with the columns found).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("input file not found.", path=path)
    fmt = _file_format(path)
    if path.stat().st_size == 0:
        raise EmptyDataError("the file is empty (no header, no rows).", path=path)
    con = duckdb.connect(":memory:")
    con.execute("SET preserve_insertion_order = true")
    con.execute("SET enable_progress_bar = false")
    rel = _read_relation(con, path, fmt)
    found = list(rel.columns)
    shape, level, mapping = _map_roles(found, columns, path)
    con.register("_src", rel)
    role_cols = ", ".join(f'CAST("{col}" AS VARCHAR) AS "{role}"' for role, col in mapping.items())
    # Columns mapped to no role are kept too (as _src_N), so that exact duplicates
    # are judged on every column of the file; mapped ones are not stored twice.
    mapped = set(mapping.values())
    extra = "".join(f', CAST("{c}" AS VARCHAR) AS "_src_{i}"' for i, c in enumerate(found) if c not in mapped)
    con.execute(f"CREATE TABLE raw AS SELECT row_number() OVER () AS _row, {role_cols}{extra} FROM _src")
    con.unregister("_src")
    rows_in = con.execute("SELECT count(*) FROM raw").fetchone()[0]
    if rows_in == 0:
        raise EmptyDataError(f"the file has a header ({', '.join(found)}) but no data rows.", path=path)
    source = Source(name=path.name, sha256=_sha256(path), format=fmt, shape=shape, level=level)
    return LoadedData(
        con=con,
        path=path,
        source=source,
        roles=mapping,
        rows_in=int(rows_in),
        columns_found=tuple(found),
        date_format=columns.date_format,
    )
