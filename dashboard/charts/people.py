"""Charts of the people pages: exam items and scores, one annotator's speed and label use."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from dashboard.charts.common import PALETTE, VERDICT_COLORS, category_axis, count_axis, plains, short, short_unique


def exam_item_chart(items, verdicts) -> go.Figure:
    """Pass rate per exam item with its 95 % Wilson interval, lowest first, coloured by verdict.

    ``items``: metrics.exam.exam_item_pass_rate; ``verdicts``: metrics.people.item_verdicts. A
    dashed line marks the median item; items with a low pass rate carry a "low" marker text.
    """
    t = items.join(verdicts).sort_values("pass_rate", kind="stable")
    ticks = dict(zip(t.index, short_unique(t.index, 12), strict=True))
    fig = go.Figure()
    for verdict, color in VERDICT_COLORS.items():
        f = t[t["verdict"] == verdict]
        if not len(f):
            continue
        counts = [
            f"{k}/{n}" + ("  low" if low else "")
            for k, n, low in zip(f["correct"], f["answers"], f["low_pass_rate"], strict=True)
        ]
        y = [ticks[i] for i in f.index]
        fig.add_trace(
            go.Scatter(
                x=100 * f["pass_rate"],
                y=y,
                mode="markers",
                name=verdict,
                legendgroup=verdict,
                marker=dict(
                    size=11, color=color, symbol=["diamond" if low else "circle" for low in f["low_pass_rate"]]
                ),
                error_x=dict(
                    type="data",
                    symmetric=False,
                    array=100 * (f["ci_high"] - f["pass_rate"]),
                    arrayminus=100 * (f["pass_rate"] - f["ci_low"]),
                    color=color,
                ),
                text=counts,
                customdata=list(
                    zip(
                        plains(f.index),
                        100 * f["ci_low"],
                        100 * f["ci_high"],
                        plains(f["golden"].astype(str)),
                        f["discrimination"],
                        f["reading"],
                        strict=True,
                    )
                ),
                hovertemplate="item %{customdata[0]}<br>pass rate %{x:.1f} % "
                "(95 % CI %{customdata[1]:.1f}–%{customdata[2]:.1f} %)<br>%{text}<br>golden: %{customdata[3]}"
                "<br>discrimination %{customdata[4]:.2f}<br>%{customdata[5]}<extra></extra>",
            )
        )
        _counts_beside(fig, f, y, counts, verdict)
    median = float(100 * t["pass_rate"].median()) if t["pass_rate"].notna().any() else None
    if median is not None:
        fig.add_vline(
            x=median,
            line_dash="dash",
            line_color="#8a94a6",
            annotation_text=f"median item {median:.0f} %",
            annotation_position="top",
        )
    fig.update_layout(
        height=80 + 34 * len(t),
        margin=dict(l=10, r=10, t=30, b=10),
        xaxis=dict(
            title="candidates who get the item right (%, 95 % Wilson interval)",
            range=[0, 122],
            tickvals=list(range(0, 101, 20)),
        ),
        yaxis=category_axis("exam item", len(t), autorange="reversed"),
        legend=dict(orientation="h", y=1.06, title="verdict"),
    )
    return fig


def _counts_beside(fig: go.Figure, f, y: list[str], counts: list[str], verdict: str) -> None:
    """The "88/105" texts right of each interval's upper end, never over the marker or its bars."""
    fig.add_trace(
        go.Scatter(
            x=100 * f["ci_high"].fillna(f["pass_rate"]) + 1.5,
            y=y,
            mode="text",
            text=counts,
            textposition="middle right",
            textfont=dict(color="#4a5568", size=11),
            legendgroup=verdict,
            showlegend=False,
            hoverinfo="skip",
        )
    )


def item_discrimination_chart(items, verdicts, floor: float = 0.20) -> go.Figure:
    """Classical item analysis: pass rate (x) against item–rest discrimination (y) per exam item.

    A line marks the ``floor`` below which an item separates strong from weak candidates poorly
    (exam.DISCRIMINATING) and one marks 0, below which strong candidates miss the item as often
    as weak ones (an ambiguous item or a wrong golden label).
    """
    t = items.join(verdicts)
    fig = go.Figure()
    for verdict, color in VERDICT_COLORS.items():
        f = t[t["verdict"] == verdict]
        if not len(f):
            continue
        fig.add_trace(
            go.Scatter(
                # only the items that need a look are named: "works" items cluster and their names overlap
                x=100 * f["pass_rate"],
                y=f["discrimination"],
                mode="markers+text",
                name=verdict,
                text=[short(i, 8) if verdict != "works" else "" for i in f.index],
                textposition="top center",
                marker=dict(size=11, color=color),
                customdata=list(zip(plains(f.index), f["candidates"], strict=True)),
                hovertemplate="item %{customdata[0]}<br>pass rate %{x:.1f} %<br>"
                "discrimination %{y:.2f} over %{customdata[1]} candidates<extra></extra>",
            )
        )
    fig.add_hline(
        y=floor,
        line_dash="dash",
        line_color="#8a94a6",
        annotation_text=f"{floor:.2f}: marginal floor",
        annotation_position="bottom right",
    )
    fig.add_hline(
        y=0, line_color="#c0392b", annotation_text="0: broken or ambiguous below", annotation_position="bottom right"
    )
    fig.update_layout(
        height=360,
        margin=dict(l=10, r=10, t=10, b=10),
        legend=dict(orientation="h", y=1.08),
        xaxis=dict(title="pass rate (%)", range=[0, 105]),
        yaxis=dict(title="discrimination (item–rest correlation)", range=[-1, 1]),
    )
    return fig


