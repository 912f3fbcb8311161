"""What every Spark task needs, built once per Python worker: the model, its stream spec, DuckDB connections.

The job's functions run in Spark's Python workers, which receive them
pickled with the :class:`JobSpec` they close over (the model as its JSON
text, the pseudonym key, the number of buckets). Parsing the model and
opening DuckDB once per worker process, not once per micro-batch or group,
is what :func:`context` caches.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import duckdb

from analysis.model import SegmentModel
from analysis.privacy import PseudonymKey
from analysis.stream._clean import connect
from analysis.stream._spec import StreamSpec, stream_spec

__all__ = ["DAY_MS", "JobSpec", "Context", "context"]

DAY_MS = 86_400_000


@dataclass(frozen=True)
class JobSpec:
    """The job's settings, shipped to the workers with its functions.

    Attributes
    ----------
    model_text
        ``model.json`` as text (a few kilobytes).
    key
        The pseudonym key the model was made with (it travels with the tasks:
        on a cluster, turn on Spark's RPC encryption, ``spark.network.crypto.enabled``).
    buckets
        How many state keys the customers are hashed into (fixed for the life of a checkpoint).
    """

    model_text: str
    key: PseudonymKey = field(repr=False)
    buckets: int

    @property
    def model_sha256(self) -> str:
        return hashlib.sha256(self.model_text.encode("utf-8")).hexdigest()


@dataclass
class Context:
    """A worker's parsed model and spec, and one DuckDB connection per role (``prepare``, ``update``)."""

    model: SegmentModel
    spec: StreamSpec
    connections: dict[str, duckdb.DuckDBPyConnection] = field(default_factory=dict)

    def con(self, role: str) -> duckdb.DuckDBPyConnection:
        if role not in self.connections:
            self.connections[role] = connect()
        return self.connections[role]


_CONTEXTS: dict[str, Context] = {}


def context(job: JobSpec) -> Context:
    """The worker's :class:`Context` for ``job``'s model (built on first use)."""
    sha = job.model_sha256
    if sha not in _CONTEXTS:
        model = SegmentModel.model_validate_json(job.model_text)
        _CONTEXTS[sha] = Context(model=model, spec=stream_spec(model, path="model.json"))
    return _CONTEXTS[sha]
