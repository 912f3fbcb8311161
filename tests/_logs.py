"""Small generated transaction logs in the Online Retail II layout, for input tests."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

HEADER = ["Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price", "Customer ID", "Country"]


def retail_rows(customers: int = 40, start: dt.datetime = dt.datetime(2011, 1, 3, 10, 0)) -> list[list[str]]:
    """Rows for ``customers`` customers of two kinds (frequent small baskets, rare large ones) over ~11 months."""
    rows = []
    invoice = 600_000
    for i in range(customers):
        frequent = i % 2 == 0
        orders = 10 if frequent else 2
        for o in range(orders):
            day = start + dt.timedelta(days=(330 - o * 30 if frequent else 200 - o * 90) + i % 5, minutes=7 * i)
            invoice += 1
            for line in range(2):
                rows.append(
                    [
                        str(invoice),
                        f"2{line}{i % 7}1",
                        f"ITEM {line}",
                        str(3 + line if frequent else 40 + line),
                        day.strftime("%Y-%m-%d %H:%M:%S"),
                        f"{1.25 + line:.2f}" if frequent else f"{6.5 + line:.2f}",
                        str(12_000 + i),
                        "United Kingdom",
                    ]
                )
    return rows


def write_log(path: Path, rows: list[list[str]], *, header: list[str] = HEADER, encoding: str = "utf-8") -> Path:
    """Write ``rows`` under ``header`` as CSV (``\\n`` line ends) and return ``path``."""
    with path.open("w", newline="", encoding=encoding) as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path
