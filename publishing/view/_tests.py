"""The test plan as pages show it: each segment's design, what would make a small one testable, what control costs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from analysis.bundle import Bundle
from analysis.experiments import ExperimentDesign, ExperimentResults, ExperimentsSection, LiftRow, SizingOption
from publishing.view._common import Refs, SegmentRef, share

__all__ = ["OptionView", "ControlCost", "DesignView", "ControlChoiceView", "LiftLine", "TestsView", "tests_view"]


@dataclass(frozen=True)
class OptionView:
    """One way to make a too-small segment testable (``option.kind``: longer_window or pooled)."""

    option: SizingOption
    pooled_with: tuple[SegmentRef, ...]


@dataclass(frozen=True)
class ControlCost:
    """What one control share means for one segment: customers held back, and whether it is then testable."""

    control_share: float
    held_back: int
    testable: bool
    chosen: bool


@dataclass(frozen=True)
class DesignView:
    """One segment's test.

    ``detectable`` says how the smallest detectable effect reads: ``"relative"``
    (a lift, ``detectable_value`` a fraction), ``"points"`` (a rise of the rate,
    a fraction), ``"money"`` (a rise of revenue per customer) or None.
    """

    segment: SegmentRef
    design: ExperimentDesign
    values: dict[str, float]
    on_other_metric: bool
    detectable: Literal["relative", "points", "money"] | None
    detectable_value: float | None
    options: tuple[OptionView, ...]
    control: tuple[ControlCost, ...]

    @property
    def assigned_total(self) -> int:
        return self.design.assigned_treatment + self.design.assigned_control


@dataclass(frozen=True)
class ControlChoiceView:
    """The whole plan at one control share."""

    control_share: float
    held_back: int
    share_held_back: float
    testable_segments: int
    segments: int
    chosen: bool


@dataclass(frozen=True)
class LiftLine:
    """One row of a results table (``segment`` None for all segments)."""

    segment: SegmentRef | None
    row: LiftRow


@dataclass(frozen=True)
class TestsView:
    """The experiments section with names attached, and the results when a file was read."""

    section: ExperimentsSection
    designs: tuple[DesignView, ...]
    control_choices: tuple[ControlChoiceView, ...]
    too_small: tuple[DesignView, ...]
    results: ExperimentResults | None
    primary: tuple[LiftLine, ...]
    secondary: tuple[LiftLine, ...]

    def of(self, segment_id: int) -> DesignView | None:
        """The design of one segment, or None."""
        return next((d for d in self.designs if d.segment.id == segment_id), None)


def _detectable(d: ExperimentDesign) -> tuple[str | None, float | None]:
    if d.min_detectable_effect is not None and not d.absolute:
        return "relative", d.min_detectable_effect
    if d.min_detectable_difference is not None:
        return ("points" if d.metric == "conversion" else "money"), d.min_detectable_difference
    return None, None


def _control(exp: ExperimentsSection, segment_id: int) -> tuple[ControlCost, ...]:
    costs = []
    for option in exp.control_options:
        mine = next((c for c in option.segments if c.segment == segment_id), None)
        if mine is not None:
            chosen = abs(option.control_share - exp.control_share) < 1e-9
            costs.append(ControlCost(option.control_share, mine.assigned_control, mine.testable, chosen))
    return tuple(costs)


def _lines(rows: list[LiftRow], overall: LiftRow, refs: Refs) -> tuple[LiftLine, ...]:
    return tuple(LiftLine(refs.get(r.segment), r) for r in rows) + (LiftLine(None, overall),)


def tests_view(bundle: Bundle, refs: Refs) -> TestsView | None:
    """The test plan of ``bundle`` (None without an experiments section)."""
    exp = bundle.experiments
    if exp is None:
        return None
    values = {s.id: dict(s.values) for s in bundle.segments}
    designs = []
    for d in exp.designs:
        kind, amount = _detectable(d)
        options = tuple(OptionView(o, tuple(refs.get(p) for p in o.pooled_with)) for o in d.options)
        designs.append(
            DesignView(
                segment=refs.get(d.segment),
                design=d,
                values=values.get(d.segment, {}),
                on_other_metric=d.metric != exp.metric,
                detectable=kind,
                detectable_value=amount,
                options=options,
                control=_control(exp, d.segment),
            )
        )
    choices = tuple(
        ControlChoiceView(
            control_share=o.control_share,
            held_back=o.held_back,
            share_held_back=share(o.held_back, exp.customers),
            testable_segments=o.testable_segments,
            segments=len(o.segments),
            chosen=abs(o.control_share - exp.control_share) < 1e-9,
        )
        for o in sorted(exp.control_options, key=lambda o: o.control_share)
    )
    results = bundle.experiment_results
    return TestsView(
        section=exp,
        designs=tuple(designs),
        control_choices=choices,
        too_small=tuple(d for d in designs if not d.design.testable),
        results=results,
        primary=() if results is None else _lines(results.primary.segments, results.primary.overall, refs),
        secondary=() if results is None else _lines(results.secondary.segments, results.secondary.overall, refs),
    )
