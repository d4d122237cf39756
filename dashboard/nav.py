"""Pages, deep links and the version in the URL: every drill-down is a link someone can paste.

The query parameters are ``version`` (a dataset version id or a unique prefix), ``annotator``
(a worker id) and ``task`` (a task id). A page asks :func:`require_version` for its version;
an unknown id in the URL gets a clear message and the list of known versions, not a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from analytics.sources.store import DamagedVersionError, VersionInfo, matching
from dashboard import data, widgets

PAGES_DIR = Path(__file__).parent / "views"


@dataclass(frozen=True)
class PageSpec:
    file: str
    title: str
    icon: str
    url_path: str
    section: str

    @property
    def path(self) -> str:
        # st.page_link resolves paths relative to the entry script (dashboard/app.py)
        return f"views/{self.file}"


SPECS = [
    PageSpec("versions.py", "Versions", ":material/folder_open:", "versions", "Dataset versions"),
    PageSpec("import_run.py", "Import", ":material/upload_file:", "import", "Dataset versions"),
    PageSpec("overview.py", "Overview", ":material/dashboard:", "overview", "Run"),
    PageSpec("exam.py", "Exam", ":material/quiz:", "exam", "Run"),
    PageSpec("annotators.py", "Annotators", ":material/groups:", "annotators", "Run"),
    PageSpec("agreement.py", "Agreement", ":material/handshake:", "agreement", "Run"),
    PageSpec("labels.py", "Labels", ":material/label:", "labels", "Run"),
    PageSpec("cost.py", "Cost", ":material/payments:", "cost", "Run"),
    PageSpec("live.py", "Live monitor", ":material/monitor_heart:", "live", "Run"),
    PageSpec("annotator.py", "Annotator detail", ":material/person:", "annotator", "Drill-down"),
    PageSpec("task.py", "Task detail", ":material/image:", "task", "Drill-down"),
]
BY_FILE = {s.file: s for s in SPECS}


def navigation_pages() -> dict[str, list]:
    """The st.navigation mapping of every page in SPECS (the one list of pages: the router and the
    tests both use it, so a page file that goes missing fails loudly instead of dropping out)."""
    out: dict[str, list] = {}
    for i, s in enumerate(SPECS):
        if not (PAGES_DIR / s.file).is_file():
            raise FileNotFoundError(
                f"The page {s.title!r} is listed in dashboard/nav.py SPECS but {s.path} is missing."
            )
        out.setdefault(s.section, []).append(
            st.Page(PAGES_DIR / s.file, title=s.title, icon=s.icon, url_path=s.url_path, default=i == 0)
        )
    return out


def link(
    file: str, label: str | None = None, *, icon: str | None = None, help: str | None = None, **params: str | None
) -> None:
    """A link to another page with query parameters (None values are left out)."""
    spec = BY_FILE[file]
    qp = {k: str(v) for k, v in params.items() if v is not None}
    st.page_link(spec.path, label=label or spec.title, icon=icon or spec.icon, query_params=qp or None, help=help)


def url(file: str, **params: str | None) -> str:
    """A relative URL to a page with query parameters (for LinkColumn cells in tables)."""
    from urllib.parse import urlencode

    qp = {k: str(v) for k, v in params.items() if v is not None}
    return f"/{BY_FILE[file].url_path}" + (f"?{urlencode(qp)}" if qp else "")


def param(name: str) -> str | None:
    value = st.query_params.get(name)
    return value if value not in (None, "") else None


def version_picker(listing) -> VersionInfo | None:
    """The sidebar's version selector; writes the choice into the URL."""
    versions = list(listing.versions)
    if not versions:
        return None
    current = param("version")
    ids = [v.id for v in versions]
    by_id = {v.id: v for v in versions}
    match = matching(versions, current) if current else []
    index = ids.index(match[0].id) if len(match) == 1 else len(ids) - 1

    def _changed():
        st.query_params["version"] = st.session_state["_version_pick"]

    st.sidebar.selectbox(
        "Dataset version",
        ids,
        index=index,
        format_func=lambda i: f"{by_id[i].label}{'  (simulated)' if by_id[i].simulated else ''}  ·  {i[:8]}",
        key="_version_pick",
        on_change=_changed,
    )
    return by_id[ids[index]]


def require_version(page: str) -> VersionInfo:
    """The version named in the URL (or the newest one); stops the page with a message otherwise.

    ``page`` is the calling page's file name, so the offered versions link back to it.
    """
    ls = data.listing(str(data.workspace_root()))
    wanted = param("version")
    if not ls.versions:
        st.info("The workspace has no dataset versions yet.")
        link("import_run.py", "Import a Toloka export")
        st.stop()
    if wanted:
        damaged = [d for d in ls.damaged if d.id and matching([d], wanted)]
        matches = matching(ls.versions, wanted)
        if not matches and damaged:
            _stop_damaged(damaged[0].reason, damaged[0].file, damaged[0].fix)
        if len(matches) != 1:
            what = "No dataset version has" if not matches else "More than one dataset version matches"
            st.error(f"{what} the id {widgets.md_code(wanted)} given in the link. Pick one of the versions below.")
            for v in ls.versions:
                link(page, f"{v.label} · {v.id[:8]}", version=v.id)
            st.stop()
        version = matches[0]
    else:
        version = ls.versions[-1]
    try:
        data.current_run(version.id)
    except DamagedVersionError as err:
        st.error(f"This dataset version cannot be opened: {widgets.md_escape(err)}", icon=":material/broken_image:")
        st.stop()
    if version.simulated:
        st.caption(":material/science: **Simulated demo data** — generated, not real annotators.")
    return version


def _stop_damaged(reason: str, file: str, fix: str) -> None:
    st.error(
        f"This dataset version is damaged: {widgets.md_escape(reason)} (file {widgets.md_code(file)}). "
        f"Fix: {widgets.md_escape(fix)}",
        icon=":material/broken_image:",
    )
    st.stop()


def require_param(
    name: str, what: str, known: "set[str] | None" = None, back: str | None = None, version: str | None = None
) -> str:
    """A drill-down parameter (annotator, task) that must be present and known to the run."""
    value = param(name)
    if value is None:
        st.info(f"Open this page from a {what} link (it needs {widgets.md_code(name)} in the URL).")
        if back:
            link(back, version=version)
        st.stop()
    if known is not None and value not in known:
        st.error(
            f"There is no {what} {widgets.md_code(value)} in this dataset version. "
            "Check the link, or pick one from the list."
        )
        if back:
            link(back, version=version)
        st.stop()
    return value
