"""Segment profiles -> named segments with recommendations, from a playbook.

One public verb, :func:`name_segments`. The rules live in a TOML playbook
(``analysis/data/playbook.toml`` by default; its header documents the format):
ordered personas, each with conditions on the segment's feature percentiles or
z-scores, an ideal profile, a name, a description and actions, plus a fallback.

Assignment
----------
1. Each segment matches the personas whose conditions all hold.
2. Segments and personas are paired one-to-one so that the total distance of
   each segment to its persona's ideal profile (root-mean-square over the
   ideal's keys) is smallest, using only pairs that match (an assignment
   problem, solved exactly). Exact ties go to the earlier persona.
3. A segment left without a persona (more segments than matching personas)
   shares the matching persona nearest to it, or gets the fallback if it
   matched none.
4. Segments sharing a persona get a qualifier computed from the feature that
   separates them most (e.g. "Hibernating — higher spend"), so names are
   unique. Recommendations come from the persona, never from the segment
   number, so renumbering segments changes no text.
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from analysis.bundle import Recommendation, Segment
from analysis.config import FEATURES
from analysis.errors import DataError
from analysis.playbook import DEFAULT_PLAYBOOK, OPS, Persona, Playbook, load_playbook
from analysis.profiles import SegmentProfile

__all__ = ["name_segments", "load_playbook", "Playbook", "DEFAULT_PLAYBOOK"]


# (low word, high word) for qualifying two segments that share a persona.
_QUALIFIERS = {
    "monetary": ("lower spend", "higher spend"),
    "recency": ("more recent", "less recent"),
    "frequency": ("fewer orders", "more orders"),
    "avg_order_value": ("smaller orders", "larger orders"),
    "tenure": ("newer", "longer-standing"),
    "avg_unit_cost": ("lower-priced items", "higher-priced items"),
    "distinct_products": ("narrower range", "wider range"),
    "total_quantity": ("fewer units", "more units"),
}


def _value(profile: SegmentProfile, key: str) -> float | None:
    feature, kind = key.rsplit("_", 1)
    if feature not in profile.features:
        return None
    return profile.pct(feature) if kind == "pct" else profile.z(feature)


def _matches(profile: SegmentProfile, persona: Persona) -> bool:
    for key, op, threshold in persona.conditions():
        value = _value(profile, key)
        if value is None or not OPS[op](value, threshold):
            return False
    return True


def _distance(profile: SegmentProfile, persona: Persona) -> float:
    """Root-mean-square gap to the persona's ideal, over the ideal's keys the profile has."""
    terms = []
    for key, target in persona.ideal.items():
        value = _value(profile, key)
        if value is not None:
            terms.append((value - target) ** 2)
    return math.sqrt(math.fsum(terms) / len(terms)) if terms else 0.0


_UNMATCHED = 1e6


def _assign(profiles: list[SegmentProfile], playbook: Playbook) -> dict[int, Persona]:
    """Persona per segment id: one-to-one where possible, then shared, then fallback."""
    personas = playbook.personas
    matches = {p.id: [q for q in personas if _matches(p, q)] for p in profiles}
    # Rows in id order, so the cost matrix (and how exact ties fall) ignores the list order.
    rows = sorted((p for p in profiles if matches[p.id]), key=lambda p: p.id)
    chosen: dict[int, Persona] = {}
    if rows:
        # Minimum total distance to the ideals over one-to-one matches: greedy choices in playbook
        # order can hand the top persona to a near-ideal segment and push a more extreme one
        # (e.g. higher spend and frequency) down to a lesser persona. The tiny order term breaks
        # exact ties towards earlier personas.
        cost = np.array(
            [
                [_distance(p, q) + 1e-9 * j if q in matches[p.id] else _UNMATCHED for j, q in enumerate(personas)]
                for p in rows
            ]
        )
        for r, c in zip(*linear_sum_assignment(cost), strict=True):
            if cost[r, c] < _UNMATCHED:
                chosen[rows[r].id] = personas[c]
    for p in profiles:
        if p.id not in chosen:
            options = matches[p.id]
            chosen[p.id] = (
                min(options, key=lambda q: (_distance(p, q), personas.index(q))) if options else playbook.fallback
            )
    return chosen


# What a feature is called in a qualifier, and the rank words for three to five segments.
_NOUNS = {
    "monetary": "spend",
    "recency": "recency",
    "frequency": "order count",
    "avg_order_value": "order value",
    "tenure": "tenure",
    "avg_unit_cost": "item price",
    "distinct_products": "product range",
    "total_quantity": "units",
}
_RANKS = {
    3: ("lowest", "middle", "highest"),
    4: ("lowest", "lower", "higher", "highest"),
    5: ("lowest", "lower", "middle", "higher", "highest"),
}


def _qualifiers(group: list[SegmentProfile]) -> dict[int, str]:
    """Distinct qualifiers (words, never numbers) for segments sharing one persona."""
    shared = [f for f in FEATURES if all(f in p.features for p in group)]

    def spread(f: str) -> float:
        values = [p.pct(f) for p in group]
        return max(values) - min(values)

    ranked = sorted(shared, key=lambda f: (-spread(f), FEATURES.index(f)))
    for f in ranked:
        ordered = sorted(group, key=lambda p: (p.mean(f), p.id))
        if len({p.mean(f) for p in group}) < len(group):
            continue
        if len(group) == 2:
            low, high = _QUALIFIERS[f]
            return {ordered[0].id: low, ordered[1].id: high}
        if len(group) in _RANKS:
            return {p.id: f"{word} {_NOUNS[f]}" for p, word in zip(ordered, _RANKS[len(group)], strict=True)}
    # Identical on every feature, or too many to rank in words: letters in id order.
    return {p.id: f"group {chr(ord('A') + i)}" for i, p in enumerate(sorted(group, key=lambda p: p.id))}


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name and name != "cur"}


def _check(template: str, values: dict[str, float], persona: Persona) -> str:
    missing = sorted(_fields(template) - set(values))
    if missing:
        raise DataError(
            f"persona {persona.key!r} cites {missing[0]!r}, which this segment profile lacks; "
            f"profiled values: {sorted(values)!r}."
        )
    return template


def _recommendations(persona: Persona, values: dict[str, float]) -> list[Recommendation]:
    """The persona's actions whose templates cite only values this segment has (the renderer fills them).

    An action citing a value this data lacks (tenure without dates, say, for a
    customer-level input) is left out, as long as one action remains.
    """
    usable = [a for a in persona.actions if all(_fields(x) <= set(values) for x in (a.action, a.why, a.kpi))]
    if not usable:
        first = persona.actions[0]
        _check(first.action + first.why + first.kpi, values, persona)  # raises the DataError naming the value
    return [Recommendation(action=a.action, why=a.why, kpi=a.kpi) for a in usable]


def _values(profile: SegmentProfile) -> dict[str, float]:
    values: dict[str, float] = {
        "size": float(profile.size),
        "share_customers": profile.share_customers,
        "revenue": profile.revenue,
        "share_revenue": profile.share_revenue,
    }
    for f, fp in profile.features.items():
        values |= {f"mean_{f}": fp.mean, f"median_{f}": fp.median, f"z_{f}": fp.z, f"pct_{f}": round(profile.pct(f), 6)}
    return values


def _keep_identities(
    chosen: dict[int, Persona], names: dict[int, str], keep: Mapping[int, tuple[str, str]], playbook: Playbook
) -> None:
    """Segments that continue a previous refresh's segment keep its persona and name (in place)."""
    by_key = {q.key: q for q in playbook.personas}
    for sid, (persona, name) in keep.items():
        if sid in chosen:
            chosen[sid] = by_key.get(persona, chosen[sid])
            names[sid] = name
    taken = {names[sid] for sid in keep if sid in names}
    for sid in sorted(names):
        if sid not in keep and names[sid] in taken:
            names[sid] = f"{names[sid]} (new)"
        taken.add(names[sid])


