"""What every chart shares: escaped data text, category and count axes, the palette, the verdicts' colours."""

from __future__ import annotations

import html
import math

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
    task_id = str(task_id)
    return plain(task_id if len(task_id) <= n + 1 else task_id[:n] + "…")


def short_unique(ids, n: int = 10) -> list[str]:
    """Ids as distinct tick texts of at most about ``n`` characters, escaped for plotly.

    A category axis merges equal texts, so two ids cut to the same start keep their ends
    ("a1b2c3…9f" / "a1b2c3…7e") and any still equal get " #2", " #3"; short ids stay whole.

    >>> short_unique(["896", "1053", "worker-aaaaaaaa-1", "worker-aaaaaaaa-2"])
    ['896', '1053', 'worker…a-1', 'worker…a-2']
    """
    names = [str(i) for i in ids]
    head, tail = max(1, n - 4), 3
    cut = [s if len(s) <= n + 1 else f"{s[:head]}…{s[-tail:]}" for s in names]
    seen: dict[str, int] = {}
    out = []
    for c in cut:
        seen[c] = seen.get(c, 0) + 1
        out.append(c if seen[c] == 1 else f"{c} #{seen[c]}")
    return plains(out)


def category_axis(title: str, n: int | None = None, **kw) -> dict:
    """A plotly axis of categories (ids, labels, methods, versions): each value is a text tick,
    never a number on a linear scale ("896", "0"/"1" would otherwise be plotted as numbers).
    With ``n`` categories up to 80, every one gets its tick."""
    axis = dict(type="category", title=title, **kw)
    if n is not None and n <= 80:
        axis["dtick"] = 1
    return axis


def nice_step(max_value: float, ticks: int = 6) -> int:
    """An integer tick step (1, 2, 5 × 10^k) giving about ``ticks`` ticks up to ``max_value``.

    >>> [nice_step(v) for v in (3, 18, 105, 2400)]
    [1, 5, 20, 500]
    """
    if not math.isfinite(max_value) or max_value <= ticks:
        return 1
    raw = max_value / ticks
    mag = 10 ** math.floor(math.log10(raw))
    return int(next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw))


def count_axis(title: str, max_count: float, **kw) -> dict:
    """A plotly axis of counts (tasks, candidates, answers): whole-number ticks from 0
    ("6, 12, 18", never "6, 12.1, 18.1")."""
    top = float(max_count) if max_count == max_count else 0.0
    return dict(title=title, tickformat=",d", tick0=0, dtick=nice_step(top), rangemode="tozero", **kw)
