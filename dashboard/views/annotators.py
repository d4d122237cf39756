"""Annotators (QA): one row per annotator with the figures behind a ban, and the ban review."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics import reviews
from analytics.people import attach_decisions, filter_annotators
from dashboard import data, nav, widgets

version = nav.require_version("annotators.py")
st.title("Annotators")
base = widgets.available(data.metric(version.id, "annotator_table"))
if base is None:
    st.stop()
ws = data.workspace()


def recorded_decisions(worker: str | None = None) -> pd.DataFrame:
    """The QA decisions on this version (analytics.reviews); none, after an st.error, where they cannot be read."""
    try:
        return reviews.decisions(ws, version.id, worker)
    except (reviews.ReviewsError, ValueError) as err:
        st.error(widgets.md_escape(str(err)), icon=":material/error:")
        return pd.DataFrame(columns=list(reviews.COLUMNS))


table = attach_decisions(base, recorded_decisions())
MIN_CONTROL = data.default("control_accuracy", "min_answers")  # "enough" control answers
# the replayed and recorded bans, as the review shows them
BAN_COLUMNS = [
    "pool_id",
    "rule",
    "at",
    "evidence",
    "recorded_rule",
    "recorded_at",
    "recorded_reason",
    "agrees",
    "suites_after",
    "spend_after",
]

c = st.columns(5)
c[0].metric("Annotators", f"{len(table):,}", help="everyone with an answer of any kind, exam included")
c[1].metric("Banned", f"{int(table['banned'].sum()):,}", help="with a recorded restriction")
c[2].metric(
    "Replay would ban",
    f"{int(table['replayed_rule'].notna().sum()):,}",
    help="the pools' rules replayed over the answers",
)
c[3].metric(
    "Flagged, not banned",
    f"{int((table['flagged'] & ~table['banned']).sum()):,}",
    help="the replay bans them, no restriction was recorded",
)
c[4].metric(
    "Reviewed",
    f"{int(table['last_decision'].notna().sum()):,} / {int(table['flagged'].sum()):,}",
    help="annotators with a recorded QA decision / banned or flagged ones",
)
for figure, why in base.attrs.get("unavailable", {}).items():
    st.caption(f":material/info: {widgets.md_escape(figure.capitalize())} not available: {widgets.md_escape(why)}")

st.subheader("Every annotator")
f = st.columns([1.2, 1, 1.3, 1.5])
flagged_only = f[0].toggle("Banned or flagged only", key="flagged_only")
min_answers = f[1].number_input("Min answers", min_value=0, value=0, step=5, key="min_answers")
below = f[2].slider(
    "Control accuracy below (%)",
    0,
    100,
    100,
    step=5,
    key="acc_below",
    help="100 = no filter; annotators without control answers are left out otherwise",
)
search = f[3].text_input("Search annotator id", key="search", placeholder="part of an id")
s = st.columns([2, 1, 3])
SORTS = {
    "answers": "answers",
    "control accuracy": "control_accuracy",
    "agreement": "agreement",
    "median s/task": "median_seconds_per_task",
    "exam score": "exam_score",
    "annotator id": None,
}
sort = s[0].selectbox("Sort by (whole table)", list(SORTS), key="sort")
descending = s[1].toggle("Descending", value=True, key="descending")
shown = filter_annotators(
    table,
    flagged_only=flagged_only,
    min_answers=int(min_answers),
    accuracy_below=None if below >= 100 else below / 100,
    search=search,
)
key = SORTS[sort]
shown = (
    shown.sort_index(ascending=not descending)
    if key is None
    else shown.sort_values(key, ascending=not descending, na_position="last", kind="stable")
)
s[2].caption(f"{len(shown):,} of {len(table):,} annotators match. Column headers sort the shown page only.")


def _interval(lo, hi) -> list[str]:
    return ["" if lo_ != lo_ else f"{100 * lo_:.0f}–{100 * hi_:.0f} %" for lo_, hi_ in zip(lo, hi, strict=True)]


def _page(page: pd.DataFrame) -> pd.DataFrame:
    """Links and interval texts for the shown rows only (a 10^5-annotator table stays fast)."""
    return page.assign(
        open=[nav.url("annotator.py", version=version.id, annotator=w) for w in page["worker_id"]],
        control_ci=_interval(page["control_ci_low"], page["control_ci_high"]),
        agreement_ci=_interval(page["agreement_ci_low"], page["agreement_ci_high"]),
    )[columns]


view = shown.reset_index()
columns = [
    "open",
    "answers",
    "control_accuracy",
    "control_correct",
    "control_answers",
    "control_ci",
    "control_enough",
    "agreement",
    "agreement_answers",
    "agreement_ci",
    "median_seconds_per_task",
    "exam_score",
    "ban_status",
    "over_used_label",
    "last_decision",
]
widgets.paginated(
    view,
    key="annotators",
    prepare=_page,
    column_config={
        "open": st.column_config.LinkColumn(
            "annotator", display_text=r"annotator=([^&]+)", help="Open the annotator's answers"
        ),
        "answers": st.column_config.NumberColumn("answers", format="%d", help="every answer, exam included"),
        "control_accuracy": st.column_config.NumberColumn("control accuracy", format="percent"),
        "control_correct": st.column_config.NumberColumn("control right", format="%d"),
        "control_answers": st.column_config.NumberColumn("control answers", format="%d"),
        "control_ci": st.column_config.TextColumn("control 95 % CI"),
        "control_enough": st.column_config.CheckboxColumn(
            f"≥ {MIN_CONTROL} control", help="fewer control answers: too few to judge on"
        ),
        "agreement": st.column_config.NumberColumn(
            "agreement with MV", format="percent", help="share of answers equal to the majority-vote label"
        ),
        "agreement_answers": st.column_config.NumberColumn("on answers", format="%d"),
        "agreement_ci": st.column_config.TextColumn("agreement 95 % CI"),
        "median_seconds_per_task": st.column_config.NumberColumn("median s/task", format="%.1f s"),
        "exam_score": st.column_config.NumberColumn("exam score", format="percent"),
        "ban_status": st.column_config.TextColumn("ban", width="medium"),
        "over_used_label": st.column_config.TextColumn("over-uses label"),
        "last_decision": st.column_config.TextColumn("QA decision"),
    },
)
st.download_button(
    "Download these annotators (CSV)",
    shown.to_csv().encode("utf-8"),
    file_name=f"annotators-{version.id[:8]}.csv",
    mime="text/csv",
    icon=":material/download:",
    key="annotators_csv",
)

st.subheader("Ban review")
flash = st.session_state.pop("decision_flash", None)
if flash:
    st.success(flash, icon=":material/check_circle:")
candidates = list(table[table["flagged"]].index)
wanted = nav.param("annotator")
if wanted is not None and wanted in table.index and wanted not in candidates:
    candidates.insert(0, wanted)  # a pasted link to someone not flagged can still be reviewed
if not candidates:
    st.info("Nobody in this dataset version is banned or would be banned by the pools' rules.")
    st.stop()
worker = st.selectbox(
    "Banned or flagged annotator",
    candidates,
    index=candidates.index(wanted) if wanted in candidates else 0,
    key="review_annotator",
    format_func=lambda w: f"{w} · {table.loc[w, 'ban_status']}",
)
row = table.loc[worker]
nav.link("annotator.py", "All of this annotator's answers", version=version.id, annotator=worker)
control = widgets.rate_with_counts(
    row["control_correct"], row["control_answers"], row["control_ci_low"], row["control_ci_high"], "control answers"
)
st.caption(f"Status: {widgets.md_escape(row['ban_status'])} · control {control}")


def show_evidence(worker: str):
    """The evidence a ban rests on (rules.ban_evidence), or the recorded restrictions where the
    pools' rules cannot be replayed; returns what was shown (its hash is stored with a decision)."""
    evidence = widgets.available(data.metric(version.id, "ban_evidence", worker_id=worker))
    if evidence is None:
        run = data.current_run(version.id)
        recorded = run.restrictions[run.restrictions["worker_id"] == worker]
        st.dataframe(recorded, hide_index=True, width="stretch")
        return recorded
    currency = widgets.md_escape(data.current_run(version.id).pricing.currency)
    st.markdown("**The ban, replayed and recorded**")
    st.dataframe(
        evidence.bans[BAN_COLUMNS],
        hide_index=True,
        width="stretch",
        column_config={
            "rule": "replayed rule",
            "at": st.column_config.DatetimeColumn("replayed at (UTC)", format="YYYY-MM-DD HH:mm:ss"),
            "recorded_at": st.column_config.DatetimeColumn("recorded at (UTC)", format="YYYY-MM-DD HH:mm:ss"),
            "suites_after": st.column_config.NumberColumn("suites after", format="%d"),
            "spend_after": st.column_config.NumberColumn(
                "spend after",
                format="%.3f",
                help=f"paid after the ban moment, in {currency}",
            ),
        },
    )
    st.markdown(
        "**Their task suites** (ticked *in fast-rule window*: the suites the fast-response rule counted when it fired)"
    )
    widgets.paginated(
        evidence.suites,
        key="ev_suites",
        page_size=20,
        column_config={
            "seconds": st.column_config.NumberColumn("seconds", format="%.1f s"),
            "in_fast_window": st.column_config.CheckboxColumn("in fast-rule window"),
            "after_ban": st.column_config.CheckboxColumn("after the ban"),
        },
    )
    st.markdown("**Their control answers**")
    checks = ["right" if ok else "wrong" for ok in evidence.control["correct"]]
    widgets.paginated(
        evidence.control.assign(check=checks).drop(columns="correct"),
        key="ev_control",
        page_size=20,
        column_config={"in_control_window": st.column_config.CheckboxColumn("in golden-set window")},
    )
    return evidence


