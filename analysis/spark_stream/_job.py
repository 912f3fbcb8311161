"""The Structured Streaming query: any source of event lines -> stage one -> watermark -> bucket state -> file sink.

::

    lines (value)  --mapInArrow(prepare)-->  event / count / clock rows
                   --withWatermark("wm", "0 seconds")-->            the as-of clock
                   --groupBy(bucket).applyInPandasWithState(update, EventTimeTimeout)-->
                   segment / change / count rows  --Parquet file sink (append)-->  OUT/

``bucket`` is ``pmod(xxhash64(customer), buckets)`` (Spark's seeded 64-bit
xxHash: the same on every machine and version), or stage one's digest route
for events without a customer, or -1 for count and clock rows. The
checkpoint holds Spark's offsets and state store; the file sink's own log
(``OUT/_spark_metadata``) lists the files of committed micro-batches, so a
micro-batch replayed after a crash is written once. A checkpoint also gets
``segmentation-job.json``: the model's SHA-256, the bucket count and the
DuckDB row-digest probe; a restart with anything else is refused, because
the state was built under them.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from analysis.engines.spark import local_spark_session
from analysis.model import SegmentModel, dump_model
from analysis.privacy import PseudonymKey
from analysis.spark_stream._bucket import STATE_DDL
from analysis.spark_stream._context import JobSpec
from analysis.spark_stream._prepare import prepare, prepared_schema, value_columns
from analysis.spark_stream._update import OUTPUT_DDL, update
from analysis.stream._clean import connect, digest_probe
from analysis.stream._errors import StreamError
from analysis.stream._spec import stream_spec

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming import StreamingQuery

__all__ = ["JOB_FILE", "spark_session", "file_events", "kafka_events", "segment_stream", "start_job"]

JOB_FILE = "segmentation-job.json"


def spark_session(*, cores: int = 2, driver_memory: str = "2g") -> SparkSession:
    """A local session whose Python workers run this interpreter (they import :mod:`analysis`)."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = local_spark_session(cores=cores, driver_memory=driver_memory, app_name="segmentation-stream")
    session.conf.set("spark.sql.shuffle.partitions", str(cores))
    return session


def file_events(spark: SparkSession, directory: Path | str, *, files_per_batch: int | None = None) -> DataFrame:
    """Event lines from the files that appear in ``directory`` (JSON lines; move each file in whole)."""
    reader = spark.readStream.format("text")
    if files_per_batch is not None:
        reader = reader.option("maxFilesPerTrigger", files_per_batch)
    return reader.load(str(directory))


def kafka_events(spark: SparkSession, *, servers: str, topic: str, starting: str = "earliest") -> DataFrame:
    """Event lines from a Kafka topic (one JSON event per message value; needs the spark-sql-kafka package)."""
    frame = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", servers)
        .option("subscribe", topic)
        .option("startingOffsets", starting)
        .load()
    )
    return frame.selectExpr("CAST(value AS STRING) AS value")


def segment_stream(lines: DataFrame, job: JobSpec) -> DataFrame:
    """The streaming DataFrame of output rows (:data:`analysis.spark_stream.OUTPUT_DDL`) for event lines."""
    from pyspark.sql import functions as F
    from pyspark.sql.streaming.state import GroupStateTimeout
    from pyspark.sql.types import StructType

    spec = stream_spec(SegmentModel.model_validate_json(job.model_text), path="model.json")
    schema = prepared_schema(spec)
    ddl = ", ".join(
        f"{f.name} {'timestamp' if f.name == 'wm' else str(f.type).replace('int64', 'long')}" for f in schema
    )
    prepared = lines.select(F.col(lines.columns[0]).cast("string").alias("value")).mapInArrow(prepare(job), ddl)
    bucket = (
        F.when(F.col("kind") != "event", F.lit(-1))
        .when(F.col("customer").isNotNull(), F.pmod(F.xxhash64("customer"), F.lit(job.buckets)))
        .otherwise(F.col("route"))
    )
    keyed = prepared.withColumn("bucket", bucket.cast("long")).withWatermark("wm", "0 seconds")
    keyed = keyed.select("bucket", "kind", "wm", "reason", "rows", *value_columns(spec))
    return keyed.groupBy("bucket").applyInPandasWithState(
        update(job),
        StructType.fromDDL(OUTPUT_DDL),
        StructType.fromDDL(STATE_DDL),
        "append",
        GroupStateTimeout.EventTimeTimeout,
    )


def _check_checkpoint(checkpoint: Path, job: JobSpec) -> None:
    """Record the job's identity in a new checkpoint; refuse to continue one made under another."""
    want = {"model_sha256": job.model_sha256, "buckets": job.buckets, "digest_probe": digest_probe(connect())}
    want["duckdb"] = duckdb.__version__
    path = checkpoint / JOB_FILE
    if path.exists():
        have = json.loads(path.read_text(encoding="utf-8"))
        differ = [k for k in ("model_sha256", "buckets", "digest_probe") if have.get(k) != want[k]]
        if differ:
            raise StreamError(
                f"{checkpoint}: this checkpoint was made with another {', '.join(differ)} "
                f"({', '.join(f'{k}={have.get(k)!r}' for k in differ)}); its state cannot continue under this job. "
                "Replay the events into a new checkpoint and output directory."
            )
        return
    checkpoint.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(want, indent=1) + "\n", encoding="utf-8")


def start_job(
    lines: DataFrame,
    *,
    model: SegmentModel,
    key: PseudonymKey,
    out: Path | str,
    checkpoint: Path | str,
    buckets: int = 64,
    once: bool = True,
    interval: str = "10 seconds",
) -> StreamingQuery:
    """Start the job on ``lines``; its rows go to Parquet files under ``out``.

    Parameters
    ----------
    lines
        A streaming DataFrame whose first column is one event line (:func:`file_events`, :func:`kafka_events`).
    model, key
        The batch run's ``model.json`` and the pseudonym key it was made with.
    out, checkpoint
        The output directory and the checkpoint directory (keep them together: both are the job's state).
    buckets
        State keys to hash customers into (fixed for the life of the checkpoint).
    once
        Process what is available now and stop (``trigger(availableNow=True)``); else run every ``interval``.

    Raises
    ------
    StreamError
        The model cannot drive a stream, or the checkpoint was made under another model or bucket count.
    """
    if isinstance(buckets, bool) or not isinstance(buckets, int) or buckets < 1:
        raise StreamError(f"The 'buckets' parameter must be an int >= 1. Got {buckets!r} instead.")
    stream_spec(model, path="model.json")
    job = JobSpec(model_text=dump_model(model).decode("utf-8"), key=key, buckets=buckets)
    checkpoint = Path(checkpoint)
    _check_checkpoint(checkpoint, job)
    writer = (
        segment_stream(lines, job)
        .writeStream.format("parquet")
        .outputMode("append")
        .option("checkpointLocation", str(checkpoint))
        .queryName("segmentation")
    )
    writer = writer.trigger(availableNow=True) if once else writer.trigger(processingTime=interval)
    return writer.start(str(out))
