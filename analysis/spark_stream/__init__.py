"""Real-time segmentation on Spark Structured Streaming: the local stream core inside Spark's state handling.

The job runs the functions of :mod:`analysis.stream` (parsing, the batch's
cleaning SQL, running aggregates, assignment, next-change days) inside a
Structured Streaming query; Spark keeps the state, checkpoints it, restores it
on restart and fires the clock's timers:

- :mod:`._prepare` (``mapInArrow``): event lines -> routed rows and clock rows;
- :mod:`._update` (``applyInPandasWithState``, event-time timeout): one
  bucket of customers cleaned, added and re-assigned per micro-batch;
- :mod:`._job`: the query, its sources (files, Kafka) and sink (Parquet files);
- :mod:`._results`: the current-segment table, change events and counts read back.

``python -m analysis.spark_stream`` is its command line (:mod:`.cli`).
pyspark (the optional extra ``spark``) is imported only when a job starts.
"""

from importlib import import_module

_WHERE = {
    "JobResults": "_results",
    "export_results": "_results",
    "read_results": "_results",
    "OUTPUT_DDL": "_update",
    "file_events": "_job",
    "kafka_events": "_job",
    "segment_stream": "_job",
    "spark_session": "_job",
    "start_job": "_job",
}


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'analysis.spark_stream' has no attribute {name!r}")
    return getattr(import_module(f"analysis.spark_stream.{_WHERE[name]}"), name)


__all__ = sorted(_WHERE)
