"""Small shared widgets: data shown as text, searchable bounded tables, metric-unavailable notes, money."""

from __future__ import annotations

import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any, Mapping

import numpy as np
import pandas as pd
import streamlit as st
from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

from analytics.metrics import MetricUnavailable, aggregation


def money(x: float | None, currency: str = "USD", digits: int = 2) -> str:
    """An amount with its currency, for Markdown (a metric, a caption): the currency is data, so it
    goes through :func:`text`; md_escape of the result leaves it as it is."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:,.{digits}f} {text(currency)}"


def pct(x: float | None, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{100 * x:.{digits}f} %"


def count(n: int | None, unit: str) -> str:
    if n is None:
        return "n/a"
    return f"{n:,} {unit}"


# rows a table sends at first, and at most after "show more" (a scrolling window, never the whole table)
TABLE_ROWS = 50
TABLE_MAX_ROWS = 1_000
EMPTY_CELL = "—"  # what a missing value reads in a table cell (never "None")


def human(column: str) -> str:
    """A column's code name as words, for a column no page named: ``pool_id`` -> "pool id"."""
    return str(column).replace("_", " ")


def search_rows(df: pd.DataFrame, query: str, columns=None) -> pd.DataFrame:
    """The rows of ``df`` where any text column (or a named index) holds ``query``, case-insensitive.

    Server-side and cheap on 10^6 rows: a categorical column is searched in its categories, then
    matched by code; other text columns by pandas' vectorised ``str.contains``.
    """
    q = str(query).strip()
    if not q or df.empty:
        return df
    cols = list(columns) if columns is not None else [c for c in df.columns if _is_text(df[c])]
    hit = np.zeros(len(df), dtype=bool)
    for c in cols:
        hit |= _contains(df[c], q)
    if df.index.name is not None and not isinstance(df.index, pd.RangeIndex):
        hit |= _contains(pd.Series(df.index, index=df.index), q)
    return df[hit]


def _is_text(col: pd.Series) -> bool:
    return isinstance(col.dtype, pd.CategoricalDtype) or col.dtype == object or pd.api.types.is_string_dtype(col)


def _contains(col: pd.Series, q: str) -> np.ndarray:
    if isinstance(col.dtype, pd.CategoricalDtype):
        found = col.cat.categories.astype(str).str.contains(q, case=False, regex=False)
        return np.isin(col.cat.codes.to_numpy(), np.flatnonzero(found))
    return col.astype(str).str.contains(q, case=False, regex=False).to_numpy(dtype=bool)


def table(
    df: pd.DataFrame,
    key: str,
    *,
    rows: int = TABLE_ROWS,
    search: bool = True,
    search_columns=None,
    prepare=None,
    column_config: dict | None = None,
    noun: str = "rows",
    open_page: tuple[str, str, str, Mapping[str, str]] | None = None,
    **kwargs,
) -> pd.DataFrame:
    """A long table as a search box, the matching rows and a bounded scrolling window of them.

    ``open_page`` = (page path, query parameter, id column, other query parameters) makes each row
    a link that opens that page in the same tab (a click on the row: a LinkColumn would open a new
    tab), e.g. ("views/task.py", "task", "task_id", {"version": v}).

    The search filters ``df`` here, on the server (:func:`search_rows`); the first ``rows``
    matches are sent (more on request, up to TABLE_MAX_ROWS), with "showing N of M" above them,
    so a 10^6-row table never goes to the browser. ``prepare`` (a function of the shown rows
    returning the frame to show) adds what is costly per row, such as link URLs, to those rows
    only. Columns without a ``column_config`` entry get their code name as words; missing values
    read "—". Returns every matching row (what a download should hold).
    """
    long = len(df) > rows
    bar = st.columns([2, 3, 1], vertical_alignment="center") if long else None
    query = ""
    if search and long:
        query = bar[0].text_input(
            f"Search the {len(df):,} {noun}",
            key=f"{key}_search",
            placeholder=f"search the {len(df):,} {noun}",
            icon=":material/search:",
            label_visibility="collapsed",
        )
    found = search_rows(df, query, search_columns)
    more = st.session_state.get(f"{key}_more", 1)
    limit = min(rows * more, TABLE_MAX_ROWS)
    view = found.iloc[:limit]
    note = bar[1] if bar is not None else st
    if len(found) > len(view):
        hint = "refine the search to narrow them" if query else ("search to find the others" if search else "")
        note.caption(f"Showing the first {len(view):,} of {len(found):,} {noun}" + (f"; {hint}." if hint else "."))
        if limit < TABLE_MAX_ROWS and bar[2].button(f"Show {rows:,} more", key=f"{key}_more_button"):
            st.session_state[f"{key}_more"] = more + 1
            st.rerun()
    elif query:
        note.caption(f"{len(found):,} of {len(df):,} {noun} hold “{text(query)}”.")
    if prepare is not None:
        view = prepare(view)
    view = plain_categories(view)
    config = {c: human(c) for c in view.columns if "_" in str(c)} | dict(column_config or {})
    kwargs.setdefault("height", min(len(view), 15) * 35 + 38 if len(view) > 10 else "auto")
    if open_page is not None:
        kwargs.update(on_select="rerun", selection_mode="single-row")
    event = st.dataframe(view, hide_index=True, width="stretch", column_config=config, placeholder=EMPTY_CELL, **kwargs)
    if open_page is not None:
        _open_selected(event, view, open_page)
    return found


