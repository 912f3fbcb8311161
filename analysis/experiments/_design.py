"""``design_experiments``: one test per segment, sized from the segment's own history."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from analysis.config import ExperimentsConfig
from analysis.errors import DataError
from analysis.experiments._assign import assign_arms
from analysis.experiments._power import required_sizes, smallest_effect
from analysis.experiments._schema import ExperimentDesign, ExperimentsSection

__all__ = ["ExperimentsResult", "design_experiments", "metric_label"]


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


def metric_label(metric: str, window_days: int) -> str:
    """The metric in words."""
    if metric == "conversion":
        return f"repurchase within {window_days} days"
    return f"revenue per customer within {window_days} days"


def _get(obj, name, default=None):
    return obj.get(name, default) if isinstance(obj, dict) else getattr(obj, name, default)


def _action(segment) -> str | None:
    direct = _get(segment, "action")
    if direct:
        return str(direct)
    recs = _get(segment, "recommendations") or []
    return str(_get(recs[0], "action")) if recs else None


def _baselines(members: pd.DataFrame, orders: pd.DataFrame, *, start: pd.Timestamp, end: pd.Timestamp):
    # Customers already active before the window: did they buy in it, and for how much.
    ts = orders["timestamp"]
    first = orders.groupby("customer_id")["timestamp"].min()
    window = orders[(ts > start) & (ts < end)]
    spent = window.groupby("customer_id")["amount"].sum()
    table = members[["customer_id", "segment"]].copy()
    table["eligible"] = table["customer_id"].map(first).le(start).fillna(False).astype(bool)
    table["revenue"] = table["customer_id"].map(spent).fillna(0.0).astype(float)
    table["converted"] = table["revenue"].gt(0) | table["customer_id"].isin(window["customer_id"])
    return table[table["eligible"]]


def _design(sid, seg, members_seg, hist, assigned, config: ExperimentsConfig) -> ExperimentDesign:
    metric = config.metric
    name = str(_get(seg, "name", f"Segment {sid}"))
    action = _action(seg)
    label = metric_label(metric, config.window_days)
    n_t = int((assigned == "treatment").sum())
    n_c = int((assigned == "control").sum())
    hypothesis = (
        f"Giving {name} the action '{action}' raises {label} by at least {config.mde:.0%} "
        f"against an untouched control group."
        if action
        else f"A targeted action raises {label} for {name} by at least {config.mde:.0%}."
    )
    base = dict(
        segment=int(sid),
        name=name,
        persona=_get(seg, "persona"),
        action=action,
        hypothesis=hypothesis,
        customers=int(len(members_seg)),
        baseline_customers=int(len(hist)),
        assigned_treatment=n_t,
        assigned_control=n_c,
    )
    empty = dict(
        baseline=None,
        baseline_sd=None,
        target=None,
        effect_size=None,
        required_treatment=None,
        required_control=None,
        required_total=None,
        min_detectable_effect=None,
        min_detectable_target=None,
    )
    if len(hist) < config.min_baseline_customers:
        return ExperimentDesign(
            **base,
            **empty,
            testable=False,
            reason=(
                f"only {len(hist)} members bought before the last {config.window_days} days; "
                f"at least {config.min_baseline_customers} are needed to estimate a baseline"
            ),
        )
    if metric == "conversion":
        baseline, sd = float(hist["converted"].mean()), None
        degenerate = baseline <= 0.0 or baseline * (1 + config.mde) >= 1.0
        why = (
            f"the baseline {label} rate is {baseline:.1%}, so a {config.mde:.0%} relative lift "
            "cannot be expressed as a rate between 0 and 1"
        )
    else:
        baseline = float(hist["revenue"].mean())
        sd = float(hist["revenue"].std(ddof=1))
        degenerate = baseline <= 0.0 or not sd > 0.0
        why = f"revenue per customer in the baseline window is {baseline:.2f} with no spread to size a test on"
    if degenerate:
        return ExperimentDesign(
            **base, **(empty | {"baseline": baseline, "baseline_sd": sd}), testable=False, reason=why
        )
    req_t, req_c, es = required_sizes(
        metric,
        baseline=baseline,
        sd=sd,
        relative_effect=config.mde,
        alpha=config.alpha,
        power=config.power,
        control_share=config.control_share,
    )
    mde_small = smallest_effect(
        metric, baseline=baseline, sd=sd, n_treatment=n_t, n_control=n_c, alpha=config.alpha, power=config.power
    )
    testable = n_t >= req_t and n_c >= req_c
    reason = None
    if not testable:
        reason = f"needs {req_t:,} treatment and {req_c:,} control customers but has {n_t:,} and {n_c:,}; " + (
            f"the smallest lift it could detect is {mde_small:.0%}"
            if mde_small is not None
            else "no lift could be detected at this size"
        )
    return ExperimentDesign(
        **base,
        baseline=baseline,
        baseline_sd=sd,
        target=baseline * (1.0 + config.mde),
        effect_size=es,
        required_treatment=req_t,
        required_control=req_c,
        required_total=req_t + req_c,
        testable=testable,
        reason=reason,
        min_detectable_effect=mde_small,
        min_detectable_target=None if mde_small is None else baseline * (1.0 + mde_small),
    )


def _clean_numbers(section: ExperimentsSection) -> ExperimentsSection:
    def walk(obj):
        if isinstance(obj, float):
            return float(f"{obj:.6g}") if math.isfinite(obj) else None
        if isinstance(obj, dict):
            return {k: walk(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [walk(v) for v in obj]
        return obj

    return ExperimentsSection.model_validate(walk(section.model_dump()))


def design_experiments(
    members: pd.DataFrame,
    *,
    segments: Sequence[object],
    orders: pd.DataFrame,
    config: ExperimentsConfig,
    observation_end: dt.date,
) -> ExperimentsResult:
    """Design one A/B test per segment and assign every member to an arm.

    Parameters
    ----------
    members
        One row per customer: ``customer_id`` (raw), ``pseudonym``, ``segment`` (int).
    segments
        Bundle ``Segment`` models or dicts with ``id``, ``name``, ``persona`` and
        either ``action`` or ``recommendations`` (the first one's ``action`` is tested).
    orders
        One row per order: ``customer_id``, ``timestamp``, ``amount``.
    config
        The ``[experiments]`` section.
    observation_end
        Last day observed; the baseline window is the ``window_days`` ending on it.

    Returns
    -------
    ExperimentsResult
        The section and the private assignment table.

    Raises
    ------
    DataError
        When ``members`` lacks a column or repeats a customer.
    """
    missing = [c for c in ("customer_id", "pseudonym", "segment") if c not in members.columns]
    if missing:
        raise DataError(f"members must have customer_id, pseudonym and segment; missing {missing!r}.")
    if members["customer_id"].duplicated().any():
        dup = members.loc[members["customer_id"].duplicated(), "pseudonym"].iloc[0]
        raise DataError("members: each customer must appear once.", column="pseudonym", value=dup)
    members = members.sort_values("customer_id", kind="stable").reset_index(drop=True)
    arms = assign_arms(members["pseudonym"].astype(str), config=config)
    assignments = pd.DataFrame(
        {
            "customer_id": members["customer_id"].astype(str),
            "pseudonym": members["pseudonym"].astype(str),
            "segment": members["segment"].astype(int),
            "arm": arms.to_numpy(),
        }
    )
    end = pd.Timestamp(observation_end) + pd.Timedelta(days=1)
    start = end - pd.Timedelta(days=config.window_days)
    hist = _baselines(members, orders, start=start, end=end)
    designs = []
    for seg in sorted(segments, key=lambda s: int(_get(s, "id"))):
        sid = int(_get(seg, "id"))
        in_seg = assignments["segment"] == sid
        designs.append(
            _design(sid, seg, assignments[in_seg], hist[hist["segment"] == sid], assignments.loc[in_seg, "arm"], config)
        )
    section = ExperimentsSection(
        metric=config.metric,
        metric_label=metric_label(config.metric, config.window_days),
        window_days=config.window_days,
        mde=config.mde,
        alpha=config.alpha,
        power=config.power,
        control_share=config.control_share,
        baseline_method=(
            f"Members who had bought before the last {config.window_days} days of the data; the baseline is "
            + (
                f"the share of them who bought again within those {config.window_days} days."
                if config.metric == "conversion"
                else f"their mean spend in those {config.window_days} days, non-buyers counted as 0."
            )
        ),
        power_method=(
            "Two-sided test; customers per arm from statsmodels' "
            + (
                "NormalIndPower on Cohen's h (two proportions)."
                if config.metric == "conversion"
                else "TTestIndPower on Cohen's d (two means)."
            )
        ),
        assignment_method=(
            f"Each customer's pseudonym is hashed (SHA-256) with a fixed seed; the {config.control_share:.0%} "
            "with the lowest hash values form the control group. Reruns give the same arms."
        ),
        designs=designs,
        customers=int(len(assignments)),
        assigned_treatment=int((assignments["arm"] == "treatment").sum()),
        assigned_control=int((assignments["arm"] == "control").sum()),
        testable_segments=sum(d.testable for d in designs),
    )
    return ExperimentsResult(section=_clean_numbers(section), assignments=assignments)
