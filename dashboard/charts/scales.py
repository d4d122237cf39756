"""Charts on a run's label scale: numeric answers as a histogram, each annotator's bias as bars."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from dashboard.charts.common import PALETTE, category_axis, count_axis, plains, short_unique


def scale_histogram_chart(hist, x_title: str = "answer") -> go.Figure:
    """Numeric answers in bins (metrics.scales.scale_histogram: ``low``, ``high``, ``answers``,
    ``share``): one bar per bin on a numeric x axis (never one bar per distinct value), whole
    counts on the y axis."""
    low = hist["low"].to_numpy(dtype=float)
    high = hist["high"].to_numpy(dtype=float)
    n = hist["answers"].to_numpy(dtype=np.int64)
    share = hist["share"].to_numpy(dtype=float)
    width = np.where(high > low, high - low, 1.0)
    fig = go.Figure(
        go.Bar(
            x=(low + high) / 2,
            y=n,
            width=width,
            marker_color=PALETTE[0],
            marker_line=dict(color="white", width=1),
            customdata=np.stack([low, high, 100 * share], axis=1),
            hovertemplate="%{customdata[0]:,.4g} to %{customdata[1]:,.4g}: %{y:,} answers "
            "(%{customdata[2]:.1f} %)<extra></extra>",
        )
    )
    fig.update_layout(
        height=320,
        margin=dict(l=10, r=10, t=10, b=10),
        bargap=0,
        xaxis=dict(type="linear", title=x_title),
        yaxis=count_axis("answers", float(n.max()) * 1.1 if len(n) else 0.0),
    )
    return fig


def bias_chart(frame, column: str = "aggregate_bias", title: str = "bias (mean answer − reference)") -> go.Figure:
    """One bar per annotator (index: worker ids, shown as categories), their signed ``column``
    (metrics.scales.annotator_scale_error), sorted from most below to most above the reference;
    annotators without a figure are left out. The hover gives the full id and the answers counted."""
    counts_col = column.rsplit("_", 1)[0] + "_answers"
    shown = frame[frame[column].notna()].sort_values(column, kind="stable")
    values = shown[column].to_numpy(dtype=float)
    counts = shown[counts_col].to_numpy() if counts_col in shown else np.zeros(len(shown), dtype=np.int64)
    ticks = short_unique(shown.index)
    fig = go.Figure(
        go.Bar(
            x=ticks,
            y=values,
            marker_color=[PALETTE[1] if v > 0 else PALETTE[0] for v in values],
            customdata=np.stack([np.asarray(plains(shown.index), dtype=object), counts], axis=1)
            if len(shown)
            else None,
            hovertemplate="%{customdata[0]}: %{y:+.2f} (%{customdata[1]:,} answers)<extra></extra>",
        )
    )
    fig.update_layout(
        height=320,
        margin=dict(l=10, r=10, t=10, b=10),
        xaxis=category_axis("annotator", len(shown), categoryorder="array", categoryarray=ticks),
        yaxis=dict(title=title, zeroline=True, zerolinewidth=2),
    )
    return fig
