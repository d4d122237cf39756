"""Small shared widgets: tiles with units, paginated tables, metric-unavailable notes, money."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st


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


def paginated(df: pd.DataFrame, key: str, page_size: int = 50, **kwargs) -> None:
    """Show one page of a table; only that page is sent to the browser."""
    n = len(df)
    pages = max(1, math.ceil(n / page_size))
    if pages > 1:
        c1, c2 = st.columns([1, 4])
        page = c1.number_input("Page", min_value=1, max_value=pages, value=1, step=1, key=f"{key}_page")
        c2.caption(f"{n:,} rows · page {page} of {pages} · {page_size} rows a page")
    else:
        page = 1
    start = (page - 1) * page_size
    st.dataframe(df.iloc[start:start + page_size], hide_index=True, width="stretch", **kwargs)


def unavailable(err: Exception) -> None:
    """Say what cannot be shown and why (a MetricUnavailable's reason names the missing field)."""
    st.info(f"Not available for this run: {err}")