def _open_selected(event, view: pd.DataFrame, open_page: tuple[str, str, str, Mapping[str, str]]) -> None:
    """Open the page of the row clicked in a table drawn with ``open_page`` (same tab)."""
    path, param, column, params = open_page
    st.caption(":material/touch_app: Click a row to open it.")
    rows = getattr(getattr(event, "selection", None), "rows", None) or []
    if rows:
        st.switch_page(path, query_params={**dict(params), param: str(view[column].iloc[rows[0]])})


def paginated(df: pd.DataFrame, key: str, page_size: int = TABLE_ROWS, prepare=None, **kwargs) -> None:
    """A long table (kept for the pages that call it): :func:`table` with ``page_size`` rows at first."""
    table(df, key, rows=page_size, prepare=prepare, **kwargs)


def plain_categories(frame: pd.DataFrame) -> pd.DataFrame:
    """Categorical columns as their values: a categorical goes to the browser with all its
    categories (a page of 50 answers would carry a run's 10^6 task ids)."""
    cats = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    if not cats:
        return frame
    return frame.assign(**{c: _category_values(frame[c]) for c in cats})


def _category_values(column: pd.Series) -> np.ndarray:
    """A categorical's values as objects (None where missing), taking only the shown rows' categories
    (astype(object) would first turn all of a run's millions of categories into objects)."""
    codes = column.cat.codes.to_numpy()
    if len(column.cat.categories) == 0:
        return np.full(len(codes), None, dtype=object)
    values = np.asarray(column.cat.categories.take(np.maximum(codes, 0)), dtype=object)
    values[codes < 0] = None
    return values


def unavailable(err: Exception) -> None:
    """Say what cannot be shown and why (a MetricUnavailable's reason names the missing field)."""
    st.info(f"Not available for this run: {err}", icon=":material/info:")


def available(result: Any, *, quiet: bool = False) -> Any:
    """The one way a page shows a result-or-unavailable (what data.metric returns): the result, or
    None after saying why it is not available (nothing said with ``quiet``)."""
    if isinstance(result, MetricUnavailable):
        if not quiet:
            unavailable(result)
        return None
    return result


def text(value: object, empty: str = EMPTY_CELL) -> str:
    r"""The one way a value that came from data goes into Markdown: shown as text, never rendered.

    Labels, ids, names, descriptions, currency and reviewer text are typed by annotators and
    requesters; inside st.markdown / st.caption / st.title / st.info / st.error, a metric's label,
    value or help, or a widget's label, every character Markdown, HTML, KaTeX or Streamlit gives a
    meaning to (``**``, ``<b>``, ``$x$``, ``![](url)``, ``:red[]``, ``:material/…:``) is escaped,
    and line breaks become spaces. None, NaN and "" read ``empty`` (an em dash). For a block of
    data text use ``st.text`` or ``st.code`` (never parsed); in a table, a cell is already text.

    >>> print(text("**b** <b>x</b> $x^2$"))
    \*\*b\*\* \<b\>x\</b\> \$x^2\$
    >>> text(None)
    '—'
    """
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or str(value) == "":
        return empty
    return md_escape(value)


