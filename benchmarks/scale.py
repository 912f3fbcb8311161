"""Scale figures: the whole analysis on synthetic logs beside a bare DuckDB group-by, and a refresh beside a notebook.

For each size, a synthetic log in the Online Retail II shape (``synth_log.py``,
seed 0, written once into ``--workdir`` and reused) is read twice, each in a
fresh process:

* **bare**: one DuckDB query over the same Parquet file (customer, count of
  distinct invoices, sum of quantity x price, first and last date), the floor
  any analysis of the file pays;
* **analysis**: ``python -m analysis run FILE`` (load, clean, customer table,
  choice of k, clustering, RFM, lifetime value, test plans, the three output
  files), on each ``--engine`` asked for.

With ``--refresh FILE`` it also times the full refresh (``python -m
publishing build``: analysis, site and brief) on that file beside the
classic notebook recipe (``notebook_recipe.py``).

Peak memory is the largest resident set of any one process of the command
(getrusage of the children: for Spark that is the JVM's or Python's, not their
sum). Issue 11's targets: analysis at most 6x the bare group-by at 100M lines
and 4x at 10M, peak RSS at most 4 GiB; the refresh at most 3x the notebook.

    uv run python benchmarks/scale.py --lines 1000000 10000000 [100000000]
    uv run python benchmarks/scale.py --lines 1000000 --refresh ../shared/data/online_retail_II.csv.gz
    .nox/spark/bin/python benchmarks/scale.py --lines 10000000 --engine duckdb spark
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from _measure import measure

HERE = Path(__file__).resolve().parent
TARGETS = {10_000_000: 4.0, 100_000_000: 6.0}  # lines -> the largest allowed analysis / bare ratio
MEMORY_TARGET_MIB = 4 * 1024
REFRESH_TARGET = 3.0

_BARE = """\
import sys
import duckdb
rows = duckdb.sql(
    'SELECT "Customer ID", count(DISTINCT Invoice), sum(Quantity * Price), min(InvoiceDate), max(InvoiceDate) '
    "FROM read_parquet(?) GROUP BY 1", params=[sys.argv[1]]
).fetchall()
print(f"{sum(r[0] is not None for r in rows):,} customers")
"""


def _median(cmd: list[str], repeat: int) -> tuple[float, float, str]:
    """Median wall seconds and largest peak MiB over ``repeat`` runs, and the last run's last line."""
    runs = [measure(cmd) for _ in range(repeat)]
    return statistics.median(r[0] for r in runs), max(r[1] for r in runs), runs[-1][2]


def _log(workdir: Path, lines: int) -> Path:
    path = workdir / f"synth_{lines}.parquet"
    if not path.is_file():
        sys.path.insert(0, str(HERE))
        from synth_log import write_log

        partial = path.with_suffix(".partial")
        write_log(partial, lines)
        partial.rename(path)
    return path


def _verdict(ratio: float, limit: float | None, peak: float) -> str:
    within = (limit is None or ratio <= limit) and peak <= MEMORY_TARGET_MIB
    wanted = f"<= {limit:g}x, " if limit is not None else ""
    return f"{'meets' if within else 'MISSES'} {wanted}<= 4 GiB"


def _scale_rows(args: argparse.Namespace) -> None:
    print("| lines | customers | engine | analysis wall | analysis peak | bare wall | bare peak | ratio | target |")
    print("|---|---|---|---|---|---|---|---|---|")
    for lines in args.lines:
        path = _log(args.workdir, lines)
        bare_s, bare_mib, customers = _median([sys.executable, "-c", _BARE, str(path)], args.repeat)
        for engine in args.engine:
            with tempfile.TemporaryDirectory(dir=args.workdir) as out:
                cmd = [sys.executable, "-m", "analysis", "run", str(path), "--out", out, "--progress", "never"]
                run_s, run_mib, _ = _median([*cmd, "--engine", engine], args.repeat)
            ratio = run_s / bare_s
            print(
                f"| {lines / 1e6:g}M | {customers.split()[0]} | {engine} | {run_s:.1f} s | {run_mib / 1024:.2f} GiB "
                f"| {bare_s:.1f} s | {bare_mib / 1024:.2f} GiB | {ratio:.1f}x "
                f"| {_verdict(ratio, TARGETS.get(lines), run_mib)} |",
                flush=True,
            )


def _refresh_row(args: argparse.Namespace) -> None:
    data = str(args.refresh)
    notebook_s, notebook_mib, _ = _median([sys.executable, str(HERE / "notebook_recipe.py"), data], args.repeat)
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        build = [sys.executable, "-m", "publishing", "build", data, "--force"]
        build += ["--out", f"{tmp}/site", "--private", f"{tmp}/private", "--history", f"{tmp}/history"]
        build_s, build_mib, _ = _median(build, args.repeat)
    ratio = build_s / notebook_s
    print(f"\nrefresh on {Path(data).name}: site and brief {build_s:.1f} s ({build_mib / 1024:.2f} GiB peak), ", end="")
    print(f"notebook recipe {notebook_s:.1f} s ({notebook_mib / 1024:.2f} GiB): {ratio:.1f}x ", end="")
    print(f"({'meets' if ratio <= REFRESH_TARGET else 'MISSES'} <= {REFRESH_TARGET:g}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, nargs="*", default=[1_000_000, 10_000_000])
    parser.add_argument("--engine", nargs="+", choices=("duckdb", "spark"), default=["duckdb"])
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "segmentation-scale")
    parser.add_argument("--refresh", type=Path, default=None, help="also time the full refresh on this file")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each command (the median is printed)")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"{os.cpu_count()} CPUs; logs in {args.workdir}\n")
    if args.lines:
        _scale_rows(args)
    if args.refresh is not None:
        _refresh_row(args)


if __name__ == "__main__":
    main()
