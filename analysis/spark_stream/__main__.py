"""``python -m analysis.spark_stream`` (or ``spark-submit analysis/spark_stream/__main__.py``): see :mod:`.cli`."""

import sys

from analysis.spark_stream.cli import main

sys.exit(main())
