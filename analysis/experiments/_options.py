"""What would make a small segment testable, and what each control share costs.

Three levers, each sized with :func:`analysis.experiments._sizing.size_test`:

* a **longer window** (twice and four times ``window_days``, at most a year),
  where more members have time to buy, from the model forecast (only with
  ``baseline_source = "bgnbd"``: a back-test would need older data);
* **pooling** the segment with its most similar segments (nearest centres in
  the clustering's feature space), one and then two of them, testing the same
  action on all;
* a **larger effect**: the smallest lift the current arms can detect, which is
  already on every design (``min_detectable_effect``).

The control share is a business choice: :func:`control_options` sizes the
whole plan at shares of 10%, 20%, 30% and 50% (and the configured one) and
counts the customers each holds back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.config import ExperimentsConfig
from analysis.experiments._baselines import summarise
from analysis.experiments._schema import ControlChoice, ControlOption, SizingOption
from analysis.experiments._sizing import size_test

__all__ = ["CONTROL_SHARES", "testable_options", "control_options"]

CONTROL_SHARES = (0.1, 0.2, 0.3, 0.5)
_MAX_WINDOW = 365


def _arms(draws: np.ndarray, share: float) -> tuple[int, int]:
    control = int((draws < share).sum())
    return len(draws) - control, control


def _option(kind, rows, *, draws, window, pooled, source, config) -> SizingOption:
    n_t, n_c = _arms(draws, config.control_share)
    sized = size_test(
        summarise(rows, source), n_treatment=n_t, n_control=n_c, config=config, control_share=config.control_share
    )
    return SizingOption(
        kind=kind,
        window_days=window,
        pooled_with=list(pooled),
        customers=len(draws),
        metric=sized.metric,
        baseline=sized.baseline,
        required_treatment=sized.required_treatment,
        required_control=sized.required_control,
        assigned_treatment=n_t,
        assigned_control=n_c,
        testable=sized.testable,
    )


def testable_options(
    segment: int,
    *,
    rows: pd.DataFrame,
    draws: pd.Series,
    source: str,
    config: ExperimentsConfig,
    neighbours: Sequence[int],
    rows_for_window: Callable[[int], pd.DataFrame] | None,
) -> list[SizingOption]:
    """Options for one segment that is too small (or has no usable relative lift).

    ``rows`` are every member's baseline rows (all segments), ``draws`` every
    member's assignment draw by segment (index: segment id), ``neighbours``
    the other segments nearest first, and ``rows_for_window(days)`` the
    members' rows for another window (``None`` when the source cannot give one).
    """
    options = []
    mine = rows[rows["segment"] == segment]
    if rows_for_window is not None:
        for window in sorted({min(2 * config.window_days, _MAX_WINDOW), min(4 * config.window_days, _MAX_WINDOW)}):
            if window > config.window_days:
                longer = rows_for_window(window)
                options.append(
                    _option(
                        "longer_window",
                        longer[longer["segment"] == segment],
                        draws=draws.loc[[segment]].to_numpy(),
                        window=window,
                        pooled=(),
                        source=source,
                        config=config,
                    )
                )
    for depth in (1, 2):
        pooled = list(neighbours[:depth])
        if len(pooled) < depth:
            break
        group = [segment, *pooled]
        options.append(
            _option(
                "pooled",
                pd.concat([mine, rows[rows["segment"].isin(pooled)]]),
                draws=draws.loc[group].to_numpy(),
                window=config.window_days,
                pooled=pooled,
                source=source,
                config=config,
            )
        )
    return options


def control_options(
    *,
    rows: pd.DataFrame,
    draws: pd.Series,
    source: str,
    config: ExperimentsConfig,
    segments: Sequence[int],
    baselines_ok: Mapping[int, bool],
) -> list[ControlOption]:
    """The whole plan at each control share: customers held back and segments testable."""
    out = []
    for share in sorted({*CONTROL_SHARES, config.control_share}):
        choices = []
        for sid in segments:
            mine = draws.loc[[sid]].to_numpy() if sid in draws.index else np.array([])
            n_t, n_c = _arms(mine, share)
            sized = None
            if baselines_ok.get(sid, False):
                base = summarise(rows[rows["segment"] == sid], source)
                sized = size_test(base, n_treatment=n_t, n_control=n_c, config=config, control_share=share)
            choices.append(
                ControlChoice(
                    segment=sid,
                    assigned_treatment=n_t,
                    assigned_control=n_c,
                    required_treatment=None if sized is None else sized.required_treatment,
                    required_control=None if sized is None else sized.required_control,
                    testable=bool(sized is not None and sized.testable),
                )
            )
        out.append(
            ControlOption(
                control_share=share,
                held_back=sum(c.assigned_control for c in choices),
                testable_segments=sum(c.testable for c in choices),
                segments=choices,
            )
        )
    return out
