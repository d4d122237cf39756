"""Pure plotly builders: analytics results in, figures out. No Streamlit, no computation of metrics."""

from __future__ import annotations

import html
from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go


def _plain(text) -> str:
    """Data (labels, ids, version names) as plotly text: plotly renders <b>, <a href>, <span
    style> and the like inside labels, ticks and hovers, so <, > and & are escaped (shown as is)."""
    return html.escape(str(text), quote=False)


def _plains(values) -> list[str]:
    return [_plain(v) for v in values]


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
            text=[_plain(n["label"]) for n in nodes],
            textposition="bottom center",
            hovertext=[_plain(n.get("hover", n["label"])) for n in nodes],
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
        yaxis=dict(title="answers per period"),
        yaxis2=dict(title="active annotators", overlaying="y", side="right", rangemode="tozero", showgrid=False),
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
            y=f.index,
            orientation="h",
            marker_color=[colors.get(s, PALETTE[6]) for s in f.index],
            text=[f"{a:,} answers · {s:,} suites" for a, s in zip(f["answers"], f["assignments"])],
            textposition="auto",
            hovertemplate="%{y}: %{x:,} answers<extra></extra>",
        )
    )
    fig.update_layout(height=60 + 40 * len(f), margin=dict(l=10, r=10, t=10, b=10), xaxis=dict(title="answers"))
    return fig


# ---- people pages (Exam, Annotator detail)

VERDICT_COLORS = {
    "trap": PALETTE[3],
    "check item": PALETTE[1],
    "works": PALETTE[0],
    "easy": PALETTE[6],
    "too few answers": "#c3c9d3",
}


def _short(task_id: str, n: int = 10) -> str:
    """An id cut to ``n`` characters (plus …), escaped for plotly (see _plain)."""
    return _plain(task_id if len(task_id) <= n + 1 else task_id[:n] + "…")


def exam_item_chart(items, verdicts) -> go.Figure:
    """Pass rate per exam item with its 95 % Wilson interval, lowest first, coloured by verdict.

    ``items``: metrics.exam.exam_item_pass_rate; ``verdicts``: metrics.people.item_verdicts. A
    dashed line marks the median item; items with a low pass rate carry a "low" marker text.
    """
    t = items.join(verdicts).sort_values("pass_rate", kind="stable")
    fig = go.Figure()
    for verdict, color in VERDICT_COLORS.items():
        f = t[t["verdict"] == verdict]
        if not len(f):
            continue
        fig.add_trace(
            go.Scatter(
                x=100 * f["pass_rate"],
                y=[_short(i) for i in f.index],
                mode="markers+text",
                name=verdict,
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
                text=[
                    f"{k}/{n}" + ("  low" if low else "")
                    for k, n, low in zip(f["correct"], f["answers"], f["low_pass_rate"])
                ],
                textposition="middle right",
                customdata=list(
                    zip(
                        _plains(f.index),
                        100 * f["ci_low"],
                        100 * f["ci_high"],
                        _plains(f["golden"].astype(str)),
                        f["discrimination"],
                        f["reading"],
                    )
                ),
                hovertemplate="item %{customdata[0]}<br>pass rate %{x:.1f} % (95 % CI %{customdata[1]:.1f}–%{customdata[2]:.1f} %)"
                "<br>%{text}<br>golden: %{customdata[3]}<br>discrimination %{customdata[4]:.2f}<br>%{customdata[5]}<extra></extra>",
            )
        )
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
        xaxis=dict(title="candidates who get the item right (%, 95 % Wilson interval)", range=[0, 105]),
        yaxis=dict(title="exam item", autorange="reversed"),
        legend=dict(orientation="h", y=1.06, title="verdict"),
    )
    return fig


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
                text=[_short(i, 8) if verdict != "works" else "" for i in f.index],
                textposition="top center",
                marker=dict(size=11, color=color),
                customdata=list(zip(_plains(f.index), f["candidates"])),
                hovertemplate="item %{customdata[0]}<br>pass rate %{x:.1f} %<br>discrimination %{y:.2f} over %{customdata[1]} candidates<extra></extra>",
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
    fig = go.Figure()
    groups = [
        ("passed", PALETTE[2], s["passed"] == True),
        ("failed", PALETTE[1], s["passed"] == False),
        ("no threshold", PALETTE[0], s["passed"].isna()),
    ]  # noqa: E712
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
        xaxis=dict(title="exam score (% of items right)"),
        yaxis=dict(title="candidates"),
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
            x=_plains(shares.index),
            y=100 * shares["others_share"],
            name="everyone else",
            marker_color="#b8c2d6",
            hovertemplate="%{x}: %{y:.1f} % of the others' answers<extra></extra>",
        )
    )
    fig.add_trace(
        go.Bar(
            x=_plains(shares.index),
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
        xaxis=dict(title="label"),
        yaxis=dict(title="% of regular answers"),
    )
    return fig


# ---- quality and cost pages (Agreement, Labels, Cost)


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
        yaxis=dict(title="tasks"),
    )
    return fig


