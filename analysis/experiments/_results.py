"""``read_results``: a results file against the assignment, lift per segment with CI and p-value.

Every row is accounted for under the first rule it breaks (unparseable,
unknown customer, duplicate, arm mismatch) and the counts are published;
nothing is dropped silently.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep, test_proportions_2indep

from analysis.config import ExperimentsConfig
from analysis.errors import DataError, EmptyDataError
from analysis.experiments._assign import ARMS
from analysis.experiments._schema import ExperimentResults, LiftRow, LiftTable, ResultProblem

__all__ = ["read_results"]

ID_COLUMNS = ("customer", "pseudonym", "customer_id")
TRUE = {"1", "true", "yes", "y", "t"}
FALSE = {"0", "false", "no", "n", "f"}
MAX_PROBLEMS = 5


def _num(value) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def _read(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except FileNotFoundError:
        raise DataError("results file not found.", path=path) from None
    except pd.errors.EmptyDataError:
        raise EmptyDataError("results file is empty.", path=path) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"results file is not a readable CSV ({exc}).", path=path) from None
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    id_col = next((c for c in ID_COLUMNS if c in frame.columns), None)
    missing = [c for c in ("arm", "converted", "revenue") if c not in frame.columns]
    if id_col is None:
        missing.insert(0, "customer")
    if missing:
        raise DataError(
            f"results file needs columns customer (or pseudonym / customer_id), arm, converted, revenue; "
            f"missing {missing!r}.",
            path=path,
            column=missing[0],
            value=list(frame.columns),
        )
    if frame.empty:
        raise EmptyDataError("results file has a header but no rows.", path=path)
    return frame.rename(columns={id_col: "customer"})[["customer", "arm", "converted", "revenue"]]


def _parse(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series, list[tuple[int, str, str]]]:
    arm = frame["arm"].str.strip().str.lower()
    conv_text = frame["converted"].str.strip().str.lower()
    converted = conv_text.map(lambda v: 1.0 if v in TRUE else 0.0 if v in FALSE else np.nan)
    revenue = pd.to_numeric(frame["revenue"].str.strip(), errors="coerce")
    bad_arm = ~arm.isin(ARMS)
    bad_conv = converted.isna()
    bad_rev = revenue.isna() | ~np.isfinite(revenue.fillna(0)) | (revenue < 0)
    bad_id = frame["customer"].str.strip() == ""
    problems: list[tuple[int, str, str]] = []
    for i in np.flatnonzero((bad_arm | bad_conv | bad_rev | bad_id).to_numpy()):
        for col, flag in (("customer", bad_id), ("arm", bad_arm), ("converted", bad_conv), ("revenue", bad_rev)):
            if flag.iloc[i]:
                # Customer values are never echoed: they may be raw identifiers.
                problems.append((int(i) + 2, col, "" if col == "customer" else frame[col].iloc[i]))
                break
    parsed = pd.DataFrame(
        {"customer": frame["customer"].str.strip(), "arm": arm, "converted": converted, "revenue": revenue}
    )
    return parsed, (bad_arm | bad_conv | bad_rev | bad_id), problems


def _conversion_row(sid, t: pd.DataFrame, c: pd.DataFrame, alpha: float) -> LiftRow:
    nt, nc = len(t), len(c)
    xt, xc = float(t["converted"].sum()), float(c["converted"].sum())
    base = dict(segment=sid, treatment_customers=nt, control_customers=nc)
    if nt < 2 or nc < 2:
        return LiftRow(
            **base,
            treatment_value=xt / nt if nt else None,
            control_value=xc / nc if nc else None,
            difference=None,
            difference_low=None,
            difference_high=None,
            lift=None,
            lift_low=None,
            lift_high=None,
            p_value=None,
            significant=None,
            note="arm_too_small",
        )
    pt, pc = xt / nt, xc / nc
    low, high = confint_proportions_2indep(xt, nt, xc, nc, method="newcomb", compare="diff", alpha=alpha)
    p_value = None
    if 0 < xt + xc < nt + nc:
        p_value = _num(test_proportions_2indep(xt, nt, xc, nc, method="score", compare="diff").pvalue)
    lift = lift_low = lift_high = None
    note = None
    if xc > 0 and xt > 0:
        lift = pt / pc - 1.0
        rl, rh = confint_proportions_2indep(xt, nt, xc, nc, method="log-adjusted", compare="ratio", alpha=alpha)
        lift_low, lift_high = _num(rl - 1.0), _num(rh - 1.0)
    elif xc == 0:
        note = "no_control_conversions"
    if p_value is None:
        note = "no_variation"
    return LiftRow(
        **base,
        treatment_value=pt,
        control_value=pc,
        difference=pt - pc,
        difference_low=_num(low),
        difference_high=_num(high),
        lift=lift,
        lift_low=lift_low,
        lift_high=lift_high,
        p_value=p_value,
        significant=None if p_value is None else p_value < alpha,
        note=note,
    )


def _revenue_row(sid, t: pd.DataFrame, c: pd.DataFrame, alpha: float) -> LiftRow:
    nt, nc = len(t), len(c)
    base = dict(segment=sid, treatment_customers=nt, control_customers=nc)
    mt = float(t["revenue"].mean()) if nt else None
    mc = float(c["revenue"].mean()) if nc else None
    none = dict(
        difference=None,
        difference_low=None,
        difference_high=None,
        lift=None,
        lift_low=None,
        lift_high=None,
        p_value=None,
        significant=None,
    )
    if nt < 2 or nc < 2:
        return LiftRow(**base, treatment_value=mt, control_value=mc, **none, note="arm_too_small")
    vt, vc = float(t["revenue"].var(ddof=1)), float(c["revenue"].var(ddof=1))
    if vt + vc == 0:
        return LiftRow(
            **base,
            treatment_value=mt,
            control_value=mc,
            **none,
            note="no_variation",
        )
    res = stats.ttest_ind(t["revenue"], c["revenue"], equal_var=False)
    ci = res.confidence_interval(confidence_level=1.0 - alpha)
    lift = lift_low = lift_high = None
    note = None
    if mc > 0 and mt > 0:
        # Delta method on log(mean_t / mean_c).
        se = math.sqrt(vt / (nt * mt**2) + vc / (nc * mc**2))
        z = stats.norm.ppf(1.0 - alpha / 2.0)
        lift = mt / mc - 1.0
        lift_low, lift_high = math.exp(math.log(mt / mc) - z * se) - 1.0, math.exp(math.log(mt / mc) + z * se) - 1.0
    else:
        note = "zero_mean_revenue"
    p_value = _num(float(res.pvalue))
    return LiftRow(
        **base,
        treatment_value=mt,
        control_value=mc,
        difference=mt - mc,
        difference_low=_num(float(ci.low)),
        difference_high=_num(float(ci.high)),
        lift=lift,
        lift_low=lift_low,
        lift_high=lift_high,
        p_value=p_value,
        significant=None if p_value is None else p_value < alpha,
        note=note,
    )


def _table(metric: str, used: pd.DataFrame, segment_ids: list[int], config: ExperimentsConfig) -> LiftTable:
    row = _conversion_row if metric == "conversion" else _revenue_row
    rows = []
    for sid in segment_ids:
        part = used[used["segment"] == sid]
        rows.append(row(sid, part[part["arm"] == "treatment"], part[part["arm"] == "control"], config.alpha))
    overall = row(None, used[used["arm"] == "treatment"], used[used["arm"] == "control"], config.alpha)
    return LiftTable(metric=metric, segments=rows, overall=overall)


def _problem(row: int, column: str, value: object) -> ResultProblem:
    # Customer values are never echoed: they may be raw identifiers.
    return ResultProblem(row=row, column=column, value=None if column == "customer" else str(value))


def read_results(
    path: Path,
    *,
    assignments: pd.DataFrame,
    config: ExperimentsConfig,
    segment_ids: list[int] | None = None,
) -> ExperimentResults:
    """Read an experiment's results file and measure the lift per segment.

    Parameters
    ----------
    path
        CSV with columns ``customer`` (a pseudonym or raw customer id; a column
        named ``pseudonym`` or ``customer_id`` is matched only to that),
        ``arm`` (control / treatment), ``converted`` (1/0, true/false, yes/no)
        and ``revenue`` (a number >= 0).
    assignments
        The ``assignments`` table of :func:`design_experiments`.
    config
        The ``[experiments]`` section (metric, alpha, ``max_bad_result_share``).
    segment_ids
        The segments to report (every one gets a row); default: every assigned segment.

    Returns
    -------
    ExperimentResults

    Raises
    ------
    DataError
        When the file is missing, not CSV, lacks a column, or has more unreadable
        rows than ``max_bad_result_share`` (naming the first bad column and value).
    """
    path = Path(path)
    raw = _read(path)
    header = pd.read_csv(path, nrows=0).columns.str.strip().str.lower()
    id_kind = next(c for c in ID_COLUMNS if c in header)
    parsed, bad, problems = _parse(raw)
    n = len(parsed)
    if bad.sum() > config.max_bad_result_share * n:
        row, col, val = problems[0]
        raise DataError(
            f"{int(bad.sum())} of {n} rows cannot be read, above the allowed share "
            f"{config.max_bad_result_share:.1%}; arm must be control/treatment, converted 1/0 and revenue >= 0.",
            path=path,
            column=col,
            row=row,
            value=val if col != "customer" else None,
        )
    records = list(
        zip(
            assignments["pseudonym"].astype(str),
            assignments["customer_id"].astype(str),
            assignments["segment"].astype(int),
            assignments["arm"].astype(str),
            strict=True,
        )
    )
    by_pseudonym = {p: (p, s, a) for p, _, s, a in records}
    by_raw = {c: (p, s, a) for p, c, s, a in records}
    # A 'customer' column may hold either; pseudonyms are tried first.
    lookups = {"pseudonym": [by_pseudonym], "customer_id": [by_raw], "customer": [by_pseudonym, by_raw]}[id_kind]
    found = [next((t[c] for t in lookups if c in t), None) for c in parsed["customer"]]
    key = pd.Series([f[0] if f else None for f in found], index=parsed.index, dtype=object)
    seg = pd.Series([f[1] if f else np.nan for f in found], index=parsed.index, dtype=float)
    assigned_arm = pd.Series([f[2] if f else None for f in found], index=parsed.index, dtype=object)
    unknown = ~bad & seg.isna()
    # Duplicates are judged among readable, known rows only.
    dup = ~bad & ~unknown & key.where(~bad & ~unknown).duplicated(keep="first") & key.notna()
    mismatch = ~bad & ~unknown & ~dup & (parsed["arm"] != assigned_arm)
    keep = ~(bad | unknown | dup | mismatch)
    used = parsed[keep].assign(segment=seg[keep].astype(int))
    ids = sorted(segment_ids or {int(s) for s in assignments["segment"].unique()})
    other = "revenue" if config.metric == "conversion" else "conversion"
    return ExperimentResults(
        file=path.name,
        rows=n,
        used=int(keep.sum()),
        unparseable=int(bad.sum()),
        unknown_customers=int(unknown.sum()),
        duplicates=int(dup.sum()),
        arm_mismatches=int(mismatch.sum()),
        problems=[
            ResultProblem(row=r, column=c, value=None if c == "customer" else str(v))
            for r, c, v in problems[:MAX_PROBLEMS]
        ],
        alpha=config.alpha,
        confidence_level=1.0 - config.alpha,
        primary=_table(config.metric, used, ids, config),
        secondary=_table(other, used, ids, config),
    )
