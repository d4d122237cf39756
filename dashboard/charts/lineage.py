"""Lineage charts: a data set's version tree coloured by a figure, and accuracy before and after a version's change."""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import pandas as pd
import plotly.graph_objects as go

from dashboard.charts.common import PALETTE, plain

MISSING_COLOR = "#c3c9d3"  # a node whose figure is unknown
COLORSCALE = "Viridis"
EDGE_COLOR = "#8a94a6"


def tree_positions(ids: Sequence[str], parents: Mapping[str, Sequence[str]]) -> dict[str, tuple[int, float]]:
    """(column, row) of each version: the column is its depth (longest chain of known parents), the
    row comes from a depth-first walk of the tree of first parents, so parents sit left of their
    children, each subtree takes its own band of rows and a tree's edges never cross.

    >>> tree_positions(["a", "b", "c", "d"], {"b": ["a"], "c": ["a"], "d": ["b"]})
    {'a': (0, 0.5), 'b': (1, 0.0), 'c': (1, 1.0), 'd': (2, 0.0)}
    """
    known = set(ids)
    ps = {i: [p for p in parents.get(i, ()) if p in known and p != i] for i in ids}
    depth: dict[str, int] = {}

    def d(i: str, stack: frozenset = frozenset()) -> int:
        if i not in depth:
            up = [p for p in ps[i] if p not in stack]
            depth[i] = 0 if not up else 1 + max(d(p, stack | {i}) for p in up)
        return depth[i]

    children: dict[str, list[str]] = {i: [] for i in ids}
    roots = []
    for i in ids:
        (children[ps[i][0]] if ps[i] else roots).append(i)
    rows: dict[str, float] = {}
    next_row = [0.0]

    def place(i: str, seen: frozenset) -> float:
        kids = [k for k in children[i] if k not in seen]
        if not kids:
            rows[i], next_row[0] = next_row[0], next_row[0] + 1
        else:
            ys = [place(k, seen | {i}) for k in kids]
            rows[i] = (ys[0] + ys[-1]) / 2
        return rows[i]

    for r in roots:
        place(r, frozenset())
    for i in ids:  # a version only reachable through a cycle: a row of its own
        if i not in rows:
            rows[i], next_row[0] = next_row[0], next_row[0] + 1
    return {i: (d(i), rows[i]) for i in ids}


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _hover(vid: str, row: Mapping, title: str) -> str:
    label = plain(f"{row.get('name', '')} {row.get('version', '')}".strip())
    lines = [f"<b>{label}</b>", f"id {plain(vid)}", f"{plain(title)}: {plain(row.get('text') or 'n/a')}"]
    if row.get("source"):
        lines.append(f"({plain(row['source'])})")
    if isinstance(row.get("reason"), str) and row["reason"]:
        lines.append(plain(row["reason"]))
    return "<br>".join(lines)


def _edges(fig: go.Figure, pos: Mapping[str, tuple[int, float]], parents: Mapping[str, Sequence[str]]) -> None:
    for child, ps in parents.items():
        for p in ps:
            if p in pos and child in pos and p != child:
                fig.add_annotation(
                    x=pos[child][0],
                    y=-pos[child][1],
                    ax=pos[p][0],
                    ay=-pos[p][1],
                    xref="x",
                    yref="y",
                    axref="x",
                    ayref="y",
                    showarrow=True,
                    arrowhead=3,
                    arrowsize=1.3,
                    arrowwidth=1.5,
                    arrowcolor=EDGE_COLOR,
                    standoff=20,
                    startstandoff=20,
                    text="",
                )