def agreement_heatmap(matrix, value: str = "kappa") -> go.Figure:
    """Annotator x annotator matrix (metrics.agreement.agreement_matrix); blank where a pair
    shares too few tasks. Axis labels are shortened ids; the hover shows the full ones."""
    names = _plains(matrix.index)
    short = [n if len(n) <= 10 else n[:8] + "…" for n in names]
    title = {"kappa": "Cohen's κ", "agreement": "share agreeing", "shared": "shared tasks"}[value]
    zmin, zmax = (-1.0, 1.0) if value == "kappa" else (0.0, 1.0) if value == "agreement" else (0.0, None)
    fig = go.Figure(
        go.Heatmap(
            z=matrix.to_numpy(dtype=float),
            x=short,
            y=short,
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
        xaxis=dict(tickangle=-60, title="annotator"),
        yaxis=dict(autorange="reversed", title="annotator"),
    )
    return fig


def accuracy_by_method(frame) -> go.Figure:
    """Accuracy of each aggregator against a reference with its 95 % interval. ``frame``: one row
    per method with columns method, accuracy, ci_low, ci_high, correct, tasks."""
    y = 100 * frame["accuracy"].to_numpy(dtype=float)
    fig = go.Figure(
        go.Scatter(
            x=list(frame["method"]),
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
            customdata=list(zip(frame["correct"], frame["tasks"])),
            hovertemplate="%{x}: %{y:.1f} % (%{customdata[0]:,} of %{customdata[1]:,} tasks)<extra></extra>",
        )
    )
    import numpy as np

    # dots with intervals need no zero baseline: zoom to the intervals so differences show
    low = float(np.nanmin(100 * frame["ci_low"].to_numpy(dtype=float))) if len(frame) else 0.0
    bottom = max(0.0, 5 * np.floor((low - 3) / 5)) if np.isfinite(low) else 0.0
    fig.update_layout(
        height=300,
        margin=dict(l=10, r=10, t=10, b=10),
        xaxis=dict(title="aggregator", range=[-0.5, len(frame) - 0.2]),
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
                x=_plains(frame.index),
                y=100 * frame[col].to_numpy(dtype=float),
                name=_plain(name),
                marker_color=PALETTE[i % len(PALETTE)],
                customdata=counts.to_numpy(),
                text=[f"{int(c):,}" for c in counts.to_numpy()],
                textposition="outside",
                hovertemplate="%{x}: %{y:.1f} % (%{customdata:,})<extra>" + _plain(name) + "</extra>",
            )
        )
    fig.update_layout(
        barmode="group",
        height=320,
        margin=dict(l=10, r=10, t=10, b=10),
        legend=dict(orientation="h", y=1.12),
        xaxis=dict(title="label"),
        yaxis=dict(title=y_title),
    )
    return fig


def label_bias_heatmap(diff) -> go.Figure:
    """Annotators (rows) x labels (columns): their share of a label minus everyone else's, in
    percentage points (labels.LabelUse.shares["difference_pp"] unstacked)."""
    names = _plains(diff.index)
    short = [n if len(n) <= 10 else n[:8] + "…" for n in names]
    lim = float(max(10.0, abs(diff.to_numpy(dtype=float)).max() if diff.size else 10.0))
    fig = go.Figure(
        go.Heatmap(
            z=diff.to_numpy(dtype=float),
            x=_plains(diff.columns),
            y=short,
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
        yaxis=dict(autorange="reversed", title="annotator"),
        xaxis=dict(title="label"),
    )
    return fig


def cost_by_version_chart(frame, currency: str) -> go.Figure:
    """Cost per final label per version (metrics.cost.compare_versions_cost; index version)."""
    currency = _plain(currency)
    y = frame["cost_per_final_label"].to_numpy(dtype=float)
    fig = go.Figure(
        go.Bar(
            x=_plains(frame.index),
            y=y,
            marker_color=PALETTE[0],
            customdata=list(zip(frame["total"], frame["final_labels"])),
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
        xaxis=dict(title="dataset version"),
        yaxis=dict(title=f"cost per final label ({currency})", rangemode="tozero"),
    )
    return fig


def cost_quality_chart(points, currency: str, reference: str = "golden") -> go.Figure:
    """The cost-quality curve (metrics.curve.cost_quality_curve().points): subsampled accuracy
    at overlap 1..K with its spread over repeats (bars: min–max) and 95 % interval (band), the
    model's accuracy at every k (dashed beyond K: a projection), cost per label on the ticks."""
    currency = _plain(currency)
    ks = list(points.index)
    obs = points[points["basis"] == "subsampled"]
    col = f"{reference}_accuracy"
    cost = points["cost_per_final_label"] if "cost_per_final_label" in points else points["cost_per_label"]
    fig = go.Figure()
    if obs[col].notna().any():
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
                customdata=list(zip(obs[f"{reference}_tasks"].astype("float"), cost[obs.index])),
                hovertemplate="overlap %{x}: %{y:.1f} % (mean over repeats; %{customdata[0]:,.0f} tasks)<br>%{customdata[1]:.4f} "
                + currency
                + " a final label<extra></extra>",
            )
        )
    if reference == "golden" and points["model_accuracy"].notna().any():
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
    ticks = [f"{k}<br>{c:.4f} {currency}" if c == c else f"{k}" for k, c in zip(ks, cost)]
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
