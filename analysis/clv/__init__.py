"""Customer lifetime value: BG/NBD repeat purchases x Gamma-Gamma spend, with a holdout check."""

from analysis.clv._fit import PER_CUSTOMER_COLUMNS, ClvResult, fit_clv
from analysis.clv._schema import ClvSection, ClvSegmentValue, HoldoutRow, HoldoutValidation
from analysis.clv._window import WINDOW_COLUMNS, window_forecast

__all__ = [
    "fit_clv",
    "window_forecast",
    "WINDOW_COLUMNS",
    "ClvResult",
    "ClvSection",
    "ClvSegmentValue",
    "HoldoutRow",
    "HoldoutValidation",
    "PER_CUSTOMER_COLUMNS",
]
