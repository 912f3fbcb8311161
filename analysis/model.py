"""The saved segment model (``model.json``): everything needed to assign a customer without refitting.

Written by every run beside the bundle (a private output: it holds the cleaning
rules and the boundary pseudonyms of the RFM scores, never a raw customer id).
It is what :func:`analysis.assign.assign_customers` applies to any customer
table, what the next refresh matches its segments against, and what the stream
processor applies to purchases as they arrive. JSON only, validated on load;
floats are written with Python's shortest round-trip repr, so a loaded model
reproduces the run's numbers exactly.

Versioning: :func:`load_model` reads only the ``schema_version`` values it
knows (:data:`KNOWN_VERSIONS`) and refuses any other with one line. 1.1.0 added
``input.columns`` and ``input.date_bounds`` (what the stream processor needs
from the whole training file); a 1.0.0 model still loads, and the stream
refuses it with one line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from analysis.errors import ModelError

__all__ = [
    "MODEL_SCHEMA_VERSION",
    "Fingerprint",
    "FeatureSpec",
    "FeaturesModel",
    "ClusterModel",
    "SegmentEntry",
    "RfmModel",
    "ClvModel",
    "InputModel",
    "SegmentModel",
    "dump_model",
    "load_model",
    "model_json_schema",
]

MODEL_SCHEMA_VERSION = "1.1.0"
KNOWN_VERSIONS = frozenset({"1.0.0", MODEL_SCHEMA_VERSION})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Fingerprint(_Model):
    """What produced the model: the same inputs and code give the same fingerprint."""

    data_sha256: str = Field(description="SHA-256 of the input file's bytes")
    config_sha256: str = Field(description="SHA-256 of the canonical JSON of the run configuration (key excluded)")
    playbook_sha256: str = Field(description="SHA-256 of the persona playbook file")
    rfm_rules_sha256: str = Field(description="SHA-256 of the RFM rules table")
    code_version: str = Field(description="package version and a digest of the analysis source code")
    key_check: str = Field(
        description="HMAC of a fixed text under the pseudonym key: equal checks mean the same key (the key "
        "itself cannot be recovered from it)"
    )


class FeatureSpec(_Model):
    """How one raw feature becomes a coordinate: clip, log1p, then (x - center) / scale."""

    name: str
    winsorize: tuple[float, float] | None = Field(description="clip bounds in raw units; None when not clipped")
    log1p: bool
    center: float
    scale: float


class FeaturesModel(_Model):
    scaler: Literal["standard", "robust"]
    transforms: list[FeatureSpec] = Field(description="one per clustering feature, in column order")

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.transforms)


class ClusterModel(_Model):
    """Segment assignment in the scaled feature space."""

    method: Literal["kmeans", "gmm"]
    rule: Literal["nearest_centroid", "max_posterior"] = Field(
        description="kmeans: nearest centroid (Euclidean); gmm: highest posterior of the mixture"
    )
    segment_ids: list[int] = Field(description="segment id of each centroid / mixture component, in order")
    centroids: list[list[float]] = Field(description="one row per segment, in the scaled feature space")
    weights: list[float] | None = Field(default=None, description="gmm: mixture weights")
    covariances: list[list[list[float]]] | None = Field(default=None, description="gmm: full covariance matrices")

    @model_validator(mode="after")
    def _shapes(self) -> ClusterModel:
        if len(self.segment_ids) != len(self.centroids) or len(set(self.segment_ids)) != len(self.segment_ids):
            raise ValueError("segment_ids must be unique and give one id per centroid")
        if len({len(c) for c in self.centroids}) > 1:
            raise ValueError("every centroid must have the same number of coordinates")
        if self.method == "gmm" and (self.weights is None or self.covariances is None):
            raise ValueError("a gmm model needs weights and covariances")
        return self


class SegmentEntry(_Model):
    id: int
    persona: str
    name: str


class RfmModel(_Model):
    """Classic RFM scores as boundary keys, so any customer is scored as the training run scored it.

    A score's sort key is a tuple (see :mod:`analysis.rfm`): for R (-recency,
    frequency, monetary, tiebreak), for F (frequency, monetary, -recency,
    tiebreak), for M (monetary, frequency, -recency, tiebreak), compared
    lexicographically; ``tiebreak`` is the customer's pseudonym. A customer's
    score is 1 plus the number of edges its key reaches (>=).
    """

    bins: int
    rules_sha256: str
    edges: dict[Literal["r", "f", "m"], list[tuple[float, float, float, str]]]
    cells: dict[str, str] = Field(description="'RFM' digits -> segment name, for every one of the bins**3 cells")


class ClvModel(_Model):
    time_unit: Literal["day", "week", "month"]
    unit_days: float
    params: dict[str, float] = Field(description="BG/NBD r, alpha, a, b and Gamma-Gamma p, q, gamma")
    horizon: float
    annual_discount_rate: float


class InputModel(_Model):
    """How the training file was read, so new purchases are cleaned the same way."""

    shape: str
    level: Literal["transactions", "customers"]
    roles: dict[str, str] = Field(description="{role: source column}")
    date_format: str | None
    cleaning: dict[str, Any] = Field(description="the [cleaning] settings of the run")
    currency: str | None
    columns: list[str] | None = Field(
        default=None,
        description="every column of the training file, in file order (exact duplicates are judged on all of them); "
        "None in models older than 1.1.0",
    )
    date_bounds: tuple[str | None, str | None] | None = Field(
        default=None,
        description="the (lowest, highest) plausible timestamp the run's implausible_date rule used, ISO 8601, "
        "None for an open side; None for customer-level input and in models older than 1.1.0",
    )


class SegmentModel(_Model):
    schema_version: str = MODEL_SCHEMA_VERSION
    kind: Literal["segmentation-model"] = "segmentation-model"
    fingerprint: Fingerprint
    snapshot_date: str | None = Field(description="ISO date recency was measured against")
    input: InputModel
    features: FeaturesModel
    clusters: ClusterModel
    segments: list[SegmentEntry]
    rfm: RfmModel
    clv: ClvModel | None
    retired: list[SegmentEntry] = Field(
        default_factory=list, description="segments of earlier refreshes that no longer exist; their ids are not reused"
    )

    @model_validator(mode="after")
    def _consistent(self) -> SegmentModel:
        width = len(self.features.transforms)
        if any(len(c) != width for c in self.clusters.centroids):
            raise ValueError(f"centroids must have {width} coordinates, one per feature")
        if sorted(s.id for s in self.segments) != sorted(self.clusters.segment_ids):
            raise ValueError("segments and clusters.segment_ids must list the same ids")
        return self


def model_json_schema() -> dict[str, Any]:
    """The JSON Schema of :class:`SegmentModel` (what ``schemas/model.schema.json`` holds)."""
    schema = SegmentModel.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"segmentation-model-{MODEL_SCHEMA_VERSION}"
    return schema


def dump_model(model: SegmentModel) -> bytes:
    """The model as UTF-8 JSON bytes (same model, same bytes)."""
    payload = model.model_dump(mode="json")
    return (json.dumps(payload, indent=1, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def load_model(path: Path | str) -> SegmentModel:
    """Read and validate ``model.json``.

    Raises
    ------
    ModelError
        Missing or unreadable file, not JSON, another kind of file, an unknown
        ``schema_version`` (major version other than this program's), or a
        model that breaks its schema; always one line naming the file.
    """
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{path}: model file not found; run the analysis first.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: not a readable model file ({exc}).") from None
    if not isinstance(raw, dict) or raw.get("kind") != "segmentation-model":
        raise ModelError(f"{path}: not a segmentation model (no kind 'segmentation-model').")
    version = raw.get("schema_version")
    if version not in KNOWN_VERSIONS:
        raise ModelError(
            f"{path}: unknown model schema_version {version!r}; this program reads "
            f"{', '.join(sorted(KNOWN_VERSIONS))}. Re-run the analysis to write a current model."
        )
    try:
        return SegmentModel.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ModelError(f"{path}: invalid model: field {where!r}: {first['msg']}.") from None
