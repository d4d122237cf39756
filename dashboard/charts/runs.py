"""Charts of a run and its versions: lineage, progress over time, assignment status, cost and the cost-quality curve."""

from __future__ import annotations

from typing import Mapping, Sequence

import plotly.graph_objects as go

from dashboard.charts.common import PALETTE, category_axis, count_axis, plain, plains


def lineage_graph(nodes: Sequence[Mapping], edges: Sequence[tuple[str, str]]) -> go.Figure:
    """Dataset versions as a left-to-right graph, parents to children.

    ``nodes``: dicts with id, label, hover (text); ``edges``: (parent id, child id). Each node's
    column is its depth in the lineage; ``customdata`` carries the id so a click can open it.
    """
    ids = [n["id"] for n in nodes]
    parents: dict[str, list[str]] = {i: [] for i in ids}
    for p, c in edges:
        if c in parents and p in parents:
            parents[c].append(p)

    depth: dict[str, int] = {}

    def d(i: str, stack=()) -> int:
        if i in depth:
            return depth[i]
        ps = [p for p in parents[i] if p not in stack]
        depth[i] = 0 if not ps else 1 + max(d(p, stack + (i,)) for p in ps)
        return depth[i]

    for i in ids:
        d(i)
    rows: dict[int, int] = {}
    pos = {}
    for i in ids:
        col = depth[i]
        pos[i] = (col, -rows.get(col, 0))
        rows[col] = rows.get(col, 0) + 1

    fig = go.Figure()
    for p, c in edges:
        if p in pos and c in pos:
            fig.add_annotation(
                x=pos[c][0],
                y=pos[c][1],
                ax=pos[p][0],
                ay=pos[p][1],
                xref="x",
                yref="y",
                axref="x",
                ayref="y",
                showarrow=True,
                arrowhead=3,
                arrowsize=1.4,
                arrowwidth=1.5,
                arrowcolor="#8a94a6",
                standoff=18,
                startstandoff=18,
                text="",
            )
    fig.add_trace(
        go.Scatter(
            x=[pos[i][0] for i in ids],
            y=[pos[i][1] for i in ids],
            mode="markers+text",
            marker=dict(
                size=26,
                color=[PALETTE[0] if not n.get("simulated") else "#9aa9c9" for n in nodes],
                line=dict(width=1, color="white"),
            ),
            text=[plain(n["label"]) for n in nodes],
            textposition="bottom center",
            hovertext=[plain(n.get("hover", n["label"])) for n in nodes],
            hoverinfo="text",
            customdata=ids,
            name="versions",
        )
    )
    fig.update_layout(
        height=max(220, 110 * max(rows.values(), default=1) + 60),
        margin=dict(l=20, r=20, t=10, b=10),
        xaxis=dict(visible=False, range=[-0.5, max(depth.values(), default=0) + 0.5]),
        yaxis=dict(visible=False, range=[-max(rows.values(), default=1) + 0.3, 0.5]),
        showlegend=False,
        plot_bgcolor="white",
    )
    return fig


def throughput_chart(frame, title: str = "") -> go.Figure:
    """Answers per period (bars) and active annotators (line, right axis) from metrics.progress.throughput."""
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=frame.index,
            y=frame["answers"],
            name="answers",
            marker_color=PALETTE[0],
            hovertemplate="%{x}<br>%{y:,} answers<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=frame.index,
            y=frame["active_annotators"],
            name="active annotators",
            yaxis="y2",
            mode="lines+markers",
            line=dict(color=PALETTE[1]),
            hovertemplate="%{x}<br>%{y:,} annotators<extra></extra>",
        )
    )
    fig.update_layout(
        title=title or None,
        height=320,
        margin=dict(l=10, r=10, t=30 if title else 10, b=10),
        yaxis=count_axis("answers per period", _top(frame["answers"])),
        yaxis2=count_axis(
            "active annotators", _top(frame["active_annotators"]) * 1.05, overlaying="y", side="right", showgrid=False
        ),
        legend=dict(orientation="h", y=1.12),
        xaxis=dict(title="time (UTC)"),
    )
    return fig


def status_chart(frame) -> go.Figure:
    """Assignments per status (horizontal bars) from metrics.progress.status_mix."""
    f = frame[frame["answers"] > 0]
    colors = {
        "ACCEPTED": PALETTE[2],
        "SUBMITTED": PALETTE[0],
        "REJECTED": PALETTE[1],
        "SKIPPED": PALETTE[6],
        "EXPIRED": PALETTE[3],
    }
    fig = go.Figure(
        go.Bar(
            x=f["answers"],
            y=plains(f.index),
            orientation="h",
            marker_color=[colors.get(s, PALETTE[6]) for s in f.index],
            text=[f"{a:,} answers · {s:,} suites" for a, s in zip(f["answers"], f["assignments"], strict=True)],
            textposition="auto",
            hovertemplate="%{y}: %{x:,} answers<extra></extra>",
        )
    )
    fig.update_layout(
        height=60 + 40 * len(f),
        margin=dict(l=10, r=10, t=10, b=10),
        xaxis=count_axis("answers", _top(f["answers"])),
        yaxis=category_axis("status", len(f)),
    )
    return fig


def _top(values) -> float:
    """The largest of ``values`` (0 where there is none), for a count axis's ticks."""
    return float(values.max()) if len(values) and values.notna().any() else 0.0


