"""Charts for the site and the brief, drawn by matplotlib and seaborn into accessible, deterministic SVG.

Layout
------
``_theme``        the one theme (fonts, colours, sizes per medium) and :func:`segment_colors`
``_svg``          :class:`Chart` and :func:`to_chart`, the figure -> SVG wrapper
``_common``       feature labels, label wrapping, money / number / percent axes
``segments``      size vs revenue, profile z-bars, box plots, value per customer
``kselect``       elbow curve, silhouette and stability by k
``projection``    customers on two components
``rfm``           recency x frequency heatmap, RFM x cluster cross-tab heatmap
``transitions``   migration matrix (segment before x segment now)
``history``       segment sizes across refreshes
``clv``           value by segment with intervals, holdout check
``experiments``   lift with confidence intervals
``_adapters``     thin adapters from the report's view (:mod:`publishing.view`) to :class:`Chart`
``_adapters_value``  the same for value, tests and history, and ``site_charts`` / ``brief_charts``

Every chart function takes plain data, keyword-only ``ax=None`` (pyplot's
current Axes) and ``fmt`` (a :class:`publishing._format.Formats`), draws, and
returns the Axes; it never reads the bundle or the view, and never writes a file. Each has an
``*_alt`` companion that says what the chart shows, with its numbers.
"""

from publishing.charts._adapters import (
    box_chart,
    elbow_chart,
    k_metrics_chart,
    profile_chart,
    projection_chart,
    rfm_crosstab_chart,
    rfm_grid_chart,
    size_revenue_chart,
)
from publishing.charts._adapters_value import (
    brief_charts,
    clv_chart,
    holdout_chart,
    impact_chart,
    lift_chart,
    site_chart_jobs,
    site_charts,
    transition_chart,
    trend_chart,
)
from publishing.charts._common import FEATURE_LABELS, feature_label, wrap_label
from publishing.charts._heatmap import contrast_ratio, relative_luminance, text_color_for
from publishing.charts._svg import Chart, svg_data_uri, to_chart
from publishing.charts._theme import (
    FALLBACK_COLOR,
    INK,
    MUTED,
    PALETTE,
    WIDTH,
    new_figure,
    segment_colors,
    theme,
    themed,
)
from publishing.charts.clv import clv_alt, clv_bars, holdout_alt, holdout_bars
from publishing.charts.experiments import lift_alt, lift_intervals
from publishing.charts.history import trend_alt, trend_lines
from publishing.charts.kselect import elbow, elbow_alt, k_metrics, k_metrics_alt
from publishing.charts.projection import projection_alt, projection_scatter
from publishing.charts.rfm import rfm_crosstab, rfm_crosstab_alt, rfm_grid, rfm_grid_alt
from publishing.charts.segments import (
    box_alt,
    profile_alt,
    profile_bars,
    segment_boxes,
    size_revenue,
    size_revenue_alt,
    value_alt,
    value_bars,
)
from publishing.charts.transitions import transition_alt, transition_heatmap

__all__ = [
    # theme and wrapper
    "PALETTE",
    "INK",
    "MUTED",
    "FALLBACK_COLOR",
    "WIDTH",
    "theme",
    "themed",
    "new_figure",
    "segment_colors",
    "Chart",
    "to_chart",
    "svg_data_uri",
    "FEATURE_LABELS",
    "feature_label",
    "wrap_label",
    "relative_luminance",
    "contrast_ratio",
    "text_color_for",
    # chart functions (plain data, ax=None, return the Axes) and their alt texts
    "size_revenue",
    "size_revenue_alt",
    "profile_bars",
    "profile_alt",
    "segment_boxes",
    "box_alt",
    "value_bars",
    "value_alt",
    "elbow",
    "elbow_alt",
    "k_metrics",
    "k_metrics_alt",
    "projection_scatter",
    "projection_alt",
    "rfm_grid",
    "rfm_grid_alt",
    "rfm_crosstab",
    "rfm_crosstab_alt",
    "transition_heatmap",
    "transition_alt",
    "trend_lines",
    "trend_alt",
    "clv_bars",
    "clv_alt",
    "holdout_bars",
    "holdout_alt",
    "lift_intervals",
    "lift_alt",
    # view adapters
    "size_revenue_chart",
    "profile_chart",
    "box_chart",
    "elbow_chart",
    "k_metrics_chart",
    "projection_chart",
    "rfm_grid_chart",
    "rfm_crosstab_chart",
    "clv_chart",
    "holdout_chart",
    "lift_chart",
    "impact_chart",
    "transition_chart",
    "trend_chart",
    "site_charts",
    "site_chart_jobs",
    "brief_charts",
]
