"""Charts of the bundle as SVG text, drawn by matplotlib, shared by the site and the PDF brief.

Every chart function takes the bundle (and a segment id where relevant) and
returns a :class:`Chart`: the SVG text (``svg.fonttype = "none"``, so chart text
stays text; no timestamp, fixed element ids, so the same bundle gives the same
bytes), the alt text (also written into the SVG as ``<title>``/``<desc>``) and a
file name. Colours come from :func:`segment_colors`, one per segment everywhere.

Public functions
----------------
segment_colors(bundle) -> dict[int, str]
size_revenue_chart(bundle) -> Chart
profile_chart(bundle, segment_id) -> Chart
box_chart(bundle, segment_id) -> Chart
elbow_chart(bundle) -> Chart
k_metrics_chart(bundle) -> Chart
projection_chart(bundle) -> Chart
rfm_grid_chart(bundle) -> Chart
clv_chart(bundle) -> Chart            (needs a reliable ``clv`` section)
holdout_chart(bundle) -> Chart        (needs ``clv.validation``)
lift_chart(bundle) -> Chart           (needs ``experiment_results``)
site_charts(bundle) -> list[Chart]
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from analysis.bundle import Bundle, Segment  # noqa: E402
from analysis.errors import PublishError  # noqa: E402
from publishing._env import format_number, format_percent, format_signed  # noqa: E402

__all__ = [
    "Chart",
    "PALETTE",
    "segment_colors",
    "size_revenue_chart",
    "profile_chart",
    "box_chart",
    "elbow_chart",
    "k_metrics_chart",
    "projection_chart",
    "rfm_grid_chart",
    "clv_chart",
    "holdout_chart",
    "lift_chart",
    "site_charts",
]

#: Segment colours in id order (Okabe-Ito, colour-blind safe, then Tableau extras).
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#8C564B",
    "#7F7F7F",
    "#17BECF",
    "#BCBD22",
    "#9467BD",
    "#1B9E77",
)
_INK = "#1f2933"
_MUTED = "#6b7785"
_GRID = "#e3e8ee"
_FONT = ["Inter", "DejaVu Sans", "sans-serif"]
FEATURE_LABELS = {
    "recency": "Recency (days since last order)",
    "frequency": "Frequency (orders)",
    "monetary": "Spend",
    "avg_unit_cost": "Average unit price",
    "avg_order_value": "Average order value",
    "tenure": "Tenure (days)",
    "distinct_products": "Distinct products",
    "total_quantity": "Units bought",
}


@dataclass(frozen=True)
class Chart:
    """One chart, ready to embed.

    Attributes
    ----------
    key
        Stable identifier, also the file stem (``"size-revenue"``, ``"segment-2-profile"``).
    svg
        The SVG document as text.
    alt
        What the chart shows, in words, with its numbers (for ``alt=`` and screen readers).
    caption
        A short caption for under the figure.
    """

    key: str
    svg: str
    alt: str
    caption: str

    @property
    def filename(self) -> str:
        """The file name the chart is written to: ``<key>.svg``."""
        return f"{self.key}.svg"

    def write(self, directory: Path) -> Path:
        """Write the SVG into ``directory`` (created if needed) and return its path."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / self.filename
        path.write_text(self.svg, encoding="utf-8")
        return path

    def data_uri(self) -> str:
        """The SVG as a ``data:image/svg+xml;base64,...`` URI (for WeasyPrint ``<img>``)."""
        return "data:image/svg+xml;base64," + base64.b64encode(self.svg.encode("utf-8")).decode("ascii")


def segment_colors(bundle: Bundle) -> dict[int, str]:
    """Return ``{segment id: "#RRGGBB"}``, one distinct colour per segment, in id order.

    The colour depends only on the segment's rank among the bundle's ids, so
    the site and the brief always agree, and relabelled runs keep the order.
    """
    ids = sorted(s.id for s in bundle.segments)
    colors: dict[int, str] = {}
    for rank, sid in enumerate(ids):
        if rank < len(PALETTE):
            colors[sid] = PALETTE[rank]
        else:  # beyond 12 segments: evenly spaced hues, still deterministic
            colors[sid] = to_hex(plt.get_cmap("hsv")((rank - len(PALETTE)) / max(1, len(ids) - len(PALETTE))))
    return colors


