"""The stakeholder report as a download (HTML or PDF) on the Overview and Cost pages, built when asked."""

from __future__ import annotations

import streamlit as st

from analytics.report_documents import ancestors, charts_missing, file_name, render_report
from analytics.sources.store import VersionInfo
from dashboard import data


@st.cache_resource(max_entries=8, show_spinner=False)
def _document(root: str, version_id: str, fmt: str, method: str) -> bytes:
    """The document's bytes, once per (version, format, method): versions are immutable."""
    listing = data.listing(root)
    info = listing.by_id().get(version_id)
    run = data.run(root, version_id)
    return render_report(fmt, run, info, method=method, lineage=ancestors(listing.versions, version_id))


def report_downloads(version: VersionInfo, *, key: str, method: str = "mv") -> None:
    """Buttons that build the report (HTML in seconds; PDF with its charts drawn by Chromium) and
    then offer it as a download; a PDF that cannot be drawn here says why and offers the HTML."""
    root = str(data.workspace_root())
    st.caption(
        "The report for stakeholders: spend, cost per final label and accuracy with its interval first, "
        "then the breakdown, bans, the cost-quality curve, agreement and labels, with the data behind each number."
    )
    cols = st.columns(2)
    for col, fmt, label in ((cols[0], "html", "HTML (opens offline)"), (cols[1], "pdf", "PDF")):
        state = f"{key}_{fmt}_{version.id}"
        if fmt == "pdf" and (why := charts_missing()):
            col.caption(f"PDF not available here: {why}")
            continue
        if not st.session_state.get(state):
            if col.button(f":material/description: Prepare the report as {label}", key=f"{state}_prepare"):
                st.session_state[state] = True
                st.rerun()
            continue
        with st.spinner(f"Writing the {fmt.upper()} report…"):
            body = _document(root, version.id, fmt, method)
        col.download_button(
            f":material/download: Download the report ({fmt.upper()})",
            data=body,
            file_name=file_name(version, fmt),
            mime={"html": "text/html", "pdf": "application/pdf"}[fmt],
            key=f"{state}_download",
        )
