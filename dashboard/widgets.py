"""Small shared widgets: tiles with units, paginated tables, metric-unavailable notes, money."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import streamlit as st

from analytics.metrics import MetricUnavailable


def money(x: float | None, currency: str = "USD", digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:,.{digits}f} {currency}"


def pct(x: float | None, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{100 * x:.{digits}f} %"


def count(n: int | None, unit: str) -> str:
    if n is None:
        return "n/a"
    return f"{n:,} {unit}"


def paginated(df: pd.DataFrame, key: str, page_size: int = 50, prepare=None, **kwargs) -> None:
    """Show one page of a table; only that page is sent to the browser.

    ``prepare`` (a function of the page's rows returning the frame to show) adds what is costly
    per row, such as link URLs, to the shown rows only: on 10^6 rows building every URL on each
    rerun would take seconds."""
    n = len(df)
    pages = max(1, math.ceil(n / page_size))
    if pages > 1:
        c1, c2 = st.columns([1, 4])
        page = c1.number_input("Page", min_value=1, max_value=pages, value=1, step=1, key=f"{key}_page")
        c2.caption(f"{n:,} rows · page {page} of {pages} · {page_size} rows a page")
    else:
        page = 1
    start = (page - 1) * page_size
    view = df.iloc[start : start + page_size]
    if prepare is not None:
        view = prepare(view)
    view = plain_categories(view)
    st.dataframe(view, hide_index=True, width="stretch", **kwargs)


def plain_categories(frame: pd.DataFrame) -> pd.DataFrame:
    """Categorical columns as their values: a categorical goes to the browser with all its
    categories (a page of 50 answers would carry a run's 10^6 task ids)."""
    cats = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    if not cats:
        return frame
    return frame.assign(**{c: frame[c].astype(object) for c in cats})


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


def md_escape(text: object) -> str:
    """``text`` with Markdown's special characters escaped, for ids and inputs inside st.markdown /
    st.title / st.caption (no link, image, icon or formatting can come out of data)."""
    out = []
    for ch in str(text):
        if ch in "\\`*_{}[]()<>#+-.!|:~$=\"'":
            out.append("\\" + ch)
        elif ch in "\r\n":
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


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
    """A table as UTF-8 CSV (what the download buttons send): the same rows and columns as shown."""
    return df.to_csv(index=index).encode("utf-8")


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
    st.code(text, language=None, wrap_lines=True)
    if is_http:
        st.link_button("Open the address", text.strip(), icon=":material/open_in_new:", key=f"open_input_{field}")


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
LARGE_RUN_ANSWERS = 2_000_000


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
    key: str, label: str, note: str, *, needed: bool, spinner: str, compute, button_key: str | None = None
):
    """``compute()`` where run_on_request allows it (under a spinner when it was ``needed``), else
    None: the button and its note are shown instead."""
    if not run_on_request(key, label, note, needed=needed, button_key=button_key):
        return None
    if not needed:
        return compute()
    with st.spinner(spinner):
        return compute()
