"""Write a synthetic transaction log in the Online Retail II shape, reproducible from a seed and a line count.

Invoices of about 20 lines, customer activity skewed (Pareto weights: a few
customers place most invoices), 2% cancelled invoices ('C' prefix, negative
quantities), 20% of invoices without a customer ID, two years of dates. Columns
are typed as pandas writes Online Retail II to Parquet: text codes, integer
quantities, timestamps, float prices and float customer IDs with nulls.

    uv run python benchmarks/synth_log.py --lines 10000000 --out /tmp/synth_10m.parquet

Then time loading, cleaning and the customer table, e.g.::

    /usr/bin/time -v uv run python -c "from analysis.clean import clean_transactions; ..."

Generated data is not committed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

CHUNK_INVOICES = 50_000
PRODUCTS = 4_000
START = np.datetime64("2009-12-01T00:00:00", "s")
DAYS = 730
COUNTRIES = np.array(["United Kingdom"] * 18 + ["Germany", "France"])


def _catalogue(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    codes = np.array([f"{20000 + i}{'' if i % 7 else 'A'}" for i in range(PRODUCTS)])
    names = np.array([f"PRODUCT {i:04d}" for i in range(PRODUCTS)])
    prices = np.round(rng.lognormal(mean=1.0, sigma=0.8, size=PRODUCTS), 2) + 0.05
    return codes, names, prices


def _chunk(rng: np.random.Generator, first: int, invoices: int, total: int, weights: np.ndarray, catalogue) -> pa.Table:
    """Invoices ``first`` .. ``first + invoices - 1`` of about ``total``, as one Arrow table of lines."""
    codes, names, prices = catalogue
    sizes = 1 + rng.poisson(19, size=invoices)
    n = int(sizes.sum())
    invoice_of_line = np.repeat(np.arange(invoices), sizes)
    customer = rng.choice(len(weights), size=invoices, p=weights).astype(np.float64) + 12_000
    customer[rng.random(invoices) < 0.20] = np.nan
    cancelled = rng.random(invoices) < 0.02
    index = first + np.arange(invoices)
    numbers = np.char.add(np.where(cancelled, "C", ""), (489_434 + index).astype(str))
    # Invoices run forward in time over two years, at shop hours (08:00-18:00, whole minutes).
    day = np.minimum(index * DAYS // max(total, 1), DAYS - 1)
    offsets = day * 86_400 + 8 * 3_600 + np.sort(rng.integers(0, 600, invoices)) * 60
    product = rng.integers(0, PRODUCTS, size=n)
    quantity = rng.geometric(0.15, size=n).astype(np.int64)
    quantity[cancelled[invoice_of_line]] *= -1
    cust = customer[invoice_of_line]
    return pa.table(
        {
            "Invoice": numbers[invoice_of_line],
            "StockCode": codes[product],
            "Description": names[product],
            "Quantity": quantity,
            "InvoiceDate": pa.array(START + offsets[invoice_of_line].astype("timedelta64[s]"), pa.timestamp("us")),
            "Price": prices[product],
            "Customer ID": pa.array(cust, mask=np.isnan(cust)),
            "Country": COUNTRIES[rng.integers(0, len(COUNTRIES), size=invoices)][invoice_of_line],
        }
    )


def write_log(path: Path, lines: int, seed: int = 0) -> int:
    """Write exactly ``lines`` lines to ``path`` (the last invoice may be cut short); return the count."""
    rng = np.random.default_rng(seed)
    # One customer id per 49 lines: with the Pareto weights and 20% of invoices without an id, about 15.9k
    # distinct customers buy in 1M lines, 159k in 10M and 1.6M in 100M (the sizes issue 11 measured).
    customers = max(100, lines // 49)
    weights = rng.pareto(2.0, size=customers) + 1.0
    weights /= weights.sum()
    catalogue = _catalogue(rng)
    total = lines // 20 + 1
    written, first = 0, 0
    schema = _chunk(np.random.default_rng(seed), 0, 1, total, weights, catalogue).schema
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        while written < lines:
            table = _chunk(rng, first, CHUNK_INVOICES, total, weights, catalogue).slice(0, lines - written)
            writer.write_table(table)
            written += table.num_rows
            first += CHUNK_INVOICES
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    print(f"wrote {write_log(args.out, args.lines, args.seed):,} lines to {args.out}")


if __name__ == "__main__":
    main()
