"""What the fitted models expect of each customer over a short window after the end of observation.

Used to size experiments on what customers are *expected* to do next rather than
on what they did in a window that also helped define their segment. Money is
undiscounted (windows are short).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from analysis.clv._bgnbd import NAMES as BG_NAMES
from analysis.clv._bgnbd import active_purchase_moments, conditional_probability_purchase, p_alive
from analysis.clv._gammagamma import NAMES as GG_NAMES
from analysis.clv._gammagamma import conditional_spend_moments
from analysis.clv._rows import distinct_rows
from analysis.errors import DataError

__all__ = ["WINDOW_COLUMNS", "window_forecast"]

WINDOW_COLUMNS = (
    "customer_id",
    "p_purchase",
    "expected_purchases",
    "expected_revenue",
    "revenue_second_moment",
)

_INPUT = ("customer_id", "frequency", "recency", "T", "monetary_value")
BLOCK = 1 << 18  # customers per block


def _fill(out: np.ndarray, bg, gg, window, x, tx, T, m, first, second) -> None:
    # The forecast columns of some customers, given their series sums while active
    # (conditional_purchase_moments' arithmetic, element for element).
    alive = p_alive(bg, x, tx, T)
    n1, n2 = alive * first, alive * second
    z1, z2, z12 = conditional_spend_moments(gg, x, m)
    out[0] = conditional_probability_purchase(bg, window, x, tx, T)
    out[1] = n1
    np.multiply(n1, z1, out=out[2])
    with np.errstate(invalid="ignore"):
        second_moment = n1 * z2 + np.clip(n2 - n1, 0.0, None) * z12
    out[3] = np.where(n1 > 0, second_moment, 0.0)


def window_forecast(per_customer: pd.DataFrame, *, params: Mapping[str, float], window: float) -> pd.DataFrame:
    """Per-customer purchase probability and revenue moments over the next ``window``.

    Parameters
    ----------
    per_customer
        One row per customer with ``customer_id`` and the forecast-origin
        summaries ``frequency``, ``recency``, ``T``, ``monetary_value`` (as in
        ``ClvResult.per_customer``).
    params
        The seven forecast parameters ``r, alpha, a, b, p, q, gamma``
        (``ClvSection.forecast_params``).
    window
        Window length in the models' time unit (> 0).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`WINDOW_COLUMNS`, one row per input row in input order:
        ``p_purchase`` = P(at least one purchase occasion in the window) (BG/NBD);
        ``expected_purchases`` = E[occasions]; ``expected_revenue`` = E[spend in
        the window] = E[occasions] x E[spend per occasion] (Gamma-Gamma);
        ``revenue_second_moment`` = E[spend in the window ** 2] =
        ``E[X] E[z^2] + (E[X^2] - E[X]) E[z_i z_j]`` (the count and the spend per
        occasion being independent under the models), ``inf`` when the
        Gamma-Gamma ``q`` leaves the spend variance undefined.

    Raises
    ------
    DataError
        When a column or a parameter is missing or the window is not positive.
    """
    missing = [c for c in _INPUT if c not in per_customer.columns]
    absent = [n for n in (*BG_NAMES, *GG_NAMES) if n not in params]
    if missing or absent:
        raise DataError(
            f"window_forecast needs columns {list(_INPUT)!r} and parameters {[*BG_NAMES, *GG_NAMES]!r}; "
            f"missing columns {missing!r} and parameters {absent!r}."
        )
    if not window > 0:
        raise DataError(f"window_forecast: the window must be > 0 time units; got {window!r}.")
    bg = np.array([params[n] for n in BG_NAMES], float)
    gg = np.array([params[n] for n in GG_NAMES], float)
    x, tx, T, m = (per_customer[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T", "monetary_value"))
    # The purchase series once per distinct (x, T); everything else customer by customer, a
    # block at a time, into one float block (so the frame is built without copying columns).
    pairs = distinct_rows(x, T)
    first, second = active_purchase_moments(bg, window, *pairs.values)
    block = np.empty((4, x.size))
    for start in range(0, x.size, BLOCK):
        b = slice(start, start + BLOCK)
        _fill(block[:, b], bg, gg, window, x[b], tx[b], T[b], m[b], first[pairs.inverse[b]], second[pairs.inverse[b]])
    frame = pd.DataFrame(block.T, columns=list(WINDOW_COLUMNS[1:]), copy=False)
    frame.insert(0, "customer_id", per_customer["customer_id"].astype(str).array)
    return frame
