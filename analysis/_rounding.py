"""Rounding fitted numbers to significant digits before they go into the bundle.

An optimiser's last bits depend on the order of floating-point sums, so the
bundle carries 6 significant digits: the same data and configuration then give
the same bytes. Non-finite numbers become ``None`` (JSON has no NaN), and
``-0.0`` becomes ``0.0``.
"""

from __future__ import annotations

import math

__all__ = ["round_tree", "sig"]


def sig(value: float | None, digits: int = 6) -> float | None:
    """``value`` rounded to ``digits`` significant digits; ``None`` for ``None``, NaN or an infinity."""
    if value is None or not math.isfinite(value):
        return None
    if value == 0:
        return 0.0
    return float(f"{value:.{digits}g}")


def round_tree(obj, digits: int = 6):
    """Every float in nested dicts and lists rounded by :func:`sig`; everything else as it is."""
    if isinstance(obj, float):
        return sig(obj, digits)
    if isinstance(obj, dict):
        return {k: round_tree(v, digits) for k, v in obj.items()}
    if isinstance(obj, list):
        return [round_tree(v, digits) for v in obj]
    return obj
