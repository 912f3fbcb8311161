"""Other engines for the per-customer aggregation (DuckDB, in :mod:`analysis.customers`, is the default).

* :mod:`analysis.engines.spark`: the same SQL on Apache Spark (optional extra
  ``spark``; pyspark is imported only when a function is called).
"""

from analysis.engines.spark import export_clean, local_spark_session, spark_customer_table

__all__ = ["export_clean", "local_spark_session", "spark_customer_table"]
