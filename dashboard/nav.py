"""Pages, deep links and the version in the URL: every drill-down is a link someone can paste.

The query parameters are ``version`` (a dataset version id or a unique prefix), ``annotator``
(a worker id) and ``task`` (a task id). A page asks :func:`require_version` for its version;
an unknown id in the URL gets a clear message and the list of known versions, not a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd
import streamlit as st

from analytics.metrics import position
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
    PageSpec("compare.py", "Compare versions", ":material/compare_arrows:", "compare", "Dataset versions"),
    PageSpec("import_run.py", "Import", ":material/upload_file:", "import", "Dataset versions"),
    PageSpec("overview.py", "Overview", ":material/dashboard:", "overview", "Run"),
    PageSpec("exam.py", "Exam", ":material/quiz:", "exam", "Run"),
    PageSpec("annotators.py", "Annotators", ":material/groups:", "annotators", "Run"),
    PageSpec("qa.py", "Rules & audit", ":material/policy:", "rules-audit", "Run"),
    PageSpec("agreement.py", "Agreement", ":material/handshake:", "agreement", "Run"),
    PageSpec("labels.py", "Labels", ":material/label:", "labels", "Run"),
    PageSpec("cost.py", "Cost", ":material/payments:", "cost", "Run"),
    PageSpec("delivery.py", "Delivery", ":material/local_shipping:", "delivery", "Run"),
    PageSpec("live.py", "Live monitor", ":material/monitor_heart:", "live", "Run"),
    PageSpec("annotator.py", "Annotator detail", ":material/person:", "annotator", "Drill-down"),
    PageSpec("task.py", "Task detail", ":material/image:", "task", "Drill-down"),
]
BY_FILE = {s.file: s for s in SPECS}


def navigation_pages() -> dict[str, list]:
    """The st.navigation mapping of every page in SPECS (the one list of pages: the router and the
    tests both use it, so a page file that goes missing fails loudly instead of dropping out).

    The root URL is a page of its own that forwards to Versions, so that every listed page,
    Versions included, has its own path (``/versions`` is not "Page not found")."""
    out: dict[str, list] = {}
    for s in SPECS:
        if not (PAGES_DIR / s.file).is_file():
            raise FileNotFoundError(
                f"The page {s.title!r} is listed in dashboard/nav.py SPECS but {s.path} is missing."
            )
        out.setdefault(s.section, []).append(
            st.Page(PAGES_DIR / s.file, title=s.title, icon=s.icon, url_path=s.url_path)
        )
    home = st.Page(_home, title="crowdlens", icon=":material/troubleshoot:", url_path="home", default=True)
    out[SPECS[0].section].insert(0, home)
    return out


def _home() -> None:
    st.switch_page(SPECS[0].path, query_params=dict(st.query_params.to_dict()) or None)


def page_file(url_path: str) -> str:
    """The views/ file of a page's URL path (the root page forwards to the first page)."""
    return next((s.file for s in SPECS if s.url_path == url_path), SPECS[0].file)


def _with_source(params: dict[str, str]) -> dict[str, str]:
    """``params`` with the versions' source (a ClearML project) kept in every link, as the version is."""
    from dashboard import sources

    return {**sources.current().params(), **params}


def link(
    file: str, label: str | None = None, *, icon: str | None = None, help: str | None = None, **params: str | None
) -> None:
    """A link to another page with query parameters (None values are left out); it opens in the same tab."""
    spec = BY_FILE[file]
    qp = _with_source({k: str(v) for k, v in params.items() if v is not None})
    st.page_link(spec.path, label=label or spec.title, icon=icon or spec.icon, query_params=qp or None, help=help)


def url(file: str, **params: str | None) -> str:
    """A relative URL to a page with query parameters (for LinkColumn cells in tables; Streamlit opens
    those in a new tab: :func:`row_links` opens a row's page in the same tab)."""
    from urllib.parse import urlencode

    qp = {k: str(v) for k, v in params.items() if v is not None}
    return f"/{BY_FILE[file].url_path}" + (f"?{urlencode(qp)}" if qp else "")


def param(name: str) -> str | None:
    value = st.query_params.get(name)
    return value if value not in (None, "") else None


def url_version(listing) -> VersionInfo | None:
    """The version the URL names (an id or a unique prefix), else the newest; None for an empty
    workspace or a URL naming no single version (require_version then says so on the page)."""
    versions = list(listing.versions)
    if not versions:
        return None
    wanted = param("version")
    if not wanted:
        return versions[-1]
    found = matching(versions, wanted)
    return found[0] if len(found) == 1 else None


def version_picker(listing) -> VersionInfo | None:
    """The sidebar's version selector; writes the choice into the URL (the page's own selections,
    which belong to the version left, are dropped)."""
    versions = list(listing.versions)
    current = url_version(listing)
    if current is None:
        return None
    ids = [v.id for v in versions]
    by_id = {v.id: v for v in versions}
    if st.session_state.get("_version_pick") != current.id:
        st.session_state["_version_pick"] = current.id

    def _changed():
        st.query_params.clear()
        st.query_params["version"] = st.session_state["_version_pick"]

    st.sidebar.selectbox(
        "Dataset version",
        ids,
        format_func=lambda i: f"{by_id[i].label}{'  (simulated)' if by_id[i].simulated else ''}  ·  {i[:8]}",
        key="_version_pick",
        on_change=_changed,
    )
    if param("version") != current.id:
        st.query_params["version"] = current.id  # the URL names the version shown, in full
    return current