def name_segments(
    profiles: list[SegmentProfile],
    *,
    playbook_path: Path | None = None,
    keep: Mapping[int, tuple[str, str]] | None = None,
) -> list[Segment]:
    """Give each segment a unique name, a persona and recommendations.

    Parameters
    ----------
    profiles
        One profile per segment (see :func:`analysis.profiles.profile_segments`).
    playbook_path
        TOML playbook; ``None`` uses the packaged ``analysis/data/playbook.toml``.
    keep
        ``{segment id: (persona key, name)}`` of segments that continue a previous
        refresh's segment: they keep that persona (while the playbook still has it)
        and that name; a new segment whose name would repeat one gets " (new)".

    Returns
    -------
    list[Segment]
        Bundle segments in the order of ``profiles`` (``rfm_mix`` left empty). The
        description and recommendations are the playbook's templates, unfilled:
        the site and the brief fill them from ``values`` with the report's number
        formats (``publishing._playbook.fill``), so no sentence with a number is
        written here.

    Raises
    ------
    ConfigError
        The playbook is missing or invalid.
    DataError
        Segment ids repeat, or a template cites a value the profile lacks.
    """
    playbook = load_playbook(playbook_path)
    ids = [p.id for p in profiles]
    if len(set(ids)) != len(ids):
        raise DataError(f"segment ids must be unique; got {ids!r}.")
    chosen = _assign(profiles, playbook)
    names = {p.id: chosen[p.id].name for p in profiles}
    for key in sorted({q.key for q in chosen.values()}):
        group = [p for p in profiles if chosen[p.id].key == key]
        if len(group) > 1:
            for seg_id, qualifier in _qualifiers(group).items():
                names[seg_id] = f"{chosen[seg_id].name} — {qualifier}"
    if keep:
        _keep_identities(chosen, names, keep, playbook)

    segments = []
    for p in profiles:
        persona = chosen[p.id]
        values = _values(p)
        segments.append(
            Segment(
                id=p.id,
                persona=persona.key,
                name=names[p.id],
                description=_check(persona.description, values, persona),
                values=values,
                size=p.size,
                share_customers=p.share_customers,
                revenue=p.revenue,
                share_revenue=p.share_revenue,
                outlier=p.outlier,
                outlier_feature=p.outlier_feature,
                outlier_ratio=p.outlier_ratio,
                profile=dict(p.features),
                recommendations=_recommendations(persona, values),
            )
        )
    return segments
