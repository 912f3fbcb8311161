"""Customer lifetime value: BG/NBD repeat purchases x Gamma-Gamma spend, with a holdout check."""

from analysis.clv._fit import PER_CUSTOMER_COLUMNS, ClvResult, fit_clv
from analysis.clv._schema import ClvSection, ClvSegmentValue, HoldoutRow, HoldoutValidation

__all__ = [
    "fit_clv",
    "ClvResult",
    "ClvSection",
    "ClvSegmentValue",
    "HoldoutRow",
    "HoldoutValidation",
    "PER_CUSTOMER_COLUMNS",
]
