"""A small generated transaction log with known, distinctive customer ids (shared by several tests)."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

#: Customer IDs of the generated transaction file: long and distinctive, so that
#: finding one in the site cannot be a coincidence of chart coordinates.
RAW_IDS = tuple(str(9_100_000_000 + 7_919 * i) for i in range(1, 61))


def write_transactions(path: Path, ids: tuple[str, ...] = RAW_IDS) -> None:
    """Sixty customers (``ids``) in an Online Retail II layout: four behaviours, a year of orders."""
    start = dt.datetime(2011, 1, 3, 10, 0)
    rows = []
    invoice = 500_000
    for i, cid in enumerate(ids):
        kind = i % 4
        orders = (12, 5, 2, 1)[kind]
        last_gap = (5, 30, 150, 280)[kind]
        price = (1.25, 2.95, 4.5, 7.95)[kind]
        qty = (48, 12, 6, 2)[kind]
        for o in range(orders):
            day = start + dt.timedelta(days=340 - last_gap - o * (300 // max(orders, 1)) // 2 + i % 3)
            invoice += 1
            for line in range(1 + (i + o) % 3):
                rows.append(
                    [
                        str(invoice),
                        f"2{line}{kind}7{i % 10}",
                        f"ITEM {kind}-{line}",
                        qty + line,
                        day.strftime("%Y-%m-%d %H:%M:%S"),
                        price + 0.1 * line,
                        cid,
                        "United Kingdom",
                    ]
                )
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            ["Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price", "Customer ID", "Country"]
        )
        writer.writerows(rows)