@contextmanager
def _style() -> Iterator[None]:
    rc = {
        "svg.fonttype": "none",
        "svg.hashsalt": "segmentation",
        "font.family": "sans-serif",
        "font.sans-serif": _FONT,
        "font.size": 10,
        "axes.edgecolor": _GRID,
        "axes.labelcolor": _INK,
        "axes.titlesize": 11,
        "axes.titleweight": "bold",
        "axes.titlelocation": "left",
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": False,
        "grid.color": _GRID,
        "xtick.color": _MUTED,
        "ytick.color": _MUTED,
        "text.color": _INK,
        "legend.frameon": False,
        "figure.dpi": 100,
    }
    with matplotlib.rc_context(rc):
        yield


_SVG_OPEN = re.compile(r"<svg\b[^>]*>")


def _to_chart(fig: Figure, key: str, alt: str, caption: str) -> Chart:
    buf = io.StringIO()
    with _style():  # fonttype and hashsalt are read at save time
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    svg = buf.getvalue()
    # Name the chart for assistive technology inside the SVG itself too.
    match = _SVG_OPEN.search(svg)
    if match is None:  # pragma: no cover - matplotlib always writes an <svg> root
        raise PublishError(f"chart {key!r}: matplotlib produced no <svg> element.")
    opening = match.group(0).replace("<svg ", '<svg role="img" aria-labelledby="title desc" ', 1)
    head = f'{opening}\n <title id="title">{xml_escape(caption)}</title>\n <desc id="desc">{xml_escape(alt)}</desc>'
    svg = svg[: match.start()] + head + svg[match.end() :]
    return Chart(key=key, svg=svg, alt=alt, caption=caption)


def _segment(bundle: Bundle, segment_id: int) -> Segment:
    for seg in bundle.segments:
        if seg.id == segment_id:
            return seg
    ids = sorted(s.id for s in bundle.segments)
    raise PublishError(f"The 'segment_id' must be one of the bundle's segment ids {ids}. Got {segment_id!r} instead.")


def _short(text: str, width: int = 28) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "\u2026"


def size_revenue_chart(bundle: Bundle) -> Chart:
    """Share of customers next to share of revenue, one pair of bars per segment."""
    colors = segment_colors(bundle)
    segs = sorted(bundle.segments, key=lambda s: s.id)
    with _style():
        fig, ax = plt.subplots(figsize=(7.2, 0.62 * len(segs) + 1.2))
        height = 0.38
        for row, seg in enumerate(segs):
            y = len(segs) - 1 - row
            ax.barh(y + height / 2, seg.share_customers, height=height, color=colors[seg.id], alpha=0.35)
            ax.barh(y - height / 2, seg.share_revenue, height=height, color=colors[seg.id])
            for value, dy in ((seg.share_customers, height / 2), (seg.share_revenue, -height / 2)):
                ax.text(value + 0.006, y + dy, format_percent(value, 0), va="center", fontsize=8.5, color=_MUTED)
        ax.set_yticks(range(len(segs)), [_short(s.name) for s in reversed(segs)])
        ax.xaxis.set_major_formatter(lambda v, _pos: format_percent(v, 0))
        top = max(max(s.share_customers, s.share_revenue) for s in segs)
        ax.set_xlim(0, min(1.0, top * 1.15 + 0.02))
        ax.tick_params(axis="y", length=0, labelcolor=_INK)
        ax.grid(axis="x")
        ax.set_axisbelow(True)
        from matplotlib.patches import Patch

        ax.legend(
            handles=[
                Patch(color=_MUTED, alpha=0.35, label="share of customers"),
                Patch(color=_MUTED, label="share of revenue"),
            ],
            loc="lower right",
            fontsize=8.5,
        )
    parts = [
        f"{s.name}: {format_percent(s.share_customers)} of customers, {format_percent(s.share_revenue)} of revenue"
        for s in segs
    ]
    alt = "Bar chart of each segment's share of customers and share of revenue. " + "; ".join(parts) + "."
    return _to_chart(fig, "size-revenue", alt, "Segment size against revenue share")


