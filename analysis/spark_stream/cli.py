"""``python -m analysis.spark_stream``: run the Spark Structured Streaming job, or export what it committed.

::

    python -m analysis.spark_stream run --model out/model.json --watch inbox/ \\
        --out spark-out/ --checkpoint spark-ck/ --once                        # files, what is there now
    python -m analysis.spark_stream run --model out/model.json --kafka broker:9092 --topic purchases \\
        --out spark-out/ --checkpoint spark-ck/ --cluster                     # Kafka, under spark-submit
    python -m analysis.spark_stream export --out spark-out/ --csv segments.csv --changes changes.jsonl

The pseudonym key comes from ``SEGMENTATION_KEY`` (the key of the run that
wrote the model). Errors are one line on standard error.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from analysis.cli import debug_flag, dispatch

__all__ = ["main"]


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1. Got {value}.")
    return value


def _parser() -> argparse.ArgumentParser:
    common = debug_flag()
    parser = argparse.ArgumentParser(prog="python -m analysis.spark_stream", description=__doc__.split("\n")[0])
    parser.set_defaults(debug=False)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the streaming job (files or Kafka)", parents=[common])
    run.add_argument("--model", type=Path, required=True, help="model.json of a batch run")
    run.add_argument("--out", type=Path, required=True, help="output directory (a Parquet file sink)")
    run.add_argument("--checkpoint", type=Path, required=True, help="Spark checkpoint directory (offsets, state)")
    source = run.add_mutually_exclusive_group(required=True)
    source.add_argument("--watch", type=Path, metavar="DIR", help="read the JSON-lines files moved into DIR")
    source.add_argument("--kafka", metavar="SERVERS", help="Kafka bootstrap servers (with --topic)")
    run.add_argument("--topic", help="Kafka topic of JSON events")
    run.add_argument("--buckets", type=_positive, default=64, help="state keys customers are hashed into (64)")
    run.add_argument("--once", action="store_true", help="process what is available now, then stop")
    run.add_argument("--interval", default="10 seconds", help="micro-batch interval when running on")
    run.add_argument("--files-per-batch", type=_positive, default=None, help="at most N new files per batch")
    run.add_argument("--cores", type=_positive, default=2, help="local[N] worker threads (default 2)")
    run.add_argument("--cluster", action="store_true", help="use the session spark-submit configured")
    export = sub.add_parser("export", help="write the committed segments and change events", parents=[common])
    export.add_argument("--out", type=Path, required=True, help="the job's output directory")
    export.add_argument("--csv", type=Path, default=None, help="current-segment table (private: raw ids)")
    export.add_argument("--changes", type=Path, default=None, help="change events as JSON lines")
    return parser


def _session(args: argparse.Namespace):
    from analysis.spark_stream._job import spark_session

    if not args.cluster:
        return spark_session(cores=args.cores)
    from pyspark.sql import SparkSession

    return SparkSession.builder.appName("segmentation-stream").getOrCreate()


def _summary(results) -> str:
    counts = dict(results.counts)
    kept = counts.pop("kept", 0)
    dropped = ", ".join(f"{r}={n:,}" for r, n in sorted(counts.items())) or "none"
    return (
        f"{kept:,} event(s) kept, dropped: {dropped}; {len(results.segments):,} customers; "
        f"{len(results.changes):,} change event(s)"
    )


def _run(args: argparse.Namespace) -> int:
    from analysis.model import load_model
    from analysis.spark_stream._job import file_events, kafka_events, start_job
    from analysis.spark_stream._results import read_results
    from analysis.stream._errors import StreamError
    from analysis.stream._spec import stream_key

    if args.kafka is not None and not args.topic:
        raise StreamError("--kafka needs --topic.")
    model = load_model(args.model)
    key = stream_key(model, path=args.model)
    spark = _session(args)
    if args.watch is not None:
        if not args.watch.is_dir():
            raise StreamError(f"{args.watch}: --watch must be a directory.")
        lines = file_events(spark, args.watch, files_per_batch=args.files_per_batch)
    else:
        lines = kafka_events(spark, servers=args.kafka, topic=args.topic)
    query = start_job(
        lines,
        model=model,
        key=key,
        out=args.out,
        checkpoint=args.checkpoint,
        buckets=args.buckets,
        once=args.once,
        interval=args.interval,
    )
    from pyspark.errors import StreamingQueryException

    try:
        query.awaitTermination()
    except KeyboardInterrupt:
        query.stop()
    except StreamingQueryException as exc:
        # Spark's message holds the worker's whole traceback; the error is its last "SomeError: ..." line.
        named = [line for line in str(exc).splitlines() if re.match(r"^[\w.]+(Error|Exception): ", line)]
        raise StreamError(f"the streaming query failed: {named[-1] if named else exc.getMessage()}") from exc
    print(_summary(read_results(spark, args.out)), file=sys.stderr)
    return 0


def _export(args: argparse.Namespace) -> int:
    from analysis.spark_stream._job import spark_session
    from analysis.spark_stream._results import export_results, read_results
    from analysis.stream._errors import StreamError

    if args.csv is None and args.changes is None:
        raise StreamError("export: give --csv FILE and/or --changes FILE.")
    results = read_results(spark_session(cores=1), args.out)
    export_results(results, csv=args.csv, changes=args.changes)
    print(_summary(results), file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    return dispatch({"run": _run, "export": _export}, _parser().parse_args(argv))
