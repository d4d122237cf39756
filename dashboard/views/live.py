"""Live monitor: a running Toloka pool's progress (with credentials), and the run's own progress over time."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics.metrics import progress
from analytics.settings import TOKEN_VARIABLE
from analytics.sources.toloka import TolokaAPIError, TolokaConfigError
from dashboard import charts, data, nav, widgets

version = nav.require_version("live.py")
run = data.current_run(version.id)
st.title("Live monitor")
st.caption(f"{widgets.text(version.label)} · id {widgets.md_code(version.id)}")

settings = data.toloka_settings()
configured = settings.configured()  # name -> where it came from (never a value)


def show_progress(p) -> None:
    cur = p.currency
    c = st.columns(4)
    c[0].metric(
        "Pool status",
        widgets.text(p.status, "n/a"),
        help=f"pool {widgets.text(p.pool_id)}" + (f" · {widgets.text(p.name)}" if p.name else ""),
    )
    total = "n/a" if p.total_assignments is None else f"{p.total_assignments:,}"
    c[1].metric(
        "Task suites submitted",
        f"{p.submitted_assignments:,} of {total}",
        help="submitted, accepted and rejected suites, of those the pool needs (its tasks × overlap)",
    )
    c[2].metric("Annotators", "n/a" if p.workers is None else f"{p.workers:,}", help="who submitted at least one suite")
    c[3].metric(
        f"Active (last {p.window_hours:g} h)",
        f"{p.active_workers:,}",
        help="annotators who submitted a suite in the window",
    )
    c = st.columns(4)
    c[0].metric(
        "Rate",
        f"{p.rate_per_hour:,.1f} suites / h",
        help=f"suites submitted in the last {p.window_hours:g} h, per hour",
    )
    c[1].metric("Spent on rewards", widgets.money(p.spent_rewards, cur), help="as Toloka reports it, fee excluded")
    c[2].metric("Spent with fee", widgets.money(p.spent_total, cur), help="rewards plus the platform fee rate")
    c[3].metric(
        "Estimated finish",
        "n/a" if p.estimated_finish is None else p.estimated_finish.strftime("%Y-%m-%d %H:%M UTC"),
        help="now + suites left / current rate",
    )
    if p.percent_done is not None:
        st.progress(min(1.0, max(0.0, p.percent_done / 100)), text=f"{p.percent_done:.1f} % done")
    status = pd.DataFrame({"status": list(p.by_status), "task suites": [int(v) for v in p.by_status.values()]})
    st.dataframe(
        status,
        hide_index=True,
        width="content",
        column_config={"task suites": st.column_config.NumberColumn("task suites", format="%d")},
    )
    for n in p.notes:
        st.caption(f":material/info: {widgets.text(data.scrub(n))}")
    source = "pool analytics" if p.source == "analytics" else "assignments (counted)"
    st.caption(f"As of {p.as_of.strftime('%Y-%m-%d %H:%M:%S UTC')} · figures from Toloka's {source}.")


def read_pool(pool_id: str, window: float) -> object:
    """The pool's progress, or the scrubbed words of why Toloka could not be read (never the token)."""
    with st.spinner(f"Asking Toloka for pool {pool_id}…"):
        try:
            return data.live_pool_progress(pool_id, window_hours=window)
        except (TolokaAPIError, TolokaConfigError) as err:
            return data.scrub(str(err))
        except Exception as err:  # toloka-kit or the network: say so, never crash the page
            return f"Toloka could not be read ({type(err).__name__}): {data.scrub(str(err))[:300]}"


# ---- the running pool, from Toloka
st.subheader("Running pool (Toloka)")
if TOKEN_VARIABLE not in configured:
    st.info(
        "Live figures need a Toloka API token, and none is configured. Put it in `.streamlit/secrets.toml` "
        "(never committed) or in the `TOLOKA_TOKEN` environment variable before starting the dashboard; "
        '`TOLOKA_ENVIRONMENT = "SANDBOX"` reads the sandbox, `TOLOKA_URL` a private endpoint. The token is only '
        "handed to toloka-kit: it is never shown or logged. Until then, the run's own progress is below."
    )
    st.code(
        "# .streamlit/secrets.toml\n"
        'TOLOKA_TOKEN = "<your OAuth token from Toloka: Profile > Integrations>"\n'
        '# TOLOKA_ENVIRONMENT = "SANDBOX"',
        language="toml",
    )
