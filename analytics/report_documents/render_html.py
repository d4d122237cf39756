"""The report document as one self-contained HTML page: plotly's JavaScript inlined once in the head.

Nothing is loaded from elsewhere when the page is opened: no CDN, no web font, no remote image
(a Content-Security-Policy in the head lets the page load nothing but what it holds). Every string
from the data goes through :func:`html.escape`; the charts' data is plotly's own JSON (which writes
``<`` as ``\\u003c``) with data text escaped for plotly (figures.plain).
"""

from __future__ import annotations

import html

import plotly.graph_objects as go
import plotly.io as pio
import plotly.offline

from analytics.report_documents.model import Document, Fact, Section, Table, groups

# the page may run its own inline script and styles and show data: images; it may fetch nothing
CSP = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
    "img-src data:; font-src data:; connect-src 'none'; base-uri 'none'; form-action 'none'"
)
CHART_CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}

CSS = """
:root { --ink: #1f2733; --muted: #5b6678; --line: #dde2ea; --accent: #2f6fde; --soft: #f4f6fa; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff;
       font: 15px/1.5 "DejaVu Sans", "Segoe UI", Helvetica, Arial, sans-serif; }
main { max-width: 1080px; margin: 0 auto; padding: 32px 28px 48px; }
h1 { font-size: 28px; margin: 0 0 2px; }
h2 { font-size: 20px; margin: 36px 0 8px; padding-top: 14px; border-top: 1px solid var(--line); }
.project { color: var(--muted); margin: 0 0 10px; font-size: 16px; }
.badge { display: inline-block; background: #fff4d6; color: #7a5400; border: 1px solid #f3d27a;
         border-radius: 4px; padding: 1px 8px; font-size: 13px; margin-left: 8px; vertical-align: middle; }
.meta { color: var(--muted); font-size: 13px; margin: 0 0 18px; }
.meta span + span::before { content: " · "; }
.summary { font-size: 19px; line-height: 1.45; margin: 14px 0 18px; }
.facts { display: grid; margin-bottom: 12px; grid-template-columns: repeat(auto-fit, minmax(190px, 1fr)); gap: 12px; }
.fact { background: var(--soft); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.fact .label { font-size: 13px; color: var(--muted); text-transform: uppercase; letter-spacing: .03em; }
.fact .value { font-size: 26px; font-weight: 700; margin: 2px 0; white-space: nowrap; }
.fact .detail { font-size: 13px; color: var(--muted); }
.fact.unknown .value { font-size: 19px; color: var(--muted); font-weight: 600; }
.facts.small { margin-top: 12px; }
.facts.small .fact { background: #fff; padding: 8px 12px; }
.facts.small .value { font-size: 19px; }
table { border-collapse: collapse; margin: 10px 0; font-size: 14px; min-width: 50%; }
th, td { padding: 5px 12px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr:last-child td { border-bottom: 0; }
.note { color: var(--muted); font-size: 13px; margin: 4px 0; }
.chart { margin: 6px 0; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; margin: 8px 0; }
dt { color: var(--muted); } dd { margin: 0; overflow-wrap: anywhere; }
footer { color: var(--muted); font-size: 12px; margin-top: 40px; }
@media print { main { max-width: none; padding: 0; } h2 { break-after: avoid; } .chart, table { break-inside: avoid; } }
"""


def e(text: object) -> str:
    """Data as HTML text (and attribute values)."""
    return html.escape(str(text), quote=True)


def _fact(f: Fact) -> str:
    cls = "fact" if f.known else "fact unknown"
    return (
        f'<div class="{cls}"><div class="label">{e(f.label)}</div><div class="value">{e(f.value)}</div>'
        f'<div class="detail">{e(f.detail)}</div></div>'
    )


def _table(t: Table) -> str:
    numeric = t.numeric or (False,) * len(t.header)

    def cell(tag: str, i: int, text: str) -> str:
        return f'<{tag} class="num">{e(text)}</{tag}>' if numeric[i] else f"<{tag}>{e(text)}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(t.header))
    body = "".join("<tr>" + "".join(cell("td", i, c) for i, c in enumerate(row)) + "</tr>" for row in t.rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _chart(fig: go.Figure, key: str) -> str:
    div = pio.to_html(
        fig, include_plotlyjs=False, full_html=False, config=CHART_CONFIG, div_id=f"chart-{key}", default_width="100%"
    )
    return f'<div class="chart">{div}</div>'


def _section(s: Section, doc: Document) -> str:
    parts = [f'<section id="{e(s.key)}"><h2>{e(s.title)}</h2>']
    parts += [f"<p>{e(p)}</p>" for p in s.paragraphs]
    if s.figure and s.figure in doc.figures:
        parts.append(_chart(doc.figures[s.figure], s.figure))
    if s.table is not None:
        parts.append(_table(s.table))
    parts += [f'<p class="note">{e(n)}</p>' for n in s.notes]
    parts.append("</section>")
    return "\n".join(parts)


def _header(doc: Document) -> str:
    badge = '<span class="badge">simulated data</span>' if doc.simulated else ""
    meta = dict(doc.provenance)
    shown = [
        meta.get("Version", ""),
        f"id {meta['Version id']}" if "Version id" in meta else "",
        f"created {meta['Version created']}" if "Version created" in meta else "",
        f"generated {meta.get('Report generated', '')}",
    ]
    line = "".join(f"<span>{e(x)}</span>" for x in shown if x)
    project = f'<p class="project">{e(doc.project)}</p>' if doc.project else ""
    return f'<header><h1>{e(doc.title)}{badge}</h1>{project}<p class="meta">{line}</p></header>'


def _about(doc: Document) -> str:
    rows = "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in doc.provenance)
    parts = ['<section id="about"><h2>About this report</h2>', f"<dl>{rows}</dl>"]
    if doc.unavailable:
        items = "".join(f"<li><b>{e(k)}</b>: {e(v)}</li>" for k, v in doc.unavailable)
        parts.append(f"<h3>Figures not available</h3><ul>{items}</ul>")
    parts.append("</section>")
    return "\n".join(parts)


def render(doc: Document) -> str:
    """The document as a self-contained HTML page (see the module docstring)."""
    rows = "".join(f'<div class="facts">{"".join(_fact(f) for f in row)}</div>' for row in groups(doc.answer))
    small = "".join(_fact(f) for f in doc.run_facts)
    answer = (
        f'<section id="answer"><p class="summary">{e(doc.summary)}</p>{rows}'
        f'<div class="facts small">{small}</div></section>'
    )
    body = "\n".join(_section(s, doc) for s in doc.sections)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{e(CSP)}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{e(doc.title)}</title>\n<style>{CSS}</style>\n"
        f'<script type="text/javascript">{plotly.offline.get_plotlyjs()}</script>\n'
        f"</head>\n<body>\n<main>\n{_header(doc)}\n{answer}\n{body}\n{_about(doc)}\n"
        "<footer>Made by crowdlens from the version's own data; every figure names the data it stands on."
        "</footer>\n</main>\n</body>\n</html>\n"
    )
