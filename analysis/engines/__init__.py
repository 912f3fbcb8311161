"""Where the log stage runs: DuckDB in-process (the default) or a Spark session (optional extra ``spark``).

The same SQL runs on both (see :mod:`analysis.engines._dialect` for the few
spellings that differ); :func:`open_engine` returns the engine ``[engine]
name`` asks for. pyspark is imported only when the Spark engine is opened.
"""

from __future__ import annotations

from analysis.config import EngineConfig
from analysis.engines._base import DuckDBEngine, Engine
from analysis.engines._dialect import DUCKDB, SPARK, Dialect

__all__ = ["DUCKDB", "SPARK", "Dialect", "DuckDBEngine", "Engine", "open_engine"]


def open_engine(config: EngineConfig) -> Engine:
    """A fresh engine for one run: a DuckDB connection, or the Spark session of ``[engine]``.

    Raises
    ------
    ImportError
        ``name = "spark"`` without pyspark installed.
    """
    if config.name == "spark":
        from analysis.engines.spark import SparkEngine

        return SparkEngine(config)
    return DuckDBEngine(config)
