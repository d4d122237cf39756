"""Charts of agreement and labels: agreement per task and pair, accuracy per aggregator, label distributions."""

from __future__ import annotations

from typing import Mapping

import numpy as np
import plotly.graph_objects as go

from dashboard.charts.common import PALETTE, category_axis, count_axis, plain, plains, short_unique


def agreement_histogram(items) -> go.Figure:
    """Tasks by their agreement with the majority (metrics.agreement.item_agreement: column
    ``agreement`` = agreeing answers / answers). One bar per distinct level where there are few
    (constant overlap gives 1/k steps), 20 bins otherwise."""
    share = items["agreement"].to_numpy(dtype=float, na_value=np.nan)
    share = share[np.isfinite(share)]
    # distinct levels to 3 decimals by one bincount over 0..1000 (no sort, no hashing of 10^6 floats)
    per_level = np.bincount(np.rint(np.clip(share, 0.0, 1.0) * 1000).astype(np.int64), minlength=1001)
    level = np.flatnonzero(per_level)
    fig = go.Figure()
    top = float(per_level.max()) if len(share) else 0.0
    if len(level) <= 15:
        n = per_level[level]
        fig.add_trace(
            go.Bar(
                x=level / 10,
                y=n,
                marker_color=PALETTE[0],
                text=[f"{k:,}" for k in n],
                textposition="outside",
                hovertemplate="%{x:.1f} % agreeing: %{y:,} tasks<extra></extra>",
            )
        )
    else:
        # binned here: a plotly Histogram would send every task's value to the browser
        counts, edges = np.histogram(100 * share, bins=20, range=(0, 100))
        top = float(counts.max())
        fig.add_trace(
            go.Bar(
                x=(edges[:-1] + edges[1:]) / 2,
                y=counts,
                width=edges[1] - edges[0],
                marker_color=PALETTE[0],
                customdata=np.stack([edges[:-1], edges[1:]], axis=1),
                hovertemplate="%{customdata[0]:.0f}–%{customdata[1]:.0f} % agreeing: %{y:,} tasks<extra></extra>",
            )
        )
    fig.update_layout(
        height=300,
        margin=dict(l=10, r=10, t=10, b=10),
        bargap=0.2,
        xaxis=dict(title="answers agreeing with the task's majority label (%)", range=[-8, 108]),
        yaxis=count_axis("tasks", top * 1.12),
    )
    return fig


def agreement_heatmap(matrix, value: str = "kappa") -> go.Figure:
    """Annotator x annotator matrix (metrics.agreement.agreement_matrix); blank where a pair
    shares too few tasks. Axis labels are shortened ids; the hover shows the full ones."""
    names = plains(matrix.index)
    ticks = short_unique(matrix.index)
    title = {"kappa": "Cohen's κ", "agreement": "share agreeing", "shared": "shared tasks"}[value]
    zmin, zmax = (-1.0, 1.0) if value == "kappa" else (0.0, 1.0) if value == "agreement" else (0.0, None)
    fig = go.Figure(
        go.Heatmap(
            z=matrix.to_numpy(dtype=float),
            x=ticks,
            y=ticks,
            customdata=[[(a, b) for b in names] for a in names],
            colorscale="RdBu" if value == "kappa" else "Blues",
            zmid=0 if value == "kappa" else None,
            zmin=zmin,
            zmax=zmax,
            colorbar=dict(title=title),
            hoverongaps=False,
            hovertemplate="%{customdata[0]}<br>%{customdata[1]}<br>" + title + ": %{z:.3f}<extra></extra>",
        )
    )
    side = max(320, min(900, 18 * len(names) + 120))
    fig.update_layout(
        height=side,
        margin=dict(l=10, r=10, t=10, b=10),
        xaxis=category_axis("annotator", len(names), tickangle=-60),
        yaxis=category_axis("annotator", len(names), autorange="reversed"),
    )
    return fig


