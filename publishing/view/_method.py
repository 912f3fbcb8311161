"""How the report was made: data quality, the choice of k, features, classic RFM, configuration and software."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import tomli_w

from analysis.bundle import Bundle, Candidate, DataSection, KSelection, RfmSegment, SheetRows, Vote
from publishing.charts import feature_label
from publishing.view._common import Refs, SegmentRef, share

__all__ = [
    "DropRow",
    "QualityView",
    "FeatureRow",
    "MethodView",
    "RfmRow",
    "CrossRow",
    "NameClash",
    "RfmView",
    "ConfigSection",
    "AboutView",
    "quality_view",
    "method_view",
    "rfm_view",
    "about_view",
]

#: Configuration sections shown unfolded on the methodology page.
OPEN_SECTIONS = ("features", "k_selection", "cluster")


@dataclass(frozen=True)
class DropRow:
    """One row-accounting code with its count and share of the rows read."""

    code: str
    rows: int
    share: float


@dataclass(frozen=True)
class QualityView:
    """The data section with its totals and shares computed."""

    data: DataSection
    kept_share: float
    dropped_total: int
    dropped_share: float
    drops: tuple[DropRow, ...]
    sheets: tuple[SheetRows, ...]
    overlapping_sheets: bool


@dataclass(frozen=True)
class FeatureRow:
    column: str
    label: str
    skewness: float | None
    log1p: bool


@dataclass(frozen=True)
class ConfigSection:
    """One ``[section]`` of the run's configuration as TOML, and the keys left unset."""

    name: str
    toml: str
    unset: tuple[str, ...]
    open: bool


@dataclass(frozen=True)
class MethodView:
    """The choice of k (votes, the winner, a tie), the features and the configuration."""

    k: KSelection
    votes: tuple[Vote, ...]
    winner_votes: int
    tied_with: tuple[int, ...]
    candidates: tuple[Candidate, ...]
    features: tuple[FeatureRow, ...]
    config: tuple[ConfigSection, ...]


@dataclass(frozen=True)
class RfmRow:
    """A classic RFM segment with its rule as score ranges (``("R 4–5", "F 4–5")``; empty for the fallback)."""

    segment: RfmSegment
    rule: tuple[str, ...]


@dataclass(frozen=True)
class CrossRow:
    """Customers of one RFM segment in each of this refresh's segments."""

    name: str
    counts: tuple[int, ...]
    total: int


@dataclass(frozen=True)
class NameClash:
    """A segment that shares its name with a classic RFM segment, and how far they overlap."""

    segment: SegmentRef
    rfm_name: str
    rfm_size: int
    overlap: int
    share_of_segment: float


@dataclass(frozen=True)
class RfmView:
    rows: tuple[RfmRow, ...]
    columns: tuple[SegmentRef, ...]
    crosstab: tuple[CrossRow, ...]
    clashes: tuple[NameClash, ...]


@dataclass(frozen=True)
class AboutView:
    """Provenance: the program's version, Python's, the packages that computed the bundle, the data's licence."""

    program: str | None
    python: str | None
    packages: tuple[tuple[str, str], ...]
    licence: dict[str, str] | None


def quality_view(bundle: Bundle) -> QualityView:
    data = bundle.data
    dropped = sum(data.dropped.values())
    sheets = tuple(data.source.sheets or ())
    return QualityView(
        data=data,
        kept_share=share(data.rows_kept, data.rows_in),
        dropped_total=dropped,
        dropped_share=share(dropped, data.rows_in),
        drops=tuple(DropRow(code, n, share(n, data.rows_in)) for code, n in data.dropped.items()),
        sheets=sheets,
        overlapping_sheets=len(sheets) > 1,
    )


def _strip_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_none(v) for v in value if v is not None]
    return value