def exam_score_histogram(scores, threshold: float | None) -> go.Figure:
    """Candidates per exam score (metrics.exam.exam_scores), passed and failed stacked, with the
    pass threshold as a vertical line."""
    s = scores[scores["score"].notna()]
    step = 100.0 / max(int(s["items"].max()) if len(s) else 1, 1)
    # the stacked bars' tallest column, for whole-number ticks (the bins are the score levels)
    levels = np.rint(s["score"].to_numpy(dtype=float) / (step / 100)).astype(np.int64) if len(s) else np.zeros(0, int)
    top = float(np.bincount(levels).max()) if len(levels) else 0.0
    fig = go.Figure()
    groups = [
        ("passed", PALETTE[2], s["passed"].eq(True)),
        ("failed", PALETTE[1], s["passed"].eq(False)),
        ("no threshold", PALETTE[0], s["passed"].isna()),
    ]
    for name, color, mask in groups:
        x = 100 * s.loc[mask.fillna(False).to_numpy(dtype=bool), "score"]
        if len(x):
            fig.add_trace(
                go.Histogram(
                    x=x,
                    name=f"{name} ({len(x):,})",
                    marker_color=color,
                    xbins=dict(start=-step / 2, end=100 + step / 2, size=step),
                    hovertemplate="score %{x:.0f} %: %{y:,} candidates<extra></extra>",
                )
            )
    if threshold is not None:
        fig.add_vline(
            x=100 * threshold - step / 2,
            line_dash="dash",
            line_color="#2d3436",
            annotation_text=f"pass ≥ {100 * threshold:.0f} %",
            annotation_position="top",
        )
    fig.update_layout(
        barmode="stack",
        height=320,
        margin=dict(l=10, r=10, t=30, b=10),
        legend=dict(orientation="h", y=1.12),
        xaxis=dict(title="exam score (% of items right)", range=[-step / 2 - 1, 100 + step / 2 + 1]),
        yaxis=count_axis("candidates", top * 1.05),
    )
    return fig


def speed_histogram(cmp) -> go.Figure:
    """One annotator's seconds per task against the pools' (metrics.people.SpeedComparison):
    shares of suites per bin, overlaid, with both medians as vertical lines."""
    h = cmp.histogram
    mid = (h["bin_left"] + h["bin_right"]) / 2
    width = float((h["bin_right"] - h["bin_left"]).iloc[0]) if len(h) else 1.0
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=mid,
            y=100 * h["pool_share"],
            width=width,
            name=f"everyone in these pools ({cmp.pool_suites:,} suites)",
            marker_color="#b8c2d6",
            customdata=h["pool_count"],
            hovertemplate="%{x:.1f} s/task: %{y:.1f} % of suites (%{customdata:,})<extra></extra>",
        )
    )
    fig.add_trace(
        go.Bar(
            x=mid,
            y=100 * h["share"],
            width=width,
            name=f"this annotator ({cmp.suites:,} suites)",
            marker_color=PALETTE[1],
            opacity=0.75,
            customdata=h["count"],
            hovertemplate="%{x:.1f} s/task: %{y:.1f} % of their suites (%{customdata:,})<extra></extra>",
        )
    )
    fig.add_vline(
        x=cmp.pool_median_seconds_per_task,
        line_dash="dash",
        line_color="#5d6d7e",
        annotation_text=f"pool median {cmp.pool_median_seconds_per_task:.1f} s",
        annotation_position="top right",
    )
    fig.add_vline(
        x=cmp.median_seconds_per_task,
        line_color=PALETTE[1],
        annotation_text=f"theirs {cmp.median_seconds_per_task:.1f} s",
        annotation_position="top left",
    )
    fig.update_layout(
        barmode="overlay",
        height=360,
        margin=dict(l=10, r=10, t=30, b=10),
        legend=dict(orientation="h", y=-0.32, yanchor="top"),
        xaxis=dict(title="seconds per task (suite duration / tasks in it; last bin: that or more)"),
        yaxis=dict(title="% of suites"),
    )
    return fig


def label_use_chart(shares) -> go.Figure:
    """One annotator's label shares against everyone else's (rows of labels.LabelUse.shares for
    one worker: index label; columns count, share, others_share)."""
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=plains(shares.index),
            y=100 * shares["others_share"],
            name="everyone else",
            marker_color="#b8c2d6",
            hovertemplate="%{x}: %{y:.1f} % of the others' answers<extra></extra>",
        )
    )
    fig.add_trace(
        go.Bar(
            x=plains(shares.index),
            y=100 * shares["share"],
            name="this annotator",
            marker_color=PALETTE[1],
            customdata=shares["count"],
            text=[f"{c:,}" for c in shares["count"]],
            textposition="outside",
            hovertemplate="%{x}: %{y:.1f} % of their answers (%{customdata:,})<extra></extra>",
        )
    )
    fig.update_layout(
        barmode="group",
        height=300,
        margin=dict(l=10, r=10, t=10, b=10),
        legend=dict(orientation="h", y=1.12),
        xaxis=category_axis("label", len(shares)),
        yaxis=dict(title="% of regular answers", rangemode="tozero"),
    )
    return fig