def md_escape(text: object) -> str:
    """``text`` with Markdown's special characters escaped, for ids and inputs inside st.markdown /
    st.title / st.caption (no link, image, icon or formatting can come out of data); see :func:`text`.

    A backslash already escaping a special character is kept as it is, so escaping twice (an
    escaped money() inside an escaped caption) shows the text once, never the backslashes.

    >>> md_escape(md_escape("**b**")) == md_escape("**b**")
    True
    """
    s = str(text)
    out = []
    i = 0
    while i < len(s):
        ch = s[i]
        if ch == "\\" and i + 1 < len(s) and s[i + 1] in _MD_SPECIAL:
            out.append(s[i : i + 2])
            i += 2
            continue
        out.append("\\" + ch if ch in _MD_SPECIAL else " " if ch in "\r\n" else ch)
        i += 1
    return "".join(out)


_MD_SPECIAL = frozenset("\\`*_{}[]()<>#+-.!|:~$=\"'&")


def rate_with_counts(
    k: int | float | None, n: int | float | None, low: float | None = None, high: float | None = None, unit: str = ""
) -> str:
    """ "50.5 % (53 of 105 answers; 95 % CI 41.1–59.8 %)": a rate with the counts behind it and,
    where given, its 95 % interval; "n/a (0 answers)" where n is 0."""
    if n is None or (isinstance(n, float) and math.isnan(n)) or n == 0:
        return f"n/a (0{' ' + unit if unit else ''})"
    text = f"{pct(k / n)} ({int(k):,} of {int(n):,}{' ' + unit if unit else ''}"
    if low is not None and high is not None and not (math.isnan(low) or math.isnan(high)):
        text += f"; 95 % CI {100 * low:.1f}–{100 * high:.1f} %"
    return text + ")"


def num(x: float | None, digits: int = 3) -> str:
    """A plain figure (alpha, kappa) with ``digits`` decimals, "n/a" where None or NaN."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:.{digits}f}"


def csv_bytes(df: pd.DataFrame, index: bool = False) -> bytes:
    """A table as UTF-8 CSV (what the download buttons send): the same rows and columns as shown.

    Written once per content in a session (the last few kept): every rerun draws the button, and
    writing a table of 10^4 annotators took most of a rerun; hashing its values takes a few ms."""
    key = (_fingerprint(df), index)
    memo = st.session_state.setdefault("_csv_memo", {})
    if key not in memo:
        while len(memo) >= 4:
            memo.pop(next(iter(memo)))
        memo[key] = df.to_csv(index=index).encode("utf-8")
    return memo[key]


def _fingerprint(df: pd.DataFrame) -> tuple:
    """The table's shape, names and a digest of every value and index entry (same content, same key)."""
    import hashlib

    values = pd.util.hash_pandas_object(df, index=True).to_numpy()
    names = tuple(map(str, df.columns)) + tuple(map(str, df.index.names))
    return df.shape, names, tuple(map(str, df.dtypes)), hashlib.sha256(values.tobytes()).hexdigest()


def download_csv(df: pd.DataFrame, file_name: str, key: str, label: str = "Download CSV", index: bool = False) -> None:
    """A download button for a table as CSV; the file holds every row, not only the page shown."""
    st.download_button(
        f":material/download: {label}",
        data=csv_bytes(df, index=index),
        file_name=file_name,
        mime="text/csv",
        key=key,
        help=f"{len(df):,} rows as CSV",
    )


IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".svg", ".avif", ".tif", ".tiff")


def task_input(field: str, value: object) -> None:
    """One task input field: an http(s) URL of an image is shown as the image (when the browser
    can load it) and always as the URL text with a link; anything else as plain text (inputs are
    data, never rendered as Markdown or HTML)."""
    from urllib.parse import urlparse

    st.markdown(f"**{md_escape(field)}**")
    if value is None or (isinstance(value, float) and math.isnan(value)) or str(value) == "":
        st.caption("empty")
        return
    text = str(value)
    parsed = urlparse(text.strip())
    is_http = parsed.scheme in ("http", "https") and bool(parsed.netloc)
    if is_http and (
        parsed.path.lower().endswith(IMAGE_EXTENSIONS)
        or any(w in field.lower() for w in ("image", "img", "photo", "picture"))
    ):
        try:
            st.image(
                text.strip(),
                width=420,
                caption="the image as the browser loads it (blank where it cannot reach the address)",
            )
        except Exception as err:  # a URL st.image rejects is still shown as text below
            st.caption(f"Could not show the image: {type(err).__name__}")
    local = None if is_http else local_image(text)
    if local is not None:
        st.image(local.read_bytes(), width=288, caption="the image, from the workspace")
    st.code(text, language=None, wrap_lines=True)
    if is_http:
        st.link_button("Open the address", text.strip(), icon=":material/open_in_new:", key=f"open_input_{field}")


