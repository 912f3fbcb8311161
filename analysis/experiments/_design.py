"""``design_experiments``: one test per segment, sized on what its members are expected to do next."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from analysis._align import ids_unique
from analysis._rounding import round_tree
from analysis.clv import ClvResult
from analysis.config import ExperimentsConfig
from analysis.errors import DataError
from analysis.experiments._assign import unit_draws
from analysis.experiments._baselines import member_table, model_problem, summarise
from analysis.experiments._options import control_options, testable_options
from analysis.experiments._schema import Backtest, ExperimentDesign, ExperimentsSection, HoldoutCheck
from analysis.experiments._sizing import size_test

__all__ = ["ExperimentsResult", "design_experiments"]


@dataclass(frozen=True)
class ExperimentsResult:
    """What :func:`design_experiments` returns.

    Attributes
    ----------
    section
        The bundle's ``experiments`` section.
    assignments
        Private export: ``customer_id`` (raw), ``pseudonym``, ``segment`` (int),
        ``arm`` (``"control"`` / ``"treatment"``), one row per member.
    """

    section: ExperimentsSection
    assignments: pd.DataFrame


def _get(obj, name, default=None):
    return obj.get(name, default) if isinstance(obj, dict) else getattr(obj, name, default)


def _action(segment) -> str | None:
    direct = _get(segment, "action")
    if direct:
        return str(direct)
    recs = _get(segment, "recommendations") or []
    return str(_get(recs[0], "action")) if recs else None


def _design(seg, members: pd.DataFrame, base, options, config: ExperimentsConfig) -> ExperimentDesign:
    n_t = int((members["arm"] == "treatment").sum())
    n_c = int((members["arm"] == "control").sum())
    sized = size_test(base, n_treatment=n_t, n_control=n_c, config=config, control_share=config.control_share)
    return ExperimentDesign(
        segment=int(_get(seg, "id")),
        persona=_get(seg, "persona"),
        action=_action(seg),
        customers=len(members),
        baseline_customers=0 if base is None else int(base.customers),
        baseline_source=None if sized.verdict == "no_history" or base is None else base.source,
        metric=sized.metric,
        metric_switch=sized.metric_switch,
        baseline_issue=sized.baseline_issue,
        absolute=sized.absolute,
        verdict=sized.verdict,
        testable=sized.testable,
        conversion_baseline=sized.conversion_baseline,
        baseline=sized.baseline,
        baseline_sd=sized.baseline_sd,
        target=sized.target,
        effect_size=sized.effect_size,
        required_treatment=sized.required_treatment,
        required_control=sized.required_control,
        required_total=sized.required_total,
        assigned_treatment=n_t,
        assigned_control=n_c,
        min_detectable_effect=sized.min_detectable_effect,
        min_detectable_target=sized.min_detectable_target,
        min_detectable_difference=sized.min_detectable_difference,
        options=options if sized.verdict in ("too_small", "absolute_only") else [],
    )


def _clean_numbers(section: ExperimentsSection) -> ExperimentsSection:
    return ExperimentsSection.model_validate(round_tree(section.model_dump()))


def _holdout(clv: ClvResult | None) -> HoldoutCheck | None:
    check = None if clv is None else clv.section.validation
    if check is None:
        return None
    o = check.overall
    return HoldoutCheck(
        start=check.holdout_start,
        end=check.holdout_end,
        predicted=o.predicted,
        actual=o.actual,
        relative_error=o.relative_error,
    )


def _members(members: pd.DataFrame, config: ExperimentsConfig) -> pd.DataFrame:
    missing = [c for c in ("customer_id", "pseudonym", "segment") if c not in members.columns]
    if missing:
        raise DataError(f"members must have customer_id, pseudonym and segment; missing {missing!r}.")
    if not ids_unique(members["customer_id"]):
        dup = members.loc[members["customer_id"].duplicated(), "pseudonym"].iloc[0]
        raise DataError("members: each customer must appear once.", column="pseudonym", value=dup)
    members = members.sort_values("customer_id", kind="stable").reset_index(drop=True)
    draws = unit_draws(members["pseudonym"].astype(str), seed=config.seed)
    return pd.DataFrame(
        {
            "customer_id": members["customer_id"].astype(str),
            "pseudonym": members["pseudonym"].astype(str),
            "segment": members["segment"].astype(int),
            "draw": draws,
            "arm": ["control" if d < config.control_share else "treatment" for d in draws],
        }
    )


def design_experiments(
    members: pd.DataFrame,
    *,
    segments: Sequence[object],
    orders: pd.DataFrame,
    config: ExperimentsConfig,
    observation_end: dt.date,
    clv: ClvResult | None = None,
    neighbours: Mapping[int, Sequence[int]] | None = None,
) -> ExperimentsResult:
    """Design one A/B test per segment and assign every member to an arm.

    The baseline of each segment is what its members are expected to do over
    the ``window_days`` after the end of the data without the action: the
    lifetime-value models' forecast when ``clv`` is given and reliable
    (``baseline_source = "bgnbd"``), else a back-test on the window one window
    earlier (``"history"``, with ``baseline_problem`` saying why). Segments
    whose conversion baseline leaves no room for the relative lift are sized on
    revenue when the baseline is near 100% and a revenue baseline exists, else
    described by the smallest absolute rise the arms can detect. A segment too
    small to test gets :mod:`analysis.experiments._options`: a longer window
    or pooling with its ``neighbours`` (other segment ids, nearest first); the
    plan is also sized at other control shares.

    Parameters
    ----------
    members
        One row per customer: ``customer_id`` (raw), ``pseudonym``, ``segment`` (int).
    segments
        Bundle ``Segment`` models or dicts with ``id``, ``persona`` and either
        ``action`` or ``recommendations`` (the first one's ``action`` is tested).
    orders
        One row per order: ``customer_id``, ``timestamp``, ``amount``.
    config
        The ``[experiments]`` section.
    observation_end
        Last day observed; the test window starts the day after.
    clv
        The lifetime-value result, or ``None``.
    neighbours
        ``{segment id: other ids, most similar first}`` for pooling; none when omitted.

    Raises
    ------
    DataError
        When ``members`` lacks a column or repeats a customer.
    """
    table = _members(members, config)
    end = pd.Timestamp(observation_end) + pd.Timedelta(days=1)
    stop = end - pd.Timedelta(days=config.window_days)
    start = stop - pd.Timedelta(days=config.window_days)
    problem = model_problem(clv, config.metric)
    source = "history" if problem else "bgnbd"
    args = dict(source=source, orders=orders, clv=clv, start=start, stop=stop)
    rows = member_table(table, window_days=config.window_days, **args)
    # Every segment asks for the same longer windows: each window's forecast is made once.
    by_window = {config.window_days: rows}

    def window_rows(days: int) -> pd.DataFrame:
        if days not in by_window:
            by_window[days] = member_table(table, window_days=days, **args)
        return by_window[days]

    rows_for_window = window_rows if source == "bgnbd" else None

    draws = table.set_index("segment")["draw"].sort_index(kind="stable")
    designs = []
    for seg in sorted(segments, key=lambda s: int(_get(s, "id"))):
        sid = int(_get(seg, "id"))
        mine = table[table["segment"] == sid]
        base = summarise(rows[rows["segment"] == sid], source)
        options = testable_options(
            sid,
            rows=rows,
            draws=draws,
            source=source,
            config=config,
            neighbours=list((neighbours or {}).get(sid, ())),
            rows_for_window=rows_for_window,
        )
        designs.append(_design(seg, mine, base, options, config))
    section = ExperimentsSection(
        metric=config.metric,
        window_days=config.window_days,
        mde=config.mde,
        alpha=config.alpha,
        power=config.power,
        control_share=config.control_share,
        min_baseline_customers=config.min_baseline_customers,
        baseline_source=source,
        baseline_problem=problem,
        backtest=Backtest(start=start.date().isoformat(), end=(stop - pd.Timedelta(days=1)).date().isoformat())
        if source == "history"
        else None,
        holdout=_holdout(clv) if source == "bgnbd" else None,
        designs=designs,
        customers=len(table),
        assigned_treatment=int((table["arm"] == "treatment").sum()),
        assigned_control=int((table["arm"] == "control").sum()),
        testable_segments=sum(d.testable for d in designs),
        control_options=control_options(
            rows=rows,
            draws=draws,
            source=source,
            config=config,
            segments=[d.segment for d in designs],
            baselines_ok={d.segment: d.verdict != "no_history" for d in designs},
        ),
    )
    return ExperimentsResult(section=_clean_numbers(section), assignments=table.drop(columns="draw"))
