"""The report documents' charts: plotly figures built from the registry's results (one builder each).

The same figure is drawn interactively in the HTML and as a static image in the PDF. Data shown
as plotly text (labels, currency) is escaped: plotly renders <b>, <a href> and the like inside
labels, ticks and hovers.
"""

from __future__ import annotations

import html
from typing import Any, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from analytics.report_documents import fmt

BLUE, ORANGE, GREEN, AMBER, GREY = "#2f6fde", "#e4572e", "#29a36a", "#f3a712", "#7f8c8d"
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"  # no web font: what the reader's machine has
WIDTH = 900  # static images (PDF) are drawn at this width; the HTML lets plotly fit the page


def plain(text: Any) -> str:
    """Data as plotly text: <, > and & escaped so that they are shown as they are."""
    return html.escape(str(text), quote=False)


def _layout(fig: go.Figure, height: int, **kwargs: Any) -> go.Figure:
    kwargs.setdefault("margin", dict(l=10, r=10, t=40, b=10))
    fig.update_layout(
        template="plotly_white", height=height, font=dict(family=FONT, size=13, color="#1f2733"), **kwargs
    )
    return fig


def spend_figure(cost: Mapping[str, Any]) -> go.Figure | None:
    """Rewards, fees and bonuses as one stacked bar (the report's ``cost`` section)."""
    parts = [("rewards", BLUE), ("fees", AMBER), ("bonuses", GREEN)]
    if cost.get("total") is None or any(cost.get(k) is None for k, _ in parts):
        return None
    currency = plain(cost.get("currency", ""))
    fig = go.Figure()
    for key, colour in parts:
        value = float(cost[key])
        fig.add_trace(
            go.Bar(
                y=["spend"],
                x=[value],
                orientation="h",
                name=f"{key} {fmt.money(value, currency)}",
                marker_color=colour,
                text=[f"{key} {fmt.amount(value)}" if value >= 0.08 * float(cost["total"]) else ""],
                textposition="inside",
                insidetextanchor="middle",
                textangle=0,
                hovertemplate=f"{key}: %{{x:.4f}} {currency}<extra></extra>",
            )
        )
    return _layout(
        fig,
        170,
        barmode="stack",
        showlegend=True,
        legend=dict(orientation="h", y=-0.3, traceorder="normal"),
        xaxis=dict(rangemode="tozero", ticksuffix=f" {currency}"),
        yaxis=dict(visible=False),
        margin=dict(l=10, r=10, t=10, b=10),
    )


