"""The typed results of one run, stage by stage: what :mod:`analysis.assemble` turns into outputs.

Every field is the return value of one stage's public verb (a frozen
dataclass, a schema-checked frame or a validated model), so the bundle, the
saved model and the private export are assembled in one place from the same
objects, and nothing downstream re-reads a file.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.bundle import KSelection, Projection, RfmSection, Segment
from analysis.clean import CleanedData
from analysis.clv import ClvResult
from analysis.config import Config
from analysis.customers import CustomerTable
from analysis.experiments import ExperimentResults, ExperimentsResult
from analysis.features import FeatureMatrix
from analysis.history_schema import MigrationSection
from analysis.identity import Continuity
from analysis.load import LoadedData
from analysis.previous import PreviousRun
from analysis.privacy import PseudonymKey
from analysis.profiles import SegmentProfile
from analysis.segmentation import Segmentation

__all__ = ["RfmResult", "RunStages"]


@dataclass(frozen=True)
class RfmResult:
    """Classic RFM: per-customer scores, the score edges for the model, and the bundle summary.

    ``scored`` has the columns of :func:`analysis.rfm.score_rfm`; ``edges`` is
    :func:`analysis.rfm_edges.fit_edges` on the same customers and tie-break;
    ``mix`` is ``{segment id: {rfm segment: customers}}``.
    """

    scored: pd.DataFrame
    edges: dict[str, list[tuple[float, float, float, str]]]
    mix: dict[int, dict[str, int]]
    section: RfmSection
    rules_sha256: str
    cells: dict[str, str]


@dataclass(frozen=True)
class RunStages:
    """Everything one run computed, in stage order."""

    config: Config
    loaded: LoadedData
    cleaned: CleanedData
    table: CustomerTable
    key: PseudonymKey
    pseudonyms: np.ndarray
    features: FeatureMatrix
    selection: KSelection
    segmentation: Segmentation
    profiles: list[SegmentProfile]
    segments: list[Segment]
    rfm: RfmResult
    projection: Projection
    currency: str | None
    clv: ClvResult | None
    experiments: ExperimentsResult | None
    results: ExperimentResults | None
    previous: PreviousRun | None
    continuity: Continuity | None
    migration: MigrationSection | None
    warnings: tuple[str, ...]

    @property
    def customers(self) -> pd.DataFrame:
        return self.table.customers
