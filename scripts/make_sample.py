"""Cut the bundled sample out of the full UCI Online Retail II file.

Usage: uv run python scripts/make_sample.py ../shared/data/online_retail_II.csv.gz data/online_retail_II_sample.parquet

Keeps every row of half of the customers, over the full two years, so that the
sample keeps the long purchase histories the lifetime-value model needs and
every quirk of the source (the overlapping December 2010, cancellations,
postage lines, rows without a customer). A row is kept when the first hex digit
of MD5(Customer ID) is 0-7; rows without a customer are kept by the MD5 of
their invoice number in the same way. Rows stay in file order and every value
stays the original text, so the sample reads exactly like the source. The
output bytes are the same on every run.
"""

from __future__ import annotations

import sys

import duckdb


def main(src: str, dst: str) -> None:
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = true")
    con.execute("SET enable_progress_bar = false")
    con.execute("CREATE TABLE t AS SELECT * FROM read_csv(?, header = true, all_varchar = true)", [src])
    keep = "substr(md5(coalesce(\"Customer ID\", 'invoice:' || Invoice)), 1, 1) < '8'"
    target = dst.replace("'", "''")
    con.execute(
        f"COPY (SELECT * FROM t WHERE {keep}) TO '{target}' "
        "(FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 19, ROW_GROUP_SIZE 100000)"
    )
    rows, customers = con.execute(
        'SELECT count(*), count(DISTINCT "Customer ID") FROM read_parquet(?)', [dst]
    ).fetchone()
    print(f"wrote {dst}: {rows:,} rows, {customers:,} customers")


if __name__ == "__main__":
    main(*sys.argv[1:3])