def accuracy_by_method(frame) -> go.Figure:
    """Accuracy of each aggregator against a reference with its 95 % interval. ``frame``: one row
    per method with columns method, accuracy, ci_low, ci_high, correct, tasks."""
    y = 100 * frame["accuracy"].to_numpy(dtype=float)
    fig = go.Figure(
        go.Scatter(
            x=plains(frame["method"]),
            y=y,
            mode="markers+text",
            marker=dict(size=12, color=PALETTE[0]),
            error_y=dict(
                type="data",
                symmetric=False,
                array=100 * frame["ci_high"].to_numpy(dtype=float) - y,
                arrayminus=y - 100 * frame["ci_low"].to_numpy(dtype=float),
                color="#8a94a6",
            ),
            text=[f"{a:.1f} %" for a in y],
            textposition="middle right",
            customdata=list(zip(frame["correct"], frame["tasks"], strict=True)),
            hovertemplate="%{x}: %{y:.1f} % (%{customdata[0]:,} of %{customdata[1]:,} tasks)<extra></extra>",
        )
    )
    # dots with intervals need no zero baseline: zoom to the intervals so differences show
    low = float(np.nanmin(100 * frame["ci_low"].to_numpy(dtype=float))) if len(frame) else 0.0
    bottom = max(0.0, 5 * np.floor((low - 3) / 5)) if np.isfinite(low) else 0.0
    fig.update_layout(
        height=300,
        margin=dict(l=10, r=10, t=10, b=10),
        xaxis=category_axis("aggregator", len(frame), range=[-0.5, len(frame) - 0.2]),
        yaxis=dict(title="accuracy, % (95 % Wilson interval)", range=[bottom, 101]),
    )
    return fig


def distribution_bars(frame, series: Mapping[str, str], y_title: str = "% of the total") -> go.Figure:
    """Grouped bars of label shares. ``frame``: index label; ``series`` maps a share column to
    its legend name, with a matching count column named by replacing "share" with "count"."""
    fig = go.Figure()
    for i, (col, name) in enumerate(series.items()):
        counts = frame[col.replace("share", "count")]
        fig.add_trace(
            go.Bar(
                x=plains(frame.index),
                y=100 * frame[col].to_numpy(dtype=float),
                name=plain(name),
                marker_color=PALETTE[i % len(PALETTE)],
                customdata=counts.to_numpy(),
                text=[f"{int(c):,}" for c in counts.to_numpy()],
                textposition="outside",
                hovertemplate="%{x}: %{y:.1f} % (%{customdata:,})<extra>" + plain(name) + "</extra>",
            )
        )
    fig.update_layout(
        barmode="group",
        height=320,
        margin=dict(l=10, r=10, t=10, b=10),
        legend=dict(orientation="h", y=1.12),
        xaxis=category_axis("label", len(frame)),
        yaxis=dict(title=y_title, rangemode="tozero"),
    )
    return fig


def label_bias_heatmap(diff) -> go.Figure:
    """Annotators (rows) x labels (columns): their share of a label minus everyone else's, in
    percentage points (labels.LabelUse.shares["difference_pp"] unstacked)."""
    names = plains(diff.index)
    ticks = short_unique(diff.index)
    lim = float(max(10.0, abs(diff.to_numpy(dtype=float)).max() if diff.size else 10.0))
    fig = go.Figure(
        go.Heatmap(
            z=diff.to_numpy(dtype=float),
            x=plains(diff.columns),
            y=ticks,
            customdata=[[n] * diff.shape[1] for n in names],
            colorscale="RdBu",
            reversescale=True,
            zmid=0,
            zmin=-lim,
            zmax=lim,
            colorbar=dict(title="pp"),
            hovertemplate="%{customdata}<br>%{x}: %{z:+.1f} percentage points vs the others<extra></extra>",
        )
    )
    fig.update_layout(
        height=max(260, 22 * len(names) + 80),
        margin=dict(l=10, r=10, t=10, b=10),
        yaxis=category_axis("annotator", len(names), autorange="reversed"),
        xaxis=category_axis("label", diff.shape[1]),
    )
    return fig
