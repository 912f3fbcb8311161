"""``design_experiments``: one test per segment, sized on what its members are expected to do next."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from analysis.clv import ClvResult, window_forecast
from analysis.config import ExperimentsConfig
from analysis.errors import DataError
from analysis.experiments._assign import assign_arms
from analysis.experiments._power import required_sizes, smallest_difference, smallest_effect
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


# A conversion baseline below this is treated as 0: a relative lift of it means nothing to anyone.
_NEAR_ZERO = 1e-3


@dataclass(frozen=True)
class _Baseline:
    """One segment's baseline figures, from whichever source."""

    source: str
    customers: int
    conversion: float | None
    revenue: float | None
    revenue_sd: float | None

    def of(self, metric: str) -> tuple[float | None, float | None]:
        return (self.conversion, None) if metric == "conversion" else (self.revenue, self.revenue_sd)


def _history_table(
    members: pd.DataFrame, orders: pd.DataFrame, *, start: pd.Timestamp, stop: pd.Timestamp
) -> pd.DataFrame:
    # Members who had bought by `start`: did they buy in (start, stop), and for how much.
    ts = orders["timestamp"]
    first = orders.groupby("customer_id")["timestamp"].min()
    window = orders[(ts >= start) & (ts < stop)]
    spent = window.groupby("customer_id")["amount"].sum()
    table = members[["customer_id", "segment"]].copy()
    table["eligible"] = table["customer_id"].map(first).lt(start).fillna(False).astype(bool)
    table["revenue"] = table["customer_id"].map(spent).fillna(0.0).astype(float)
    table["converted"] = table["revenue"].gt(0) | table["customer_id"].isin(window["customer_id"])
    return table[table["eligible"]]


def _history_baseline(rows: pd.DataFrame) -> _Baseline:
    n = len(rows)
    return _Baseline(
        source="history",
        customers=n,
        conversion=float(rows["converted"].mean()) if n else None,
        revenue=float(rows["revenue"].mean()) if n else None,
        revenue_sd=float(rows["revenue"].std(ddof=1)) if n > 1 else None,
    )


def _model_table(members: pd.DataFrame, clv: ClvResult, *, window_days: int) -> pd.DataFrame:
    section = clv.section
    window = window_days / section.time_unit_days
    forecast = window_forecast(clv.per_customer, params=section.forecast_params, window=window)
    keys = pd.DataFrame({"customer_id": members["customer_id"].astype(str), "segment": members["segment"].to_numpy()})
    return keys.merge(forecast, on="customer_id", how="inner", validate="one_to_one")


def _model_baseline(rows: pd.DataFrame) -> _Baseline:
    n = len(rows)
    if not n:
        return _Baseline("bgnbd", 0, None, None, None)
    mean = float(rows["expected_revenue"].mean())
    # Law of total variance over members: E[Y^2] averaged over members, minus the squared mean.
    var = float(rows["revenue_second_moment"].mean()) - mean**2
    sd = math.sqrt(var) if math.isfinite(var) and var > 0 else None
    return _Baseline("bgnbd", n, float(rows["p_purchase"].mean()), mean, sd)


def _usable(metric: str, value: float | None, sd: float | None, mde: float) -> bool:
    if value is None:
        return False
    if metric == "conversion":
        return _NEAR_ZERO <= value and value * (1.0 + mde) < 1.0
    return value > 0.0 and sd is not None and sd > 0.0


