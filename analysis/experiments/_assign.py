"""Reproducible arm assignment: a seeded hash of the pseudonym, no random state to keep."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np
import pandas as pd

from analysis.config import ExperimentsConfig

__all__ = ["ARMS", "assign_arms", "unit_draw", "unit_draws"]

ARMS = ("control", "treatment")


def unit_draw(pseudonym: str, seed: str) -> float:
    """Map ``(seed, pseudonym)`` to a number in ``[0, 1)``, the same on every machine."""
    digest = hashlib.sha256(f"{seed}\x1f{pseudonym}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def unit_draws(pseudonyms: Iterable[str], *, seed: str) -> np.ndarray:
    """:func:`unit_draw` of every pseudonym, as a float array."""
    prefix, sha = f"{seed}\x1f".encode(), hashlib.sha256
    # The first 8 digest bytes of every pseudonym, read as big-endian integers in one numpy call.
    tops = b"".join([sha(prefix + str(p).encode()).digest()[:8] for p in pseudonyms])
    return np.frombuffer(tops, dtype=">u8").astype(np.float64) / 2.0**64


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
    draws = unit_draws(values.astype(str), seed=config.seed)
    arms = np.where(draws < config.control_share, "control", "treatment")
    return pd.Series(arms, index=values.index, name="arm", dtype=str)