def lineage_by_figure(table: pd.DataFrame, figure_title: str) -> go.Figure:
    """One data set's version tree (parents left of children) with each node coloured and labelled by a figure.

    ``table``: :func:`analytics.versions.lineage_figures`'s rows (index ``version_id``; ``name``,
    ``version``, ``parents``, ``value``, ``text``, ``source``, ``reason``), the caller keeping the
    rows of one data set; parents outside the table are not drawn. A node's colour is its ``value``
    on one colour scale (grey where unknown), its label the version and ``text``; the hover gives
    the version's label and id. ``customdata`` carries the id, so a click can open the version.
    """
    ids = [str(i) for i in table.index]
    rows = {str(i): r for i, r in zip(table.index, table.to_dict(orient="records"), strict=True)}
    parents = {i: [str(p) for p in (rows[i].get("parents") or [])] for i in ids}
    pos = tree_positions(ids, parents)
    fig = go.Figure()
    _edges(fig, pos, parents)
    values = [rows[i].get("value") for i in ids]
    known = [i for i, v in zip(ids, values, strict=True) if _finite(v)]
    unknown = [i for i in ids if i not in known]
    for group, colored in ((known, True), (unknown, False)):
        if not group:
            continue
        vals = [float(rows[i]["value"]) for i in group] if colored else None
        marker = dict(size=30, line=dict(width=1.5, color="white"))
        if colored:
            marker.update(color=vals, colorscale=COLORSCALE, showscale=True)
            marker["colorbar"] = dict(title=dict(text=plain(figure_title), side="right"), thickness=14, len=0.9)
            if len(set(vals)) == 1:  # one colour for one value, not the scale's end
                marker.update(cmin=vals[0] - 1e-9, cmax=vals[0] + 1e-9)
        else:
            marker.update(color=MISSING_COLOR)
        fig.add_trace(
            go.Scatter(
                x=[pos[i][0] for i in group],
                y=[-pos[i][1] for i in group],
                mode="markers+text",
                marker=marker,
                text=[
                    f"<b>{plain(rows[i].get('version') or rows[i].get('name') or i[:8])}</b><br>"
                    f"{plain(rows[i].get('text') or 'n/a')}"
                    for i in group
                ],
                textposition="bottom center",
                textfont=dict(size=13),
                hovertext=[_hover(i, rows[i], figure_title) for i in group],
                hoverinfo="text",
                customdata=group,
                name="versions" if colored else "figure unknown",
            )
        )
    n_rows = max((p[1] for p in pos.values()), default=0) + 1
    n_cols = max((p[0] for p in pos.values()), default=0) + 1
    fig.update_layout(
        height=max(240, 120 * n_rows + 60),
        margin=dict(l=20, r=20, t=30, b=10),
        xaxis=dict(visible=False, range=[-0.5, n_cols - 0.5]),
        yaxis=dict(visible=False, range=[-n_rows + 0.2, 0.5]),
        showlegend=False,
        plot_bgcolor="white",
        title=dict(text=plain(figure_title), x=0, font=dict(size=14)),
    )
    return fig


def _groups(accuracy: Mapping) -> list[tuple[str, str, object]]:
    """(reference, "same tasks" / "overall", AccuracyChange) for each group the chart draws."""
    out = []
    for ref, change in accuracy.items():
        out.append((ref, "same tasks", change))
        if change.overall_before is not None or change.overall_after is not None:
            out.append((ref, "overall", change))
    return out


def accuracy_change_chart(accuracy: Mapping, before: str = "before", after: str = "after") -> go.Figure:
    """Accuracy against each reference before and after, with 95 % intervals, on the same tasks and overall.

    ``accuracy``: :attr:`analytics.metrics.lineage.LineageDiff.accuracy` (reference -> AccuracyChange:
    ``before`` / ``after`` on the tasks aggregated in both runs, ``overall_before`` / ``overall_after``
    each run's own figure); ``before`` / ``after`` name the two versions in the legend. Each group
    is a tick; its two points sit either side of it.
    """
    groups = _groups(accuracy)
    fig = go.Figure()
    for offset, side, name, color in ((-0.12, "before", before, PALETTE[6]), (0.12, "after", after, PALETTE[0])):
        xs, ys, lo, hi, hover = [], [], [], [], []
        for i, (ref, where, change) in enumerate(groups):
            share = getattr(change, side if where == "same tasks" else f"overall_{side}")
            if share is None or share.accuracy is None:
                continue
            xs.append(i + offset)
            ys.append(100 * share.accuracy)
            lo.append(100 * (share.accuracy - share.ci_low))
            hi.append(100 * (share.ci_high - share.accuracy))
            hover.append(
                f"{plain(name)} · {plain(ref)} ({where})<br>{100 * share.accuracy:.1f} % "
                f"(95 % CI {100 * share.ci_low:.1f}–{100 * share.ci_high:.1f} %)<br>"
                f"{share.correct:,} of {share.tasks:,} tasks right"
            )
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="markers",
                name=plain(name),
                marker=dict(size=12, color=color),
                error_y=dict(type="data", symmetric=False, array=hi, arrayminus=lo, thickness=1.5, width=6),
                hovertext=hover,
                hoverinfo="text",
            )
        )
    ticks = [
        f"vs {plain(ref)}<br>{where}" + (f" ({change.before.tasks:,})" if where == "same tasks" else "")
        for ref, where, change in groups
    ]
    fig.update_layout(
        height=320,
        margin=dict(l=10, r=10, t=30, b=10),
        xaxis=dict(tickvals=list(range(len(groups))), ticktext=ticks, range=[-0.5, len(groups) - 0.5], title=""),
        yaxis=dict(title="accuracy (%)", ticksuffix=" %", gridcolor="#e6e9ef"),
        legend=dict(orientation="h", y=1.12, x=0),
        plot_bgcolor="white",
    )
    return fig