def profile_chart(bundle: Bundle, segment_id: int) -> Chart:
    """How far the segment's mean sits from the whole base, per feature, in standard deviations."""
    seg = _segment(bundle, segment_id)
    color = segment_colors(bundle)[seg.id]
    feats = list(seg.profile)
    with _style():
        fig, ax = plt.subplots(figsize=(6.4, 0.5 * len(feats) + 1.0))
        zs = [seg.profile[f].z for f in feats]
        ys = list(range(len(feats)))[::-1]
        ax.barh(ys, zs, color=color, height=0.55)
        ax.axvline(0, color=_INK, linewidth=0.8)
        ax.set_yticks(ys, [FEATURE_LABELS.get(f, f) for f in feats])
        lim = max(1.0, max(abs(z) for z in zs) * 1.25)
        ax.set_xlim(-lim, lim)
        for y, z in zip(ys, zs, strict=True):
            ax.text(
                z + (0.04 * lim if z >= 0 else -0.04 * lim),
                y,
                format_signed(z, 2),
                va="center",
                ha="left" if z >= 0 else "right",
                fontsize=8.5,
                color=_MUTED,
            )
        ax.set_xlabel("standard deviations from the whole customer base (z-score)")
        ax.tick_params(axis="y", length=0, labelcolor=_INK)
        ax.grid(axis="x")
        ax.set_axisbelow(True)
    parts = [f"{FEATURE_LABELS.get(f, f)} {format_signed(seg.profile[f].z)}" for f in feats]
    alt = f"Bar chart of the z-scores of segment {seg.name} against the whole base: " + "; ".join(parts) + "."
    return _to_chart(fig, f"segment-{seg.id}-profile", alt, f"Profile of {seg.name} against the whole base")


_BOX_FEATURES = ("monetary", "recency")


def box_chart(bundle: Bundle, segment_id: int) -> Chart:
    """Boxplots of spend and recency for every segment, this one highlighted (from BoxStats only)."""
    seg = _segment(bundle, segment_id)
    colors = segment_colors(bundle)
    segs = sorted(bundle.segments, key=lambda s: s.id)
    feats = [f for f in _BOX_FEATURES if all(f in s.profile for s in segs)]
    if not feats:
        raise PublishError(
            f"box_chart needs a profile of {list(_BOX_FEATURES)} in every segment. "
            f"Got features {sorted(seg.profile)!r}."
        )
    with _style():
        fig, axes = plt.subplots(1, len(feats), figsize=(3.6 * len(feats), 0.45 * len(segs) + 1.4), squeeze=False)
        for ax, feat in zip(axes[0], feats, strict=True):
            stats = []
            for s in segs:
                b = s.profile[feat].box
                stats.append(
                    {
                        "label": str(s.id),
                        "med": b.median,
                        "q1": b.q1,
                        "q3": b.q3,
                        "whislo": b.whisker_low,
                        "whishi": b.whisker_high,
                        "mean": b.mean,
                        "fliers": [],
                    }
                )
            positions = list(range(len(segs), 0, -1))
            art = ax.bxp(
                stats,
                positions=positions,
                orientation="horizontal",
                showmeans=True,
                patch_artist=True,
                widths=0.55,
                showfliers=False,
                meanprops={"marker": "D", "markersize": 4, "markerfacecolor": "white", "markeredgecolor": _INK},
            )
            for s, box, median in zip(segs, art["boxes"], art["medians"], strict=True):
                mine = s.id == seg.id
                box.set_facecolor(colors[s.id])
                box.set_alpha(1.0 if mine else 0.25)
                box.set_edgecolor(_INK if mine else colors[s.id])
                median.set_color(_INK if mine else colors[s.id])
            ax.set_yticks(positions, [_short(s.name, 22) for s in segs])
            for label, s in zip(ax.get_yticklabels(), segs, strict=True):
                label.set_fontweight("bold" if s.id == seg.id else "normal")
                label.set_color(_INK if s.id == seg.id else _MUTED)
            ax.set_title(FEATURE_LABELS.get(feat, feat))
            if feat == "monetary" and max(st["whishi"] for st in stats) > 20 * max(1.0, min(st["q1"] for st in stats)):
                # spend is heavily skewed: a log-like axis keeps small segments readable
                ax.set_xscale("symlog", linthresh=max(1.0, min(st["q1"] for st in stats)))
                ax.set_xlim(left=0)
            ax.tick_params(axis="y", length=0)
            ax.grid(axis="x")
            ax.set_axisbelow(True)
        for ax in axes[0][1:]:
            ax.tick_params(axis="y", labelleft=False)
    parts = []
    for feat in feats:
        b = seg.profile[feat].box
        parts.append(
            f"{FEATURE_LABELS.get(feat, feat)}: median {format_number(b.median)}, "
            f"middle half {format_number(b.q1)} to {format_number(b.q3)}"
        )
    alt = (
        f"Boxplots of {' and '.join(FEATURE_LABELS.get(f, f).lower() for f in feats)} for every segment, "
        f"{seg.name} highlighted. " + "; ".join(parts) + "."
    )
    return _to_chart(fig, f"segment-{seg.id}-box", alt, f"Spend and recency of {seg.name} among all segments")