else:
    target = (
        f"endpoint {settings.url.value}" if settings.url.value else f"{settings.environment.value.upper()} environment"
    )
    where = configured[TOKEN_VARIABLE]
    st.caption(f":material/key: Token from {widgets.md_code(where)} (not shown) · Toloka {widgets.text(target)}")
    pools = [p.pool_id for p in run.meta.pools if p.kind != "exam"] or [p.pool_id for p in run.meta.pools]
    default = nav.param("pool") or (pools[0] if pools else "")
    c = st.columns([2, 1, 1])
    pool_id = (
        c[0]
        .text_input(
            "Pool id", value=default, key="live_pool", help="The Toloka pool to follow (this run's pool by default)"
        )
        .strip()
    )
    window = c[1].selectbox(
        "Window", [0.5, 1.0, 3.0, 6.0, 24.0], index=1, format_func=lambda h: f"last {h:g} h", key="live_window"
    )
    refresh = c[2].button(":material/refresh: Refresh", key="live_refresh", width="stretch")
    if not pool_id:
        st.info("Enter a pool id.")
    elif not pool_id.isdigit():
        st.error(f"A Toloka pool id is a number; {widgets.md_code(pool_id)} is not one.")
    else:
        key = f"live::{pool_id}::{window}"
        if refresh or key not in st.session_state:
            st.session_state[key] = read_pool(pool_id, window)
        result = st.session_state[key]
        if isinstance(result, str):
            st.error(widgets.text(result))  # the server's words: shown as text
        else:
            show_progress(result)

# ---- the run's own progress
st.subheader("This run's progress")
freq = st.radio("Period", progress.FREQS, index=1, horizontal=True, key="live_freq")
tp = widgets.available(data.metric(version.id, "throughput", freq=freq))
if tp is not None:
    busy = tp[tp["answers"] > 0]
    last = tp.iloc[-1]
    c = st.columns(4)
    period = {"15min": "quarter hour", "1h": "hour", "6h": "6 hours", "1D": "day"}.get(freq, freq)
    c[0].metric(
        f"Answers per {period}",
        f"{busy['answers'].mean():,.1f}",
        help=f"mean over the {len(busy):,} periods with answers "
        f"({int(tp['answers'].sum()):,} answers with a submit time)",
    )
    c[1].metric(
        f"Busiest {period} (answers)",
        f"{int(tp['answers'].max()):,}",
        help=f"starting {tp['answers'].idxmax():%Y-%m-%d %H:%M} UTC",
    )
    c[2].metric(
        "Active annotators, peak",
        f"{int(tp['active_annotators'].max()):,}",
        help=f"distinct annotators who submitted in one {period}",
    )
    c[3].metric(
        f"Active annotators, last {period}",
        f"{int(last['active_annotators']):,}",
        help=f"the {period} starting {tp.index[-1]:%Y-%m-%d %H:%M} UTC",
    )
    st.caption(
        f"From {tp.index[0]:%Y-%m-%d %H:%M} to {tp.index[-1]:%Y-%m-%d %H:%M} UTC, by submit time; "
        f"{len(tp):,} periods of one {period}, {len(busy):,} with answers. "
        f"Last {period}: {int(last['answers']):,} answers by {int(last['active_annotators']):,} annotators."
    )
    st.plotly_chart(charts.throughput_chart(tp), width="stretch")

st.markdown("**Submitted against expected, per pool**")
comp = widgets.available(data.metric(version.id, "pool_completion"))
if comp is not None:
    st.dataframe(
        comp.reset_index(),
        hide_index=True,
        width="stretch",
        placeholder=widgets.EMPTY_CELL,
        column_config={
            "pool_id": st.column_config.TextColumn("pool"),
            "name": st.column_config.TextColumn("pool name"),
            "kind": st.column_config.TextColumn("pool kind"),
            "tasks": st.column_config.NumberColumn("tasks", format="%d"),
            "overlap": st.column_config.NumberColumn(format="%d"),
            "expected_answers": st.column_config.NumberColumn("expected answers", format="%d", help="tasks × overlap"),
            "submitted_answers": st.column_config.NumberColumn("submitted answers", format="%d"),
            "accepted_answers": st.column_config.NumberColumn("accepted answers", format="%d"),
            "done": st.column_config.ProgressColumn("done", format="percent", min_value=0.0, max_value=1.0),
        },
    )
    st.caption(
        "Expected = distinct tasks answered in the pool × its overlap "
        "(— for an exam pool, where every candidate answers every item). "
        "Submitted counts labeled answers in submitted, accepted or rejected suites."
    )
