"""Reproducible arm assignment: a seeded hash of the pseudonym, no random state to keep."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import pandas as pd

from analysis.config import ExperimentsConfig

__all__ = ["ARMS", "assign_arms", "unit_draw"]

ARMS = ("control", "treatment")


def unit_draw(pseudonym: str, seed: str) -> float:
    """Map ``(seed, pseudonym)`` to a number in ``[0, 1)``, the same on every machine."""
    digest = hashlib.sha256(f"{seed}\x1f{pseudonym}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def assign_arms(pseudonyms: Iterable[str], *, config: ExperimentsConfig) -> pd.Series:
    """Assign each pseudonym to ``"control"`` or ``"treatment"``.

    A customer lands in control when the seeded hash of their pseudonym, read
    as a number in ``[0, 1)``, is below ``config.control_share``. The assignment
    depends only on the seed and the pseudonym, so reruns, reordering or adding
    customers never move anyone between arms.

    Parameters
    ----------
    pseudonyms
        Keyed pseudonyms (never raw IDs); a Series keeps its index.
    config
        The ``[experiments]`` section (``seed``, ``control_share``).

    Returns
    -------
    pandas.Series
        The arm of each pseudonym (str), aligned with the input.
    """
    values = pseudonyms if isinstance(pseudonyms, pd.Series) else pd.Series(list(pseudonyms), dtype=str)
    arms = ["control" if unit_draw(str(p), config.seed) < config.control_share else "treatment" for p in values]
    return pd.Series(arms, index=values.index, name="arm", dtype=str)