def menu(version: VersionInfo | None, user=None) -> None:
    """The sidebar's pages ``user`` may open (dashboard.auth), each link carrying the version shown
    (st.navigation's own menu drops it)."""
    qp = _with_source({"version": version.id} if version is not None else {}) or None
    section = None
    for s in SPECS if user is None else [s for s in SPECS if user.may_open(s.file)]:
        if s.section != section:
            section = s.section
            st.caption(section)
        st.page_link(s.path, label=s.title, icon=s.icon, query_params=qp)


def plural(n: int, noun: str) -> str:
    """ "1 annotator", "2 annotators", "1,234 tasks": a count with its noun in the right number
    (the last word takes the plural: "1 banned annotator", "3 banned annotators")."""
    n = int(n)
    if n == 1:
        return f"1 {noun}"
    head, _, last = noun.rpartition(" ")
    last = last[:-1] + "ies" if last.endswith("y") and last[-2:-1] not in "aeiou" else last + "s"
    return f"{n:,} {(head + ' ' if head else '') + last}"


def tab_title(page_title: str, version: VersionInfo | None) -> str:
    """The browser tab's text: "Annotators · food-types 1.1.0 · crowdlens"."""
    return " · ".join([page_title, *([version.label] if version is not None else []), "crowdlens"])


def choice(name: str, options: Sequence, default: Any = None) -> int:
    """The index of the option the URL's ``?name=`` names (compared as text), else of ``default``
    (else 0): a page widget starts from the URL; :func:`keep` writes its value back."""
    texts = [str(o) for o in options]
    wanted = param(name)
    if wanted in texts:
        return texts.index(wanted)
    return texts.index(str(default)) if default is not None and str(default) in texts else 0


def keep(name: str, value: Any) -> None:
    """Write a page selection into the URL, so the link someone copies opens exactly this view."""
    text = None if value is None else ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
    if text in (None, ""):
        if name in st.query_params:
            del st.query_params[name]
    elif st.query_params.get(name) != text:
        st.query_params[name] = text


def require_version(page: str) -> VersionInfo:
    """The version named in the URL (or the newest one); stops the page with a message otherwise.

    ``page`` is the calling page's file name, so the offered versions link back to it.
    """
    ls = data.current_listing()
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


# above this many, a picker is a text box with previous/next (a selectbox sends every option to the browser)
PICKER_MAX_OPTIONS = 20_000


def pick(name: str, what: str, options: Sequence[str], format_func=str) -> str:
    """The drill-down's subject (``?annotator=``, ``?task=``): a searchable picker of ``options``
    (in their list's order) with previous / next, starting from the URL and writing the choice back.
    With no such parameter the first option is shown; an id that is not in ``options`` is said on
    the page and the picker offers the others."""
    # a pd.Index of millions of task ids is looked up through its hash table, never turned into a
    # list (a rerun would pay seconds for it)
    names = options if isinstance(options, pd.Index) else pd.Index([str(o) for o in options])
    if names.dtype != object and not pd.api.types.is_string_dtype(names.dtype):
        names = names.astype(str)
    if len(names) == 0:
        st.info(f"This dataset version has no {what}s to show.")
        st.stop()
    wanted = param(name)

    def where(option) -> int:
        return position(names, option) if option is not None else -1

    if wanted is not None and where(wanted) < 0:
        st.error(
            f"There is no {what} {widgets.md_code(wanted)} in this dataset version. "
            f"Pick one of its {len(names):,} {what}s below."
        )
    key = f"_pick_{name}"
    current = wanted if where(wanted) >= 0 else st.session_state.get(key, str(names[0]))
    current = current if where(current) >= 0 else str(names[0])
    st.session_state[key] = current

    def _go(to: str) -> None:
        st.session_state[key] = to
        st.query_params[name] = to

    def _changed() -> None:
        chosen = str(st.session_state[key]).strip()
        if where(chosen) >= 0:
            st.query_params[name] = chosen

    i = where(current)
    c = st.columns([6, 1, 1], vertical_alignment="bottom")
    if len(names) <= PICKER_MAX_OPTIONS:
        c[0].selectbox(
            f"{what.capitalize()} ({i + 1:,} of {len(names):,}; type to search)",
            [str(o) for o in names],
            key=key,
            format_func=format_func,
            on_change=_changed,
        )
    else:
        c[0].text_input(f"{what.capitalize()} id ({i + 1:,} of {len(names):,})", key=key, on_change=_changed)
    prev_ = str(names[i - 1]) if i > 0 else None
    next_ = str(names[i + 1]) if i + 1 < len(names) else None
    c[1].button(
        "Previous", icon=":material/arrow_back:", disabled=prev_ is None, on_click=_go, args=(prev_,), key=f"{key}_prev"
    )
    c[2].button(
        "Next", icon=":material/arrow_forward:", disabled=next_ is None, on_click=_go, args=(next_,), key=f"{key}_next"
    )
    if wanted is not None and where(wanted) < 0:
        st.stop()  # the error above, and the picker to choose from
    if wanted is None:
        st.query_params[name] = current
    return current


def row_links(
    frame: pd.DataFrame,
    key: str,
    file: str,
    *,
    param_name: str,
    id_column: str,
    what: str,
    params: Mapping[str, str] | None = None,
    **table_kwargs: Any,
) -> None:
    """A table (widgets.table: searched on the server, a bounded window sent) whose rows open a page
    in the same tab: click a row and its ``id_column`` value goes to ``file`` as ``?param_name=``,
    with ``params`` (the version). ``what`` names the rows ("annotators")."""
    widgets.table(
        frame,
        key,
        noun=f"{what}s" if " " not in what else "rows",
        open_page=(BY_FILE[file].path, param_name, id_column, dict(params or {})),
        **table_kwargs,
    )