def elbow_chart(bundle: Bundle) -> Chart:
    """Within-cluster inertia by k, with the elbow's vote (knee) and the chosen k marked."""
    ks = bundle.k_selection
    cands = sorted(ks.candidates, key=lambda c: c.k)
    elbow_k = ks.vote("elbow")
    with _style():
        fig, ax = plt.subplots(figsize=(6.4, 3.4))
        ax.plot([c.k for c in cands], [c.inertia for c in cands], marker="o", color=PALETTE[0], linewidth=1.8)
        by_k = {c.k: c for c in cands}
        if elbow_k is not None and elbow_k in by_k:
            knee = by_k[elbow_k]
            ax.scatter(
                [knee.k], [knee.inertia], s=160, facecolors="none", edgecolors=PALETTE[3], linewidths=2, zorder=5
            )
            ax.annotate(
                f"knee at k = {knee.k}",
                (knee.k, knee.inertia),
                xytext=(14, 14),
                textcoords="offset points",
                color=PALETTE[3],
                fontsize=9,
                arrowprops={"arrowstyle": "-", "color": PALETTE[3]},
            )
        ax.axvline(ks.chosen_k, color=_MUTED, linestyle="--", linewidth=1)
        ax.text(
            ks.chosen_k,
            0.02,
            f" chosen k = {ks.chosen_k}",
            transform=ax.get_xaxis_transform(),
            va="bottom",
            fontsize=9,
            color=_MUTED,
        )
        ax.set_xticks([c.k for c in cands])
        ax.set_xlabel("number of segments k")
        ax.set_ylabel("inertia (within-cluster sum of squares)")
        ax.yaxis.set_major_formatter(lambda v, _pos: format_number(v, compact=True))
        ax.grid(axis="y")
        ax.set_axisbelow(True)
    knee_text = f"the knee is at k = {elbow_k}" if elbow_k is not None else "no clear knee was found"
    alt = (
        f"Line chart of inertia for k from {cands[0].k} to {cands[-1].k}, falling from "
        f"{format_number(cands[0].inertia)} to {format_number(cands[-1].inertia)}; {knee_text}; "
        f"k = {ks.chosen_k} was chosen."
    )
    return _to_chart(fig, "elbow", alt, "Elbow curve: inertia by number of segments")