def _design(sid, seg, members_seg, base: _Baseline | None, assigned, config: ExperimentsConfig) -> ExperimentDesign:
    name = str(_get(seg, "name", f"Segment {sid}"))
    action = _action(seg)
    n_t = int((assigned == "treatment").sum())
    n_c = int((assigned == "control").sum())
    metric, note, absolute = config.metric, None, False
    value, sd = base.of(metric) if base is not None else (None, None)
    label = metric_label(config.metric, config.window_days)
    enough = base is not None and base.customers >= config.min_baseline_customers
    if enough and not _usable(metric, value, sd, config.mde):
        if metric == "conversion":
            ceiling = value is not None and value * (1.0 + config.mde) >= 1.0
            why = (
                f"{value:.1%} of members are expected to buy within {config.window_days} days, so a "
                f"{config.mde:.0%} relative lift would pass 100%"
                if ceiling
                else f"the {label} rate is {value:.1%}, so a relative lift of it means nothing"
            )
            rev, rev_sd = base.of("revenue")
            if ceiling and _usable("revenue", rev, rev_sd, config.mde):
                metric, value, sd = "revenue", rev, rev_sd
                note = f"Sized on revenue per customer instead of repurchase: {why}."
            else:
                absolute = True
                note = f"Given as an absolute rise in rate points: {why}."
    label = metric_label(metric, config.window_days)
    hypothesis = (
        f"Giving {name} the action '{action}' raises {label} "
        + ("" if absolute else f"by at least {config.mde:.0%} ")
        + "against an untouched control group."
        if action
        else f"A targeted action raises {label} for {name}" + ("." if absolute else f" by at least {config.mde:.0%}.")
    )
    common = dict(
        segment=int(sid),
        name=name,
        persona=_get(seg, "persona"),
        action=action,
        hypothesis=hypothesis,
        customers=int(len(members_seg)),
        baseline_customers=0 if base is None else int(base.customers),
        baseline_source=None if base is None else base.source,
        metric=metric,
        metric_label=label,
        metric_note=note,
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
        min_detectable_difference=None,
    )
    if not enough:
        have = 0 if base is None else base.customers
        what = (
            "members have a lifetime-value forecast"
            if base is not None and base.source == "bgnbd"
            else "members bought before the back-test window"
        )
        return ExperimentDesign(
            **common | {"baseline_source": None},
            **empty,
            testable=False,
            reason=f"only {have} {what}; at least {config.min_baseline_customers} are needed to estimate a baseline",
        )
    power_args = dict(n_treatment=n_t, n_control=n_c, alpha=config.alpha, power=config.power)
    diff = smallest_difference(metric, baseline=value, sd=sd, **power_args) if sd or metric == "conversion" else None
    detect = (f"with {n_t:,} treatment and {n_c:,} control customers " if n_t + n_c else "") + (
        f"the smallest rise it could detect is {diff * 100:.1f} points ({value:.1%} to {value + diff:.1%})"
        if diff is not None and metric == "conversion"
        else f"the smallest rise it could detect is {diff:,.2f} per customer"
        if diff is not None
        else "no rise could be detected at this size"
    )
    if absolute:
        return ExperimentDesign(
            **common,
            **empty
            | {
                "baseline": value,
                "min_detectable_difference": diff,
                "min_detectable_target": None if diff is None else value + diff,
                "min_detectable_effect": None if diff is None or value < _NEAR_ZERO else diff / value,
            },
            testable=False,
            reason=f"a {config.mde:.0%} relative lift cannot be sized here; {detect}",
        )
    if not _usable(metric, value, sd, config.mde):
        # Only revenue gets here: no spend, or no spread to size a test on.
        return ExperimentDesign(
            **common,
            **empty | {"baseline": value, "baseline_sd": sd},
            testable=False,
            reason=f"{label} is {value:,.2f} with no spread to size a test on",
        )
    req_t, req_c, es = required_sizes(
        metric,
        baseline=value,
        sd=sd,
        relative_effect=config.mde,
        alpha=config.alpha,
        power=config.power,
        control_share=config.control_share,
    )
    mde_small = smallest_effect(metric, baseline=value, sd=sd, **power_args)
    testable = n_t >= req_t and n_c >= req_c
    reason = None
    if not testable:
        reason = f"needs {req_t:,} treatment and {req_c:,} control customers but has {n_t:,} and {n_c:,}; " + (
            f"the smallest lift it could detect is {mde_small:.0%} ("
            + (
                f"{value:.1%} to {value + diff:.1%}"
                if metric == "conversion"
                else f"{value:,.2f} to {value + diff:,.2f} per customer"
            )
            + ")"
            if mde_small is not None
            else "no lift could be detected at this size"
        )
    return ExperimentDesign(
        **common,
        baseline=value,
        baseline_sd=sd,
        target=value * (1.0 + config.mde),
        effect_size=es,
        required_treatment=req_t,
        required_control=req_c,
        required_total=req_t + req_c,
        testable=testable,
        reason=reason,
        min_detectable_effect=mde_small,
        min_detectable_target=None if diff is None else value + diff,
        min_detectable_difference=diff,
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


def _model_problem(clv: ClvResult | None, metric: str) -> str | None:
    """Why the lifetime-value forecast cannot give the baselines, or ``None`` when it can."""
    if clv is None:
        return "no lifetime-value model was fitted"
    section = clv.section
    if not section.reliable or not section.forecast_params:
        return "the lifetime-value model is not reliable" + (f" ({section.reason})" if section.reason else "")
    if len(clv.per_customer) == 0:
        return "the lifetime-value model gave no per-customer forecasts"
    if metric == "revenue" and not section.forecast_params.get("q", 0.0) > 2.0:
        return "the Gamma-Gamma fit (q <= 2) leaves the spread of spend undefined, so revenue cannot be sized on it"
    return None


def _method_text(source: str, config: ExperimentsConfig, *, clv, problem, start, stop) -> str:
    w = config.window_days
    if source == "bgnbd":
        section = clv.section
        text = (
            f"Forecast by the lifetime-value models ({section.forecast_fitted_on}) for the {w} days after the "
            "end of the data, from each member's own purchase history. "
        )
        if config.metric == "conversion":
            text += (
                f"Each member's chance of buying at least once in those {w} days is P(active now) x "
                "(1 - ((alpha + T) / (alpha + T + t)) ** (r + x)) under BG/NBD; the baseline is the "
                "members' mean. "
            )
        else:
            text += (
                f"Each member's expected spend in those {w} days is their expected purchases (BG/NBD) times "
                "their expected spend per purchase (Gamma-Gamma); the baseline is the members' mean. "
            )
        text += (
            ("The" if config.metric == "revenue" else "When a segment is sized on revenue instead, the")
            + " standard deviation of spend across members adds the spread of members' expectations to each "
            "member's own uncertainty (law of total variance; purchase count from the BG/NBD, spend per "
            "purchase from the Gamma-Gamma model). "
            "A forecast does not re-read the recent window the segments were drawn on, so active segments are "
            "not inflated and lapsed ones are not zero by construction. It assumes the test starts right after "
            "the data ends and the market does not change (no seasonality, no campaigns)."
        )
        check = section.validation
        if check is not None and check.overall.relative_error is not None:
            text += (
                f" On the lifetime-value holdout ({check.holdout_start} to {check.holdout_end}) the calibration "
                f"fit predicted {check.overall.predicted:,.0f} purchases against {check.overall.actual:,.0f} made "
                f"({check.overall.relative_error:+.1%}); the lifetime-value page shows it segment by segment."
            )
        return text
    what = (
        "the share of them who bought in it"
        if config.metric == "conversion"
        else "their mean spend in it, non-buyers counted as 0"
    )
    last = (stop - pd.Timedelta(days=1)).date().isoformat()
    return (
        f"Fallback, because {problem}: a back-test. The outcome window is the {w} days that ended {w} days "
        f"before the end of the data ({start.date().isoformat()} to {last}); "
        f"the baseline is, among members who had bought before it, {what}. It skips the last {w} days, which "
        "the segments were drawn on, but is still biased: members are grouped by what they did after the "
        "outcome window, so lapsed segments look more active than they will be (many were still buying then, "
        f"and a segment defined by more than {2 * w} days without a purchase is at 0 by construction), active "
        "segments may look less active, and it assumes nothing has changed since."
    )


def design_experiments(
    members: pd.DataFrame,
    *,
    segments: Sequence[object],
    orders: pd.DataFrame,
    config: ExperimentsConfig,
    observation_end: dt.date,
    clv: ClvResult | None = None,
) -> ExperimentsResult:
    """Design one A/B test per segment and assign every member to an arm.

    The baseline of each segment is what its members are expected to do over
    the ``window_days`` after the end of the data without the action: the
    lifetime-value models' forecast when ``clv`` is given and reliable
    (``baseline_source = "bgnbd"``), else a back-test on the window one window
    earlier (``"history"``). Segments whose conversion baseline leaves no room
    for the relative lift, or is 0, are sized on revenue per customer when the
    baseline is near 100% and a revenue baseline exists, else described by the
    smallest absolute rise the arms can detect (``metric_note`` says which).

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
        Last day observed; the test window starts the day after.
    clv
        The lifetime-value result (``ClvResult``: section and private per-customer
        table keyed by raw ``customer_id``), or ``None``.

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
    stop = end - pd.Timedelta(days=config.window_days)
    start = stop - pd.Timedelta(days=config.window_days)
    problem = _model_problem(clv, config.metric)
    source = "history" if problem else "bgnbd"
    if source == "bgnbd":
        table, summarise = _model_table(members, clv, window_days=config.window_days), _model_baseline
    else:
        table, summarise = _history_table(members, orders, start=start, stop=stop), _history_baseline
    designs = []
    for seg in sorted(segments, key=lambda s: int(_get(s, "id"))):
        sid = int(_get(seg, "id"))
        in_seg = assignments["segment"] == sid
        base = summarise(table[table["segment"] == sid])
        designs.append(_design(sid, seg, assignments[in_seg], base, assignments.loc[in_seg, "arm"], config))
    section = ExperimentsSection(
        metric=config.metric,
        metric_label=metric_label(config.metric, config.window_days),
        window_days=config.window_days,
        mde=config.mde,
        alpha=config.alpha,
        power=config.power,
        control_share=config.control_share,
        baseline_source=source,
        baseline_method=_method_text(source, config, clv=clv, problem=problem, start=start, stop=stop),
        power_method=(
            "Two-sided test; customers per arm from statsmodels' "
            + (
                "NormalIndPower on Cohen's h (two proportions); a segment sized on revenue instead uses "
                "TTestIndPower on Cohen's d (two means)."
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