def record(worker: str, shown) -> None:
    """The decision form; a decision is stored with the full version id and the SHA-256 of the
    evidence shown (reviews.evidence_hash of the registry's ban_evidence, which anyone can recompute)."""
    with st.form("decision"):
        st.markdown("**Record a decision**")
        decision = st.radio("Decision", reviews.DECISIONS, horizontal=True, key="decision")
        reviewer = st.text_input("Reviewer", key="reviewer", placeholder="your name")
        note = st.text_area("Note", key="note", placeholder="what you checked, what it showed")
        submitted = st.form_submit_button("Record decision", icon=":material/gavel:")
    if not submitted:
        return
    try:
        reviews.record_decision(ws, version.id, worker, decision, reviewer, note, evidence=reviews.evidence_hash(shown))
    except (ValueError, reviews.ReviewsError) as err:  # a refused input or a failed write: said, never a traceback
        st.error(widgets.md_escape(str(err)), icon=":material/error:")
        return
    st.session_state["decision_flash"] = (
        f"Recorded “{widgets.md_escape(decision)}” on {widgets.md_escape(worker)} "
        f"by {widgets.md_escape(reviewer.strip())}."
    )
    st.rerun()


record(worker, show_evidence(worker))
history = recorded_decisions(worker)
st.markdown(f"**Decision history** ({len(history):,})")
if len(history):
    st.dataframe(history[["decided_at", "decision", "reviewer", "note"]].iloc[::-1], hide_index=True, width="stretch")
else:
    st.caption("No decision recorded yet for this annotator.")
