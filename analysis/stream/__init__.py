"""Real-time segmentation: purchase events move their customer to the right segment, batch for batch exact.

The pieces are pure functions over micro-batches, so that a Spark Structured
Streaming job can call them (e.g. inside ``applyInPandasWithState``):

- :func:`parse_jsonl` / :func:`parse_csv`: event lines -> a text table in the training file's columns;
- :func:`clean_events`: that table through the batch's own cleaning SQL -> per-customer sums;
- :func:`apply_batch` and :class:`Customers`: running aggregates -> the customer table the model sees;
- :func:`analysis.assign.assign_customers`: segment and RFM cell; :func:`next_change`: when time alone
  would change them.

:class:`Processor` composes them with a durable SQLite state (:class:`StateStore`), exactly once;
``python -m analysis stream`` is its command line, :func:`create_app` the lookup service.
"""

from importlib import import_module

# Names are imported on first use, so that ``python -m analysis`` (whose parser
# knows the ``stream`` subcommand) does not load DuckDB, Arrow and FastAPI.
_WHERE = {
    "Customers": "_aggregates",
    "apply_batch": "_aggregates",
    "CleanBatch": "_clean",
    "clean_events": "_clean",
    "StreamError": "_errors",
    "EventBatch": "_events",
    "parse_csv": "_events",
    "parse_jsonl": "_events",
    "ChangeSink": "_output",
    "export_segments": "_output",
    "Chunk": "_processor",
    "Processor": "_processor",
    "tick_chunk": "_processor",
    "StreamSpec": "_spec",
    "stream_key": "_spec",
    "stream_spec": "_spec",
    "StateStore": "_state",
    "Calendar": "_timeline",
    "next_change": "_timeline",
}


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'analysis.stream' has no attribute {name!r}")
    return getattr(import_module(f"analysis.stream.{_WHERE[name]}"), name)


__all__ = [
    "Calendar",
    "ChangeSink",
    "Chunk",
    "CleanBatch",
    "Customers",
    "EventBatch",
    "Processor",
    "StateStore",
    "StreamError",
    "StreamSpec",
    "apply_batch",
    "clean_events",
    "export_segments",
    "next_change",
    "parse_csv",
    "parse_jsonl",
    "stream_key",
    "stream_spec",
    "tick_chunk",
]
