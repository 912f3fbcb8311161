"""The job's output read back: the current-segment table, the change events, the row accounting.

The output directory is a Spark file sink: only the files its log
(``_spark_metadata``) lists belong to committed micro-batches, so it is read
through Spark (``spark.read.parquet``), which honours that log; a file left by
a micro-batch that crashed is not read.

- **Current segments**: each customer's latest ``segment`` row (a customer
  stays in one bucket, whose ``seq`` orders its updates).
- **Change events**: the ``change`` rows, in order of their day, bucket and ``seq``.
- **Counts**: ``count`` rows summed by reason (``kept`` and every drop reason).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from analysis._fs import write_private_file
from analysis.export import csv_writer
from analysis.stream._errors import StreamError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["JobResults", "read_results", "export_results", "change_lines"]

SEGMENT_COLUMNS = ("customer_id", "pseudonym", "segment", "segment_name", "rfm_cell", "as_of")
CHANGE_FIELDS = ("pseudonym", "from", "to", "from_name", "to_name", "rfm_cell", "at", "reason")


@dataclass(frozen=True)
class JobResults:
    """What the job has committed so far.

    Attributes
    ----------
    segments
        One row per customer, sorted by customer_id: customer_id, pseudonym,
        segment (the model's segment id), segment_name, rfm_cell, as_of (the
        day of that assignment: a later day gives the same answer until the
        customer's next purchase or next-change day).
    changes
        One row per change event: :data:`CHANGE_FIELDS` (``from`` is null for a new customer).
    counts
        ``{reason: rows}``: ``kept`` and every reason a row or line was dropped for.
    """

    segments: pd.DataFrame
    changes: pd.DataFrame
    counts: dict[str, int]


def _rows(spark: SparkSession, out: Path) -> pd.DataFrame:
    if not (out / "_spark_metadata").is_dir():
        from analysis.spark_stream._update import OUTPUT_DDL

        return pd.DataFrame({c.split()[0]: [] for c in OUTPUT_DDL.split(", ")})
    return spark.read.parquet(str(out)).toArrow().to_pandas()


def read_results(spark: SparkSession, out: Path | str) -> JobResults:
    """Read the committed output of the job writing to ``out``."""
    rows = _rows(spark, Path(out))
    segments = rows[rows["kind"] == "segment"].sort_values(["bucket", "seq"], kind="stable")
    segments = segments.drop_duplicates("customer_id", keep="last").rename(columns={"at": "as_of"})
    segments = segments[list(SEGMENT_COLUMNS)].sort_values("customer_id").reset_index(drop=True)
    changes = rows[rows["kind"] == "change"].sort_values(["at", "bucket", "seq"], kind="stable")
    changes = changes.rename(columns={"previous": "from", "segment": "to"})
    changes = changes.rename(columns={"previous_name": "from_name", "segment_name": "to_name"})
    counts = rows[rows["kind"] == "count"].groupby("reason")["rows"].sum()
    return JobResults(
        segments=segments.astype({"segment": "int64"}),
        changes=changes[list(CHANGE_FIELDS)].reset_index(drop=True),
        counts={str(r): int(n) for r, n in counts.items() if n},
    )


def _replace(path: Path, write) -> None:
    """Write a private file beside ``path`` and rename it into place (a reader never sees half of it)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        write_private_file(tmp, write)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StreamError(f"{path}: cannot write the export: {exc.strerror or exc}.") from None


def change_lines(changes: pd.DataFrame) -> bytes:
    """Change events as JSON lines (``from`` null for a new customer)."""
    lines = []
    for row in changes.itertuples(index=False):
        event = {k: (None if pd.isna(v) else v) for k, v in zip(CHANGE_FIELDS, row, strict=True)}
        for k in ("from", "to"):
            event[k] = None if event[k] is None else int(event[k])
        lines.append(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n")
    return "".join(lines).encode("utf-8")


def export_results(results: JobResults, *, csv: Path | None = None, changes: Path | None = None) -> None:
    """Write the current-segment table as a private, spreadsheet-safe CSV and/or the change events as JSON lines."""
    if csv is not None:
        _replace(Path(csv), csv_writer(results.segments))
    if changes is not None:
        data = change_lines(results.changes)
        _replace(Path(changes), lambda fh: fh.write(data))