def shown_overlaps(ks: Sequence[int], max_overlap: int, most: int = 10) -> list[int]:
    """The overlaps a table or the chart's labels show: all of them when few, else 1 to 4, about
    ``most`` evenly spaced up to the run's overlap, the run's overlap and the projections."""
    ks = sorted(int(k) for k in ks)
    if len(ks) <= most + 2:
        return ks
    step = max(1, -(-max_overlap // (most - 4)))
    keep = {k for k in ks if k <= 4 or k % step == 0 or k >= max_overlap}
    return [k for k in ks if k in keep]


def _observed(fig: go.Figure, obs, reference: str, shown: Sequence[int]) -> None:
    ks = list(obs.index)
    fig.add_trace(
        go.Scatter(
            x=ks + ks[::-1],
            y=list(100 * obs[f"{reference}_ci_high"]) + list(100 * obs[f"{reference}_ci_low"])[::-1],
            fill="toself",
            fillcolor="rgba(47,111,222,0.14)",
            mode="lines",
            line=dict(width=0),
            hoverinfo="skip",
            name="95 % interval",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=ks,
            y=100 * obs[f"{reference}_accuracy"].to_numpy(dtype=float),
            mode="lines+markers+text",
            name=f"measured on the run (vs {reference})",
            line=dict(color=BLUE, width=3),
            marker=dict(size=9),
            text=[fmt.pct(v) if k in shown else "" for k, v in obs[f"{reference}_accuracy"].items()],
            textposition="top center",
            hovertemplate="overlap %{x}: %{y:.1f} %<extra></extra>",
        )
    )


def _projection(fig: go.Figure, points, max_overlap: int) -> None:
    proj = points[points.index >= max_overlap]
    fig.add_trace(
        go.Scatter(
            x=list(proj.index),
            y=100 * proj["model_accuracy"].to_numpy(dtype=float),
            mode="lines+markers",
            name="model projection (more overlap)",
            line=dict(color=ORANGE, dash="dash"),
            marker=dict(symbol="diamond-open", size=10),
            hovertemplate="overlap %{x}: projected %{y:.1f} %<extra></extra>",
        )
    )


def curve_reference(points) -> str | None:
    """The reference the curve is measured against: truth where the run has it, else golden."""
    for reference in ("truth", "golden"):
        col = f"{reference}_accuracy"
        if col in points and points[col].notna().any():
            return reference
    return None


def curve_figure(curve: Any) -> go.Figure | None:
    """Accuracy against the answers' overlap, with the cost per final label of each overlap on the
    axis (metrics.curve.cost_quality_curve): measured by subsampling up to the run's overlap, the
    model's projection beyond it."""
    points = curve.points
    reference = curve_reference(points)
    if reference is None:
        return None
    currency = plain(curve.currency)
    obs = points[points["basis"] == "subsampled"]
    fig = go.Figure()
    ks = shown_overlaps(points.index, curve.max_overlap)
    _observed(fig, obs, reference, ks)
    if reference == "golden" and points["model_accuracy"].notna().any() and len(points) > len(obs):
        _projection(fig, points, curve.max_overlap)
    cost = points["cost_per_final_label"].reindex(ks)
    ticks = [f"{k}<br>{fmt.amount(c)} {currency}" if c == c else f"{k}" for k, c in zip(ks, cost, strict=True)]
    return _layout(
        fig,
        380,
        legend=dict(orientation="h", y=1.14),
        xaxis=dict(
            title="answers per task (overlap) and cost per final label",
            tickvals=ks,
            ticktext=ticks,
            range=[min(points.index) - 0.4, max(points.index) + 0.4],
        ),
        yaxis=dict(title=f"accuracy vs {reference}, %", ticksuffix=" %"),
    )


# tasks by the share of their answers that agree with the final label (exact thirds and halves
# land in the higher group: 2 of 3 is "two thirds or more")
AGREEMENT_GROUPS = (
    ("all answers agree", 1.0),
    ("two thirds or more", 2 / 3),
    ("half or more", 0.5),
    ("less than half", 0.0),
)


def agreement_counts(shares: Sequence[float]) -> tuple[list[str], list[int]]:
    """How many tasks fall in each of AGREEMENT_GROUPS (each task in the first group it reaches)."""
    values = np.asarray(shares, dtype=float)
    values = values[np.isfinite(values)]
    names, counts, left = [], [], np.ones(len(values), dtype=bool)
    for name, floor in AGREEMENT_GROUPS:
        hit = left & (values >= floor - 1e-9)
        names.append(name)
        counts.append(int(hit.sum()))
        left &= ~hit
    return names, counts


def agreement_figure(items: Any) -> go.Figure | None:
    """How many tasks had how much agreement (metrics.agreement.item_agreement), as horizontal bars."""
    if items is None or not len(items):
        return None
    names, counts = agreement_counts(items["agreement"])
    total = sum(counts) or 1
    fig = go.Figure(
        go.Bar(
            y=names,
            x=counts,
            orientation="h",
            marker_color=[GREEN, BLUE, AMBER, ORANGE],
            text=[f"{fmt.count(c)} tasks ({fmt.pct(c / total)})" for c in counts],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{x:,} tasks<extra></extra>",
        )
    )
    return _layout(
        fig,
        230,
        xaxis=dict(title="tasks", rangemode="tozero", range=[0, 1.25 * max(counts or [1])]),
        yaxis=dict(autorange="reversed", ticksuffix="  "),
        margin=dict(l=10, r=10, t=10, b=10),
    )


def labels_figure(raw: Mapping[str, int] | None, final: Mapping[str, int] | None) -> go.Figure | None:
    """The share of each label among the raw answers and among the final labels."""
    series = [s for s in (("answers", raw, GREY), ("final labels", final, BLUE)) if s[1]]
    if not series:
        return None
    fig = go.Figure()
    for name, counts, colour in series:
        total = sum(counts.values()) or 1
        shares = [v / total for v in counts.values()]
        fig.add_trace(
            go.Bar(
                x=[plain(k) for k in counts],
                y=[100 * s for s in shares],
                name=name,
                marker_color=colour,
                text=[fmt.pct(s) for s in shares],
                textposition="outside",
                customdata=list(counts.values()),
                hovertemplate="%{x}: %{y:.1f} % (%{customdata:,})<extra>" + name + "</extra>",
            )
        )
    return _layout(
        fig,
        320,
        barmode="group",
        legend=dict(orientation="h", y=1.12),
        yaxis=dict(title="% of the total", ticksuffix=" %", rangemode="tozero"),
    )
