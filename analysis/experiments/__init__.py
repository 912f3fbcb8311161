"""Per-segment experiment design, reproducible arm assignment and results read-out."""

from analysis.experiments._assign import assign_arms
from analysis.experiments._design import ExperimentsResult, design_experiments
from analysis.experiments._results import read_results
from analysis.experiments._schema import (
    ControlOption,
    ExperimentDesign,
    ExperimentResults,
    ExperimentsSection,
    LiftRow,
    LiftTable,
    SizingOption,
)

__all__ = [
    "design_experiments",
    "assign_arms",
    "read_results",
    "ExperimentsResult",
    "ExperimentsSection",
    "ExperimentDesign",
    "ExperimentResults",
    "LiftTable",
    "LiftRow",
    "SizingOption",
    "ControlOption",
]
