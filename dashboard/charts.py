"""Pure plotly builders: analytics results in, figures out. No Streamlit, no computation of metrics."""

from __future__ import annotations

from typing import Mapping, Sequence

import plotly.graph_objects as go

PALETTE = ["#2f6fde", "#e4572e", "#29a36a", "#f3a712", "#8e44ad", "#16a2b8", "#7f8c8d", "#c0392b"]


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
                x=pos[c][0], y=pos[c][1], ax=pos[p][0], ay=pos[p][1],
                xref="x", yref="y", axref="x", ayref="y",
                showarrow=True, arrowhead=3, arrowsize=1.4, arrowwidth=1.5, arrowcolor="#8a94a6",
                standoff=18, startstandoff=18, text="",
            )
    fig.add_trace(
        go.Scatter(
            x=[pos[i][0] for i in ids],
            y=[pos[i][1] for i in ids],
            mode="markers+text",
            marker=dict(size=26, color=[PALETTE[0] if not n.get("simulated") else "#9aa9c9" for n in nodes], line=dict(width=1, color="white")),
            text=[n["label"] for n in nodes],
            textposition="bottom center",
            hovertext=[n.get("hover", n["label"]) for n in nodes],
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
    fig.add_trace(go.Bar(x=frame.index, y=frame["answers"], name="answers", marker_color=PALETTE[0], hovertemplate="%{x}<br>%{y:,} answers<extra></extra>"))
    fig.add_trace(
        go.Scatter(
            x=frame.index, y=frame["active_annotators"], name="active annotators", yaxis="y2", mode="lines+markers",
            line=dict(color=PALETTE[1]), hovertemplate="%{x}<br>%{y:,} annotators<extra></extra>",
        )
    )
    fig.update_layout(
        title=title or None,
        height=320,
        margin=dict(l=10, r=10, t=30 if title else 10, b=10),
        yaxis=dict(title="answers per period"),
        yaxis2=dict(title="active annotators", overlaying="y", side="right", rangemode="tozero", showgrid=False),
        legend=dict(orientation="h", y=1.12),
        xaxis=dict(title="time (UTC)"),
    )
    return fig


def status_chart(frame) -> go.Figure:
    """Assignments per status (horizontal bars) from metrics.progress.status_mix."""
    f = frame[frame["answers"] > 0]
    colors = {"ACCEPTED": PALETTE[2], "SUBMITTED": PALETTE[0], "REJECTED": PALETTE[1], "SKIPPED": PALETTE[6], "EXPIRED": PALETTE[3]}
    fig = go.Figure(
        go.Bar(
            x=f["answers"], y=f.index, orientation="h",
            marker_color=[colors.get(s, PALETTE[6]) for s in f.index],
            text=[f"{a:,} answers · {s:,} suites" for a, s in zip(f["answers"], f["assignments"])],
            textposition="auto",
            hovertemplate="%{y}: %{x:,} answers<extra></extra>",
        )
    )
    fig.update_layout(height=60 + 40 * len(f), margin=dict(l=10, r=10, t=10, b=10), xaxis=dict(title="answers"))
    return fig