def _config(config: dict[str, Any]) -> tuple[ConfigSection, ...]:
    out = []
    for name in sorted(config):
        settings = config[name]
        if not isinstance(settings, dict):
            settings = {"value": settings}
        unset = tuple(k for k, v in settings.items() if v is None)
        # TOML has no null: a key left unset is named in a comment instead of being written.
        text = tomli_w.dumps({name: _strip_none(settings)}).strip()
        out.append(ConfigSection(name, text, unset, name in OPEN_SECTIONS))
    return tuple(out)


def method_view(bundle: Bundle) -> MethodView:
    ks = bundle.k_selection
    winner = next((row for row in ks.tally if row.k == ks.rule_k), None)
    votes = winner.votes if winner is not None else 0
    tied = tuple(row.k for row in ks.tally if row.votes == votes and row.k != ks.rule_k)
    feats = bundle.features
    return MethodView(
        k=ks,
        votes=tuple(ks.votes),
        winner_votes=votes,
        tied_with=tied if ks.decision == "tie_smaller_k" else (),
        candidates=tuple(sorted(ks.candidates, key=lambda c: c.k)),
        features=tuple(FeatureRow(c, feature_label(c), feats.skewness.get(c), c in feats.log1p) for c in feats.columns),
        config=_config(bundle.config if isinstance(bundle.config, dict) else {}),
    )


def _rule(segment: RfmSegment) -> tuple[str, ...]:
    if segment.rule is None:
        return ()
    parts = []
    for key in ("r", "f", "m", "fm"):
        bounds = getattr(segment.rule, key)
        if bounds is not None:
            lo, hi = bounds
            parts.append(f"{key.upper()} {lo}" if lo == hi else f"{key.upper()} {lo}\u2013{hi}")
    return tuple(parts)


def rfm_view(bundle: Bundle, refs: Refs) -> RfmView:
    columns = refs.current
    rows = []
    for name, by_cluster in bundle.rfm.crosstab.items():
        counts = tuple(by_cluster.get(str(c.id), 0) for c in columns)
        rows.append(CrossRow(name, counts, sum(counts)))
    sizes = {r.name: r.size for r in bundle.rfm.segments}
    clashes = []
    for seg in sorted(bundle.segments, key=lambda s: s.id):
        for rfm_name in sizes:
            if rfm_name.strip().casefold() == seg.name.strip().casefold():
                overlap = seg.rfm_mix.get(rfm_name, 0)
                clashes.append(
                    NameClash(refs.get(seg.id), rfm_name, sizes[rfm_name], overlap, share(overlap, seg.size))
                )
    return RfmView(
        rows=tuple(RfmRow(s, _rule(s)) for s in bundle.rfm.segments),
        columns=columns,
        crosstab=tuple(rows),
        clashes=tuple(clashes),
    )


_LICENCES = {
    "online_retail_ii": {
        "dataset": "Online Retail II",
        "licence": "CC BY 4.0",
        "licence_url": "https://creativecommons.org/licenses/by/4.0/",
        "citation": "Chen, D. (2012). Online Retail II [Dataset]. UCI Machine Learning Repository.",
        "doi": "10.24432/C5CG6D",
    },
    "online_retail": {
        "dataset": "Online Retail",
        "licence": "CC BY 4.0",
        "licence_url": "https://creativecommons.org/licenses/by/4.0/",
        "citation": "Chen, D. (2015). Online Retail [Dataset]. UCI Machine Learning Repository.",
        "doi": "10.24432/C5BW33",
    },
}


def about_view(bundle: Bundle) -> AboutView:
    gen = dict(bundle.generator)
    # The generator dict names the program ("name": "segmentation", "version": ...) beside the real packages.
    program_name = gen.pop("name", None)
    program = gen.pop("version", None)
    if program_name is not None and program_name in gen:
        program = gen.pop(program_name)
    elif program is None and "segmentation" in gen:
        program = gen.pop("segmentation")
    python = gen.pop("python", None)
    return AboutView(
        program=program,
        python=python,
        packages=tuple(sorted(gen.items())),
        # Only claim a licence for the inputs we know: the UCI Online Retail files.
        licence=_LICENCES.get(bundle.data.source.shape),
    )