def k_metrics_chart(bundle: Bundle) -> Chart:
    """Silhouette and bootstrap stability (mean adjusted Rand index) by k."""
    ks = bundle.k_selection
    cands = sorted(ks.candidates, key=lambda c: c.k)
    threshold = bundle.config.get("k_selection", {}).get("min_stability")
    with _style():
        fig, ax = plt.subplots(figsize=(6.4, 3.4))
        x = [c.k for c in cands]
        ax.plot(x, [c.silhouette for c in cands], marker="o", color=PALETTE[0], label="silhouette")
        ax.plot(x, [c.stability for c in cands], marker="s", color=PALETTE[1], label="stability (mean ARI)")
        if isinstance(threshold, (int, float)):
            ax.axhline(threshold, color=PALETTE[1], linestyle=":", linewidth=1)
            ax.text(
                x[-1],
                threshold,
                f"stability floor {format_number(threshold, 2)}",
                ha="right",
                va="bottom",
                fontsize=8,
                color=PALETTE[1],
            )
        ax.axvline(ks.chosen_k, color=_MUTED, linestyle="--", linewidth=1)
        ax.set_xticks(x)
        ax.set_xlabel("number of segments k")
        ax.set_ylabel("score")
        low = min(0.0, *(c.silhouette for c in cands), *(c.stability for c in cands))
        ax.set_ylim(low, 1.05)
        ax.legend(loc="lower left", fontsize=8.5)
        ax.grid(axis="y")
        ax.set_axisbelow(True)
    best = max(cands, key=lambda c: c.silhouette)
    chosen = next((c for c in cands if c.k == ks.chosen_k), None)
    chosen_text = (
        f"at the chosen k = {chosen.k} silhouette is {format_number(chosen.silhouette, 2)} and "
        f"stability {format_number(chosen.stability, 2)}"
        if chosen
        else f"k = {ks.chosen_k} was chosen"
    )
    alt = (
        f"Line chart of silhouette and stability for k from {x[0]} to {x[-1]}; the highest silhouette, "
        f"{format_number(best.silhouette, 2)}, is at k = {best.k}; {chosen_text}."
    )
    return _to_chart(fig, "k-metrics", alt, "Silhouette and stability by number of segments")


def projection_chart(bundle: Bundle) -> Chart:
    """The 2-D projection of customers, coloured by segment, with centroids marked."""
    proj = bundle.projection
    colors = segment_colors(bundle)
    names = {s.id: s.name for s in bundle.segments}
    with _style():
        fig, ax = plt.subplots(figsize=(6.4, 4.6))
        for sid in sorted(colors):
            pts = [p for p in proj.points if p.segment == sid]
            if pts:
                ax.scatter(
                    [p.x for p in pts],
                    [p.y for p in pts],
                    s=7,
                    color=colors[sid],
                    alpha=0.55,
                    linewidths=0,
                    label=_short(names[sid]),
                    rasterized=False,
                )
        for c in proj.centroids:
            if c.segment in colors:
                ax.scatter(
                    [c.x],
                    [c.y],
                    s=110,
                    marker="X",
                    color=colors[c.segment],
                    edgecolors="white",
                    linewidths=1.2,
                    zorder=5,
                )
        ev = proj.explained_variance
        method = proj.method.upper()
        ax.set_xlabel(f"{method} 1" + (f" ({format_percent(ev[0], 0)} of variance)" if len(ev) > 0 else ""))
        ax.set_ylabel(f"{method} 2" + (f" ({format_percent(ev[1], 0)} of variance)" if len(ev) > 1 else ""))
        ax.set_xticks([])
        ax.set_yticks([])
        ax.legend(loc="best", fontsize=8, markerscale=2.2)
    counts = {sid: sum(1 for p in proj.points if p.segment == sid) for sid in colors}
    alt = (
        f"Scatter plot of {format_number(len(proj.points))} customers on the first two {method} "
        f"components, coloured by segment ("
        + "; ".join(f"{names[s]}: {format_number(n)} points" for s, n in counts.items())
        + "); crosses mark the segment centres."
    )
    return _to_chart(fig, "projection", alt, f"Customers on the first two {method} components")