def local_image(text: str):
    """The image file a task input names by a path relative to the workspace (the demo's
    ``media/...png``), or None: never a path outside the workspace, never anything fetched."""
    from pathlib import PurePosixPath

    from dashboard import data

    rel = PurePosixPath(text.strip())
    if rel.is_absolute() or ".." in rel.parts or rel.suffix.lower() not in IMAGE_EXTENSIONS:
        return None
    root = data.workspace_root()
    path = (root / rel).resolve()
    return path if path.is_file() and path.is_relative_to(root) else None


def md_code(text: object) -> str:
    """``text`` as an inline Markdown code span that nothing in it can end early (a fence longer
    than any run of backticks inside, CommonMark 6.1): for ids in st.error / st.caption."""
    import re

    body = str(text).replace("\r", " ").replace("\n", " ")
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    fence = "`" * (longest + 1)
    # CommonMark strips one space on each side, needed only when the body starts or ends with a backtick
    pad = " " if body.startswith("`") or body.endswith("`") or not body.strip() else ""
    return f"{fence}{pad}{body}{pad}{fence}"


# Above this many answers a figure that takes tens of seconds waits for a click (the page opens
# at once; the result is then cached for everyone opening the version).
LARGE_RUN_ANSWERS = aggregation.LARGE_RUN_ANSWERS


def run_on_request(key: str, label: str, note: str, *, needed: bool, button_key: str | None = None) -> bool:
    """True when a costly section may run: always where ``needed`` is False, else once its button
    was pressed in this session. Otherwise shows the button and ``note`` (what it costs)."""
    if not needed or st.session_state.get(key):
        return True
    c = st.columns([1, 3])
    if c[0].button(label, key=button_key or f"{key}_button"):
        st.session_state[key] = True
        return True
    c[1].caption(note)
    return False


def computed_on_request(
    key: str,
    label: str,
    note: str,
    *,
    needed: bool,
    spinner: str,
    compute,
    button_key: str | None = None,
    seconds: float | None = None,
    bound: bool = False,
):
    """``compute()`` where run_on_request allows it, else None (the button and its note are shown).

    A computation that was ``needed`` (slow here) runs inside an st.status that says what runs and,
    at the end, how long it took; given an estimate in ``seconds`` it also shows a bar filling
    with the time spent against the estimate (:func:`with_progress`); ``bound``: the estimate is an
    upper bound (an EM method's, for every iteration)."""
    if not run_on_request(key, label, note, needed=needed, button_key=button_key):
        return None
    if not needed:
        return compute()
    started = time.monotonic()
    with st.status(spinner, expanded=True) as status:
        result = with_progress(compute, seconds, spinner, bound) if seconds else compute()
        took = time.monotonic() - started
        estimated = f" (estimated {'up to ' if bound else ''}{max(seconds, 1):,.0f} s)" if seconds else ""
        status.update(
            label=f"{spinner.rstrip('…. ')} — done in {took:,.1f} s{estimated}", state="complete", expanded=False
        )
    return result


def with_progress(compute, seconds: float, what: str, bound: bool = False):
    """``compute()`` in a worker thread while a bar fills with the time spent over the estimate
    ``seconds`` (held at 95 % until it ends, and saying so when it runs past the estimate): a
    crowd-kit fit reports no progress of its own, so time is the honest measure."""
    ctx = get_script_run_ctx()

    def job():
        if ctx is not None:  # the cached loaders (data.current_run) need the session's context
            add_script_run_ctx(threading.current_thread(), ctx)
        return compute()

    about = "up to about" if bound else "about"
    bar = st.progress(0.0, text=f"{what} {about} {seconds:,.0f} s (estimated)")
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(job)
        while not future.done():
            spent = time.monotonic() - started
            late = spent > seconds
            bar.progress(
                min(0.95, spent / max(seconds, 0.1)),
                text=f"{spent:,.0f} s of {about} {seconds:,.0f} s (estimated)"
                + (" — taking longer than estimated, still running" if late else ""),
            )
            wait([future], timeout=0.25)
    bar.empty()
    return future.result()


def takes(method: str, seconds: float) -> str:
    """How long an aggregation takes, as a page says it (see aggregation.estimate_is_bound)."""
    if aggregation.estimate_is_bound(method):
        return (
            f"takes up to about {max(seconds, 1):,.0f} s (estimated for all {aggregation.DEFAULT_ITERATIONS} "
            "iterations; it stops sooner once converged)"
        )
    return f"takes about {max(seconds, 1):,.0f} s (estimated)"
