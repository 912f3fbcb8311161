"""Cut the bundled sample out of the full UCI Online Retail II file.

Usage: uv run python scripts/make_sample.py ../shared/data/online_retail_II.csv.gz data/online_retail_II_2011.parquet

Keeps every row whose InvoiceDate falls in the last twelve months of the data
(2010-12-10 00:00 to 2011-12-09 12:50), in file order, every value as the
original text, so the sample reads exactly like the source.
"""

from __future__ import annotations

import sys

import duckdb


def main(src: str, dst: str) -> None:
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = true")
    con.execute(
        "CREATE TABLE t AS SELECT * FROM read_csv(?, header = true, all_varchar = true)", [src]
    )
    con.execute(
        "COPY (SELECT * FROM t WHERE InvoiceDate >= '2010-12-10') TO '"
        + dst.replace("'", "''")
        + "' (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 19, ROW_GROUP_SIZE 100000)"
    )
    rows = con.execute("SELECT count(*) FROM read_parquet(?)", [dst]).fetchone()[0]
    print(f"wrote {dst}: {rows:,} rows")


if __name__ == "__main__":
    main(*sys.argv[1:3])