def rfm_grid_chart(bundle: Bundle) -> Chart:
    """Heatmap of customers by recency score (rows) and frequency score (columns)."""
    grid = bundle.rfm.grid
    if not grid:
        raise PublishError("rfm_grid_chart needs at least one RFM cell. Got an empty rfm.grid.")
    rs = sorted({c.r for c in grid}, reverse=True)
    fs = sorted({c.f for c in grid})
    cells = {(c.r, c.f): c for c in grid}
    values = [[cells[(r, f)].customers if (r, f) in cells else 0 for f in fs] for r in rs]
    peak = max(max(row) for row in values) or 1
    with _style():
        fig, ax = plt.subplots(figsize=(6.6, 5.0))
        im = ax.imshow(values, cmap="Blues", vmin=0, vmax=peak, aspect="auto")
        for i, r in enumerate(rs):
            for j, f in enumerate(fs):
                cell = cells.get((r, f))
                if cell is None:
                    continue
                dark = cell.customers > 0.55 * peak
                ax.text(
                    j,
                    i - 0.12,
                    format_number(cell.customers),
                    ha="center",
                    va="center",
                    fontsize=9.5,
                    fontweight="bold",
                    color="white" if dark else _INK,
                )
                ax.text(
                    j,
                    i + 0.2,
                    _short(cell.segment, 16),
                    ha="center",
                    va="center",
                    fontsize=6.5,
                    color="white" if dark else _MUTED,
                )
        ax.set_xticks(range(len(fs)), [str(f) for f in fs])
        ax.set_yticks(range(len(rs)), [str(r) for r in rs])
        ax.set_xlabel("frequency score (5 = most orders)")
        ax.set_ylabel("recency score (5 = most recent)")
        ax.tick_params(length=0)
        for side in ("left", "bottom"):
            ax.spines[side].set_visible(False)
        fig.colorbar(im, ax=ax, shrink=0.8, label="customers")
    top = max(grid, key=lambda c: c.customers)
    alt = (
        f"Heatmap of customers by recency score and frequency score ({len(grid)} cells); the largest cell, "
        f"R = {top.r} and F = {top.f}, holds {format_number(top.customers)} customers, "
        f"mostly {top.segment}."
    )
    return _to_chart(fig, "rfm-grid", alt, "Customers by recency and frequency score")


def _reliable_clv(bundle: Bundle, what: str):
    clv = getattr(bundle, "clv", None)
    if clv is None or not clv.reliable or not clv.segments:
        raise PublishError(
            f"{what} needs a reliable clv section with segment values. Got "
            f"{'no clv section' if clv is None else 'an unreliable or empty one'}."
        )
    return clv


def clv_chart(bundle: Bundle) -> Chart:
    """Discounted expected value over the horizon per segment, with its interval."""
    clv = _reliable_clv(bundle, "clv_chart")
    colors = segment_colors(bundle)
    rows = [r for r in clv.segments if r.segment in colors]
    with _style():
        fig, ax = plt.subplots(figsize=(7.2, 0.6 * len(rows) + 1.3))
        ys = list(range(len(rows)))[::-1]
        for y, r in zip(ys, rows, strict=True):
            ax.barh(y, r.clv, color=colors[r.segment], height=0.6)
            ax.errorbar(
                r.clv,
                y,
                xerr=[[r.clv - r.clv_low], [r.clv_high - r.clv]],
                fmt="none",
                ecolor=_INK,
                elinewidth=1,
                capsize=3,
            )
            ax.text(
                r.clv_high,
                y,
                f"   {format_percent(r.share_of_value, 0)} of value",
                va="center",
                fontsize=8.5,
                color=_MUTED,
            )
        ax.set_yticks(ys, [_short(r.name) for r in rows])
        ax.xaxis.set_major_formatter(lambda v, _pos: format_number(v, compact=True))
        ax.set_xlim(0, max(r.clv_high for r in rows) * 1.3)
        ax.set_xlabel(f"expected value over the next {format_number(clv.horizon)} {clv.time_unit}s, discounted")
        ax.tick_params(axis="y", length=0, labelcolor=_INK)
        ax.grid(axis="x")
        ax.set_axisbelow(True)
    level = format_percent(clv.interval_level, 0)
    parts = [
        f"{r.name}: {format_number(r.clv)} ({level} interval {format_number(r.clv_low)} to "
        f"{format_number(r.clv_high)}), {format_percent(r.share_of_value)} of value"
        for r in rows
    ]
    alt = "Bar chart of expected customer lifetime value by segment. " + "; ".join(parts) + "."
    return _to_chart(fig, "clv-segments", alt, "Expected lifetime value by segment")


