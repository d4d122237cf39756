"""Charts of the data engine: the reliability diagram of an aggregate's confidence against correctness."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from dashboard.charts.common import PALETTE, count_axis, plain


def reliability_diagram(table, ece: float, reference: str = "truth", method: str = "") -> go.Figure:
    """Accuracy against mean confidence per confidence bin (metrics.delivery.calibration's ``table``:
    ``bin_low``, ``bin_high``, ``tasks``, ``confidence``, ``accuracy``, ``ci_low``, ``ci_high``).

    The diagonal is perfect calibration: a point below it is a bin where the aggregator is more
    sure than it is right (overconfident). Bars under the points count the tasks per bin (right
    axis); the whiskers are the accuracy's 95 % Wilson interval. ``reference`` names what
    correctness was judged on (truth or golden); ``method`` the aggregator (both data, escaped)."""
    conf = table["confidence"].to_numpy(dtype=float)
    acc = table["accuracy"].to_numpy(dtype=float)
    tasks = table["tasks"].to_numpy(dtype=np.int64)
    low, high = table["ci_low"].to_numpy(dtype=float), table["ci_high"].to_numpy(dtype=float)
    mid = (table["bin_low"].to_numpy(dtype=float) + table["bin_high"].to_numpy(dtype=float)) / 2
    width = float(np.min(table["bin_high"] - table["bin_low"])) if len(table) else 0.1
    edges = np.stack([100 * table["bin_low"].to_numpy(dtype=float), 100 * table["bin_high"].to_numpy(dtype=float)], 1)
    ref = plain(reference)
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=100 * mid,
            y=tasks,
            width=100 * width * 0.9,
            yaxis="y2",
            marker_color="#d5dbe5",
            name="tasks in the bin",
            customdata=edges,
            hovertemplate="confidence %{customdata[0]:.0f}–%{customdata[1]:.0f} %: %{y:,} tasks<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[0, 100],
            y=[0, 100],
            mode="lines",
            line=dict(color=PALETTE[6], dash="dash", width=1),
            name="perfectly calibrated",
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=100 * conf,
            y=100 * acc,
            mode="markers+lines",
            marker=dict(color=PALETTE[0], size=9),
            line=dict(color=PALETTE[0], width=1),
            error_y=dict(
                type="data",
                symmetric=False,
                array=100 * (high - acc),
                arrayminus=100 * (acc - low),
                color=PALETTE[0],
                thickness=1,
            ),
            name=f"{plain(method) + ' ' if method else ''}accuracy on {ref}",
            customdata=np.column_stack([tasks, 100 * low, 100 * high, edges]),
            hovertemplate="confidence %{x:.1f} % (bin %{customdata[3]:.0f}–%{customdata[4]:.0f} %)<br>"
            f"right on {ref}: %{{y:.1f}} % of %{{customdata[0]:,}} tasks"
            "<br>95 % CI %{customdata[1]:.1f}–%{customdata[2]:.1f} %<extra></extra>",
        )
    )
    return _layout(fig, float(tasks.max()) if len(tasks) else 1.0, ref, ece)


def _layout(fig: go.Figure, top: float, ref: str, ece: float) -> go.Figure:
    """Percent axes with the diagonal's square range, the tasks' axis on the right, the ECE in a corner."""
    fig.update_layout(
        height=380,
        margin=dict(l=10, r=10, t=40, b=10),
        xaxis=dict(title="the aggregator's confidence in its label (%)", range=[-2, 102], dtick=10),
        yaxis=dict(title=f"labels right on {ref} (%)", range=[-2, 104], dtick=10),
        # the bars keep to the lower third, under the points; whole-number ticks (tasks are counted)
        yaxis2=count_axis(
            "tasks in the bin", top * 3, overlaying="y", side="right", showgrid=False, range=[0, top * 3]
        ),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),
        annotations=[
            dict(
                x=2,
                y=98,
                xref="x",
                yref="y",
                xanchor="left",
                showarrow=False,
                text=f"ECE {100 * ece:.1f} percentage points",
                font=dict(size=13),
            )
        ],
    )
    return fig


__all__ = ["reliability_diagram"]