def cost_by_version_chart(frame, currency: str) -> go.Figure:
    """Cost per final label per version (metrics.cost.compare_versions_cost; index version)."""
    currency = plain(currency)
    y = frame["cost_per_final_label"].to_numpy(dtype=float)
    fig = go.Figure(
        go.Bar(
            x=plains(frame.index),
            y=y,
            marker_color=PALETTE[0],
            customdata=list(zip(frame["total"], frame["final_labels"], strict=True)),
            text=[f"{v:.4f}" if v == v else "n/a" for v in y],
            textposition="outside",
            hovertemplate="%{x}<br>%{y:.4f} "
            + currency
            + " a label<br>total %{customdata[0]:.2f} "
            + currency
            + " / %{customdata[1]:,} labels<extra></extra>",
        )
    )
    fig.update_layout(
        height=300,
        margin=dict(l=10, r=10, t=10, b=10),
        xaxis=category_axis("dataset version", len(frame)),
        yaxis=dict(title=f"cost per final label ({currency})", rangemode="tozero"),
    )
    return fig


def _observed(fig: go.Figure, obs, reference: str, cost, currency: str) -> None:
    """The subsampled accuracy at overlap 1..K: its 95 % band and the mean with the range over repeats."""
    col = f"{reference}_accuracy"
    fig.add_trace(
        go.Scatter(
            x=list(obs.index) + list(obs.index)[::-1],
            y=list(100 * obs[f"{reference}_ci_high"]) + list(100 * obs[f"{reference}_ci_low"])[::-1],
            fill="toself",
            fillcolor="rgba(47,111,222,0.12)",
            mode="lines",
            line=dict(width=0),
            hoverinfo="skip",
            name="95 % interval (tasks)",
        )
    )
    y = 100 * obs[col].to_numpy(dtype=float)
    fig.add_trace(
        go.Scatter(
            x=list(obs.index),
            y=y,
            mode="lines+markers",
            name=f"subsampled, vs {reference}",
            line=dict(color=PALETTE[0], width=3),
            error_y=dict(
                type="data",
                symmetric=False,
                array=100 * obs[f"{reference}_max"].to_numpy(dtype=float) - y,
                arrayminus=y - 100 * obs[f"{reference}_min"].to_numpy(dtype=float),
                color=PALETTE[0],
                thickness=1,
            ),
            customdata=list(zip(obs[f"{reference}_tasks"].astype("float"), cost[obs.index], strict=True)),
            hovertemplate="overlap %{x}: %{y:.1f} % (mean over repeats; %{customdata[0]:,.0f} tasks)"
            "<br>%{customdata[1]:.4f} " + currency + " a final label<extra></extra>",
        )
    )


def _model(fig: go.Figure, points, obs) -> None:
    """The model's accuracy: dotted up to the run's overlap K, dashed beyond it (a projection)."""
    K = max(obs.index) if len(obs) else 0
    inside = points[points.index <= K]
    beyond = points[points.index >= K]
    fig.add_trace(
        go.Scatter(
            x=list(inside.index),
            y=100 * inside["model_accuracy"],
            mode="lines+markers",
            name="model (fit to control accuracy)",
            line=dict(color=PALETTE[3], dash="dot"),
            hovertemplate="overlap %{x}: model %{y:.1f} %<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=list(beyond.index),
            y=100 * beyond["model_accuracy"],
            mode="lines+markers",
            name="model projection",
            line=dict(color=PALETTE[1], dash="dash"),
            marker=dict(symbol="diamond-open", size=10),
            hovertemplate="overlap %{x}: projected %{y:.1f} %<extra></extra>",
        )
    )
    if K:
        fig.add_vline(
            x=K + 0.5,
            line_dash="dot",
            line_color="#8a94a6",
            annotation_text="projection →",
            annotation_position="top right",
        )


def cost_quality_chart(points, currency: str, reference: str = "golden") -> go.Figure:
    """The cost-quality curve (metrics.curve.cost_quality_curve().points): subsampled accuracy
    at overlap 1..K with its spread over repeats (bars: min–max) and 95 % interval (band), the
    model's accuracy at every k (dashed beyond K: a projection), cost per label on the ticks."""
    currency = plain(currency)
    ks = list(points.index)
    obs = points[points["basis"] == "subsampled"]
    cost = points["cost_per_final_label"] if "cost_per_final_label" in points else points["cost_per_label"]
    fig = go.Figure()
    if obs[f"{reference}_accuracy"].notna().any():
        _observed(fig, obs, reference, cost, currency)
    if reference == "golden" and points["model_accuracy"].notna().any():
        _model(fig, points, obs)
    if "agreement_with_full" in obs and obs["agreement_with_full"].notna().any():
        fig.add_trace(
            go.Scatter(
                x=list(obs.index),
                y=100 * obs["agreement_with_full"],
                mode="lines+markers",
                name="agreement with the full-overlap label",
                line=dict(color=PALETTE[6], width=1),
                marker=dict(size=6),
                visible="legendonly",
                hovertemplate="overlap %{x}: %{y:.1f} % of tasks get the full-overlap label<extra></extra>",
            )
        )
    ticks = [f"{k}<br>{c:.4f} {currency}" if c == c else f"{k}" for k, c in zip(ks, cost, strict=True)]
    fig.update_layout(
        height=380,
        margin=dict(l=10, r=10, t=30, b=10),
        legend=dict(orientation="h", y=1.15),
        xaxis=dict(
            title="answers per task (overlap) · cost per final label", tickmode="array", tickvals=ks, ticktext=ticks
        ),
        yaxis=dict(title=f"accuracy vs {reference}, %"),
    )
    return fig
