"""The report as documents for stakeholders: one self-contained HTML page and a PDF, leading with the answer.

    from analytics.report_documents import report_html, report_pdf, write_report, ancestors

    html_text = report_html(run, version_info, lineage=ancestors(listing.versions, version_info.id))
    pdf_bytes = report_pdf(run, version_info)              # ChartRenderError where no Chromium is found
    write_report("report.pdf", run, version_info)          # the format from the suffix (or format=)

Both start from :func:`analytics.report.build_report` (the report JSON) and the metric registry's
results for the charts (analytics.report_documents.content / sections / figures); the HTML is
render_html, the PDF render_pdf with the charts drawn by images (kaleido + Chromium).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Iterable, Sequence

from analytics.model import Run
from analytics.report_documents import render_html, render_pdf
from analytics.report_documents.content import build_document
from analytics.report_documents.images import ChartRenderError
from analytics.report_documents.images import missing as charts_missing
from analytics.report_documents.model import Document
from analytics.sources.store import VersionInfo, lineage_order

FORMATS = ("html", "pdf")
MEDIA_TYPES = {"html": "text/html", "pdf": "application/pdf"}

__all__ = [
    "FORMATS",
    "MEDIA_TYPES",
    "ChartRenderError",
    "Document",
    "ancestors",
    "build_document",
    "charts_missing",
    "file_name",
    "render_report",
    "report_html",
    "report_pdf",
    "write_report",
]

When = dt.datetime | str | None


def report_html(
    run: Run,
    version_info: VersionInfo | None = None,
    *,
    method: str = "mv",
    lineage: Sequence[VersionInfo | str] = (),
    generated_at: When = None,
) -> str:
    """The report of ``run`` as one self-contained HTML page (nothing is fetched when it is opened).

    ``version_info`` names the version (name, version, id, created, parents); ``lineage`` its
    ancestors oldest first (VersionInfo, or ids; default: the parents' ids); ``method`` the
    aggregator (analytics.metrics.aggregation.METHODS); ``generated_at`` the date printed (now, UTC).
    """
    doc = build_document(run, version_info, method=method, lineage=lineage, generated_at=generated_at)
    return render_html.render(doc)


def report_pdf(
    run: Run,
    version_info: VersionInfo | None = None,
    *,
    method: str = "mv",
    lineage: Sequence[VersionInfo | str] = (),
    generated_at: When = None,
) -> bytes:
    """The report of ``run`` as PDF bytes, with the charts as images; the parameters as
    :func:`report_html`. Raises ChartRenderError where the charts cannot be drawn (no Chromium:
    ``charts_missing()`` says why beforehand)."""
    doc = build_document(run, version_info, method=method, lineage=lineage, generated_at=generated_at)
    return render_pdf.render(doc)


def render_report(
    fmt: str,
    run: Run,
    version_info: VersionInfo | None = None,
    *,
    method: str = "mv",
    lineage: Sequence[VersionInfo | str] = (),
    generated_at: When = None,
) -> bytes:
    """The document in ``fmt`` ("html" or "pdf") as bytes (HTML in UTF-8): what a download button serves."""
    if fmt not in FORMATS:
        raise ValueError(f"The report format must be one of {', '.join(FORMATS)}. Got {fmt!r} instead.")
    kwargs = dict(method=method, lineage=lineage, generated_at=generated_at)
    if fmt == "html":
        return report_html(run, version_info, **kwargs).encode("utf-8")
    return report_pdf(run, version_info, **kwargs)


def write_report(
    path: str | Path,
    run: Run,
    version_info: VersionInfo | None = None,
    *,
    format: str | None = None,  # noqa: A002 - the CLI's --format
    method: str = "mv",
    lineage: Sequence[VersionInfo | str] = (),
    generated_at: When = None,
) -> Path:
    """Write the document to ``path``; the format from ``format`` or the path's suffix (.html, .htm, .pdf)."""
    path = Path(path)
    fmt = format or {".htm": "html", ".html": "html", ".pdf": "pdf"}.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"Cannot tell the report format from {path.name!r}: give --format html or pdf.")
    data = render_report(fmt, run, version_info, method=method, lineage=lineage, generated_at=generated_at)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path


def file_name(version_info: VersionInfo | None, fmt: str) -> str:
    """A download's file name: food-types-1.1.0-report.pdf (safe characters only)."""
    stem = f"{version_info.name}-{version_info.version}" if version_info else "crowdlens"
    stem = re.sub(r"[^A-Za-z0-9._]+", "-", stem).strip("-.") or "crowdlens"
    return f"{stem}-report.{fmt}"


def ancestors(versions: Iterable[VersionInfo], version_id: str) -> list[VersionInfo | str]:
    """The ancestors of ``version_id`` oldest first (parents before children), for ``lineage=``;
    a parent not among ``versions`` is given by its id."""
    by_id = {v.id: v for v in versions}
    found: dict[str, VersionInfo | str] = {}
    todo = list(by_id[version_id].parents) if version_id in by_id else []
    while todo:
        pid = todo.pop()
        if pid in found or pid == version_id:
            continue
        found[pid] = by_id.get(pid, pid)
        if pid in by_id:
            todo.extend(by_id[pid].parents)
    known = [v for v in lineage_order(v for v in found.values() if isinstance(v, VersionInfo))]
    return [*[v for v in found.values() if isinstance(v, str)], *known]
