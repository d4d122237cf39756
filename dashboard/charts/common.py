"""What every chart shares: data shown as plotly text (escaped), the palette, the exam verdicts' colours."""

from __future__ import annotations

import html

PALETTE = ["#2f6fde", "#e4572e", "#29a36a", "#f3a712", "#8e44ad", "#16a2b8", "#7f8c8d", "#c0392b"]

VERDICT_COLORS = {
    "trap": PALETTE[3],
    "check item": PALETTE[1],
    "works": PALETTE[0],
    "easy": PALETTE[6],
    "too few answers": "#c3c9d3",
}


def plain(text) -> str:
    """Data (labels, ids, version names) as plotly text: plotly renders <b>, <a href>, <span
    style> and the like inside labels, ticks and hovers, so <, > and & are escaped (shown as is)."""
    return html.escape(str(text), quote=False)


def plains(values) -> list[str]:
    return [plain(v) for v in values]


def short(task_id: str, n: int = 10) -> str:
    """An id cut to ``n`` characters (plus …), escaped for plotly (see plain)."""
    return plain(task_id if len(task_id) <= n + 1 else task_id[:n] + "…")
