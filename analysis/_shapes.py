"""The layouts recognised without configuration, and how a file's columns are mapped to roles."""

from __future__ import annotations

import re
from pathlib import Path

from analysis.config import ColumnsConfig
from analysis.errors import SchemaMappingError

__all__ = ["TRANSACTION_ROLES", "CUSTOMER_ROLES", "KNOWN_SHAPES", "KNOWN_CURRENCIES", "map_roles"]

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
    "currency",
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
    "currency": ("currency", "currencycode", "currencyiso", "ccy"),
}


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def map_roles(
    columns: list[str], cfg: ColumnsConfig, path: Path, sheet: str | None = None
) -> tuple[str, str, dict[str, str]]:
    """Return (shape, level, {role: column}); ``sheet`` names the workbook sheet in errors."""
    where = "" if sheet is None else f"sheet {sheet!r}: "
    configured = cfg.mapping()
    header = set(columns)
    for shape, (level, mapping) in KNOWN_SHAPES.items():
        if set(mapping.values()) <= header and not configured:
            return shape, level, _with_currency(dict(mapping), columns, level)
    if configured:
        missing_cols = [f"{role}={col!r}" for role, col in configured.items() if col not in header]
        if missing_cols:
            raise SchemaMappingError(
                f"{where}[columns] names column(s) not in the file: {', '.join(missing_cols)}; "
                f"columns found: {columns}.",
                path=path,
            )
        mapping = dict(configured)
        level = "customers" if {"monetary", "recency"} & set(mapping) else "transactions"
        mapping = _with_currency(mapping, columns, level)
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
    _check_required(mapping, level, columns, path, where)
    return shape, level, mapping


def _with_currency(mapping: dict[str, str], columns: list[str], level: str) -> dict[str, str]:
    """Add the ``currency`` role when a column is named like one and no role has it yet."""
    if level != "transactions" or "currency" in mapping:
        return mapping
    by_norm = {_norm(c): c for c in columns if c not in mapping.values()}
    found = next((by_norm[a] for a in _ALIASES["currency"] if a in by_norm), None)
    return mapping if found is None else {**mapping, "currency": found}


def _check_required(mapping: dict[str, str], level: str, columns: list[str], path: Path, where: str) -> None:
    if level == "customers":
        missing = [r for r in CUSTOMER_ROLES if r not in mapping]
    else:
        missing = [r for r in ("customer", "timestamp") if r not in mapping]
        if "amount" not in mapping and not {"quantity", "unit_price"} <= set(mapping):
            missing.append("amount (or quantity and unit_price)")
    if missing:
        raise SchemaMappingError(
            f"{where}cannot map the columns to the roles the pipeline needs; missing role(s): "
            f"{', '.join(missing)}. Columns found: {columns}. "
            "Name them in the [columns] section of a config file.",
            path=path,
        )