def holdout_chart(bundle: Bundle) -> Chart:
    """Predicted against actual repeat purchases per customer in the holdout, by calibration frequency."""
    clv = _reliable_clv(bundle, "holdout_chart")
    if clv.validation is None or not clv.validation.by_frequency:
        raise PublishError("holdout_chart needs clv.validation.by_frequency. Got none.")
    rows = clv.validation.by_frequency
    with _style():
        fig, ax = plt.subplots(figsize=(6.4, 3.4))
        x = list(range(len(rows)))
        ax.bar([i - 0.2 for i in x], [r.actual_per_customer for r in rows], width=0.4, color=PALETTE[7], label="actual")
        ax.bar(
            [i + 0.2 for i in x],
            [r.predicted_per_customer for r in rows],
            width=0.4,
            color=PALETTE[0],
            label="predicted",
        )
        ax.set_xticks(x, [r.label for r in rows])
        ax.set_xlabel("repeat purchases in the calibration period")
        ax.set_ylabel("repeat purchases per customer, holdout")
        ax.legend(loc="upper left", fontsize=8.5)
        ax.grid(axis="y")
        ax.set_axisbelow(True)
    parts = [
        f"{r.label}: actual {format_number(r.actual_per_customer, 2)}, predicted "
        f"{format_number(r.predicted_per_customer, 2)}"
        for r in rows
    ]
    alt = (
        "Bar chart of actual and predicted repeat purchases per customer in the holdout period, by "
        "calibration-period frequency. " + "; ".join(parts) + "."
    )
    return _to_chart(fig, "clv-holdout", alt, "Holdout check: predicted against actual repeat purchases")


def lift_chart(bundle: Bundle) -> Chart:
    """Relative lift of treatment over control per segment, with its confidence interval."""
    results = getattr(bundle, "experiment_results", None)
    if results is None:
        raise PublishError("lift_chart needs an experiment_results section. Got none.")
    colors = segment_colors(bundle)
    rows = [r for r in [*results.primary.segments, results.primary.overall] if r.lift is not None]
    if not rows:
        raise PublishError("lift_chart needs at least one row with a lift. Got none.")
    with _style():
        fig, ax = plt.subplots(figsize=(6.8, 0.55 * len(rows) + 1.3))
        ys = list(range(len(rows)))[::-1]
        for y, r in zip(ys, rows, strict=True):
            color = colors.get(r.segment, _INK) if r.segment is not None else _INK
            low = r.lift_low if r.lift_low is not None else r.lift
            high = r.lift_high if r.lift_high is not None else r.lift
            ax.plot([low, high], [y, y], color=color, linewidth=2)
            ax.scatter([r.lift], [y], color=color, s=45, zorder=3, marker="D" if r.segment is None else "o")
        ax.axvline(0, color=_MUTED, linewidth=0.8)
        ax.set_yticks(ys, [_short(r.name) for r in rows])
        ax.xaxis.set_major_formatter(lambda v, _pos: format_percent(v, 0))
        ax.set_xlabel(f"relative lift in {results.primary.metric_label}")
        ax.tick_params(axis="y", length=0, labelcolor=_INK)
        ax.grid(axis="x")
        ax.set_axisbelow(True)
    level = format_percent(results.confidence_level, 0)
    parts = [
        f"{r.name}: {format_percent(r.lift)}"
        + (
            f" ({level} interval {format_percent(r.lift_low)} to {format_percent(r.lift_high)})"
            if r.lift_low is not None and r.lift_high is not None
            else ""
        )
        for r in rows
    ]
    alt = f"Interval plot of the relative lift in {results.primary.metric_label} by segment. " + "; ".join(parts) + "."
    return _to_chart(fig, "experiment-lift", alt, "Measured lift, treatment against control")


def site_charts(bundle: Bundle) -> list[Chart]:
    """Every chart the website shows, in page order (optional sections' charts only when they apply)."""
    charts = [
        size_revenue_chart(bundle),
        elbow_chart(bundle),
        k_metrics_chart(bundle),
        projection_chart(bundle),
        rfm_grid_chart(bundle),
    ]
    for seg in sorted(bundle.segments, key=lambda s: s.id):
        charts += [profile_chart(bundle, seg.id), box_chart(bundle, seg.id)]
    clv = getattr(bundle, "clv", None)
    if clv is not None and clv.reliable and clv.segments:
        charts.append(clv_chart(bundle))
        if clv.validation is not None and clv.validation.by_frequency:
            charts.append(holdout_chart(bundle))
    results = getattr(bundle, "experiment_results", None)
    if results is not None and any(r.lift is not None for r in [*results.primary.segments, results.primary.overall]):
        charts.append(lift_chart(bundle))
    return charts
