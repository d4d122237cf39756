"""Pure plotly builders: analytics results in, figures out. No Streamlit, no computation of metrics.

Data shown in a figure (labels, ids, version names, currency) is escaped for plotly
(:func:`dashboard.charts.common.plain`): plotly renders some HTML inside text and hovers.
"""

from dashboard.charts.common import PALETTE, VERDICT_COLORS
from dashboard.charts.engine import reliability_diagram as reliability_diagram
from dashboard.charts.lineage import accuracy_change_chart, lineage_by_figure  # noqa: F401
from dashboard.charts.people import (
    exam_item_chart,
    exam_score_histogram,
    item_discrimination_chart,
    label_use_chart,
    speed_histogram,
)
from dashboard.charts.quality import (
    accuracy_by_method,
    agreement_heatmap,
    agreement_histogram,
    distribution_bars,
    label_bias_heatmap,
)
from dashboard.charts.runs import (
    cost_by_version_chart,
    cost_quality_chart,
    lineage_graph,
    status_chart,
    throughput_chart,
)
from dashboard.charts.scales import bias_chart, scale_histogram_chart  # noqa: F401

__all__ = [
    "PALETTE",
    "VERDICT_COLORS",
    "accuracy_by_method",
    "agreement_heatmap",
    "agreement_histogram",
    "cost_by_version_chart",
    "cost_quality_chart",
    "distribution_bars",
    "exam_item_chart",
    "exam_score_histogram",
    "item_discrimination_chart",
    "label_bias_heatmap",
    "label_use_chart",
    "lineage_graph",
    "speed_histogram",
    "status_chart",
    "throughput_chart",
]
