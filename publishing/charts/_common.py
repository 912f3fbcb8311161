"""Helpers every chart family uses: the Axes to draw on, labels that wrap, axis number formats."""

from __future__ import annotations

import textwrap

from matplotlib.axes import Axes
from matplotlib.ticker import Formatter, FuncFormatter, MaxNLocator

from publishing._format import Formats

__all__ = [
    "FEATURE_LABELS",
    "feature_label",
    "wrap_label",
    "axes_or_current",
    "formats_or_default",
    "money_axis",
    "number_axis",
    "percent_axis",
    "value_grid",
]

#: How each per-customer feature is named on charts and tables of the site.
FEATURE_LABELS = {
    "recency": "Recency (days since last order)",
    "frequency": "Frequency (orders)",
    "monetary": "Spend",
    "avg_unit_cost": "Average unit price",
    "avg_order_value": "Average order value",
    "tenure": "Tenure (days)",
    "distinct_products": "Distinct products",
    "total_quantity": "Units bought",
}


def feature_label(name: str) -> str:
    """The reader's name of a feature (the column name when it has none)."""
    return FEATURE_LABELS.get(name, name)


def wrap_label(text: str, width: int = 18, lines: int = 2) -> str:
    """Wrap ``text`` on word boundaries into at most ``lines`` lines, never cutting it.

    Lines are ``width`` characters where that suffices; a name that needs more
    gets longer lines instead of an ellipsis, so every name is shown whole.
    """
    text = " ".join(str(text).split())
    for w in range(max(1, width), len(text) + 1):
        parts = textwrap.wrap(text, w, break_long_words=False, break_on_hyphens=False)
        if len(parts) <= lines:
            return "\n".join(parts)
    return text


def axes_or_current(ax: Axes | None) -> Axes:
    """``ax``, or pyplot's current Axes when None (as PyMC-Marketing's plotting functions do)."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt  # only when a caller asks for pyplot's state

    return plt.gca()


def formats_or_default(fmt: Formats | None) -> Formats:
    """``fmt``, or the default formatter (en_GB, currency unknown)."""
    return fmt if fmt is not None else Formats()


def _tick(value: float) -> float:
    # Tick positions come from float arithmetic (5.5e-17 for 0): round them before formatting.
    return round(value, 9)


def money_axis(axis, fmt: Formats) -> None:
    """Label an axis in compact money with its currency: ``£0, £2m, £4m``.

    A linear axis gets at most four ticks: amounts such as "NT$300萬" or
    "CHF 1.5 Mio." are wide, and must not run into each other on a phone.
    """
    if axis.get_scale() == "linear":
        axis.set_major_locator(MaxNLocator(nbins=3, steps=[1, 2, 2.5, 5, 10]))
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: fmt.money(_tick(v), compact=True)))


def number_axis(axis, fmt: Formats, *, compact: bool = True) -> None:
    """Label an axis with locale numbers (compact by default: ``45k``)."""
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: fmt.number(_tick(v), compact=compact)))


class _PercentTicks(Formatter):
    """Shares as percentages with as many decimals as the tick step needs (10%, 2.5%, 0.5%)."""

    def __init__(self, fmt: Formats) -> None:
        self.fmt = fmt
        self._ticks: list[float] = []

    def set_locs(self, locs) -> None:  # told the tick positions before each labelling
        self._ticks = list(locs)

    def __call__(self, x: float, pos: int | None = None) -> str:
        step = 100.0 * abs(self._ticks[1] - self._ticks[0]) if len(self._ticks) > 1 else 1.0
        digits = next((d for d in range(3) if abs(round(step, d) - step) < 1e-6), 3)
        return self.fmt.percent(_tick(x), digits)


def percent_axis(axis, fmt: Formats) -> None:
    """Label an axis holding shares in [0, 1] as percentages."""
    axis.set_major_formatter(_PercentTicks(fmt))


def value_grid(ax: Axes, along: str = "x") -> None:
    """Light grid lines behind the data along one axis; no tick marks on the category axis."""
    ax.grid(axis=along)
    ax.set_axisbelow(True)
    ax.tick_params(axis="y" if along == "x" else "x", length=0)
