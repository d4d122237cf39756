"""Annotators (QA): one row per annotator with the figures behind a ban, and the ban review."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics import reviews
from analytics.people import attach_decisions, filter_annotators
from dashboard import auth, data, nav, widgets

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
        st.error(widgets.text(str(err)), icon=":material/error:")
        return pd.DataFrame(columns=list(reviews.COLUMNS))


table = attach_decisions(base, recorded_decisions())
MIN_CONTROL = data.default("control_accuracy", "min_answers")  # "enough" control answers
# the replayed and recorded bans, as the review shows them
BAN_COLUMNS = [
    "pool_id",
    "rule",
    "at",
    "recorded_rule",
    "recorded_at",
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
    st.caption(f":material/info: {widgets.text(figure.capitalize())} not available: {widgets.text(why)}")

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
s[2].caption(
    f"{len(shown):,} of {len(table):,} annotators match. The sort above orders the whole table; "
    "a column header sorts the rows shown."
)
# accuracy against the ground truth, where the run has one and the table carries it
has_truth = data.current_run(version.id).truth is not None and "truth_accuracy" in table.columns


def _interval(lo, hi) -> list[str]:
    return ["" if lo_ != lo_ else f"{100 * lo_:.0f}–{100 * hi_:.0f} %" for lo_, hi_ in zip(lo, hi, strict=True)]


def _page(page: pd.DataFrame) -> pd.DataFrame:
    """Links and interval texts for the shown rows only (a 10^5-annotator table stays fast)."""
    return page.assign(
        open=page["worker_id"].astype(str).to_numpy(),
        control_ci=_interval(page["control_ci_low"], page["control_ci_high"]),
        agreement_ci=_interval(page["agreement_ci_low"], page["agreement_ci_high"]),
        control_counts=_counts(page["control_correct"], page["control_answers"]),
        **(
            {
                "truth_ci": _interval(page["truth_ci_low"], page["truth_ci_high"]),
                "truth_counts": _counts(page["truth_correct"], page["truth_answers"]),
            }
            if has_truth
            else {}
        ),
    )[columns]


def _counts(k, n) -> list[str]:
    return ["" if not n_ or n_ != n_ else f"{int(k_):,} of {int(n_):,}" for k_, n_ in zip(k, n, strict=True)]


def _shown_columns() -> list[str]:
    """The columns worth a place on screen: a group whose figure no annotator has (no control
    tasks, no times, no exam) is left out; the counts read "9 of 10" in one column."""
    has = {
        "control": table["control_answers"].fillna(0).gt(0).any(),
        "speed": table["median_seconds_per_task"].notna().any(),
        "exam": table["exam_score"].notna().any(),
    }
    hidden = {"control_correct", "control_answers", "truth_correct", "truth_answers", "agreement_answers"}
    if not has["control"]:
        hidden |= {"control_accuracy", "control_counts", "control_ci", "control_enough"}
    if not has["speed"]:
        hidden.add("median_seconds_per_task")
    if not has["exam"]:
        hidden.add("exam_score")
    return [c for c in columns if c not in hidden]


view = shown.reset_index()
columns = [
    "open",
    "answers",
    "control_accuracy",
    "control_correct",
    "control_answers",
    "control_counts",
    "control_ci",
    "control_enough",
    *(["truth_accuracy", "truth_correct", "truth_answers", "truth_counts", "truth_ci"] if has_truth else []),
    "agreement",
    "agreement_answers",
    "agreement_ci",
    "median_seconds_per_task",
    "exam_score",
    "ban_status",
    "over_used_label",
    "last_decision",
]
widgets.table(
    view,
    key="annotators",
    search=False,  # the id search and the filters above narrow the table
    noun="annotators",
    prepare=_page,
    open_page=(nav.BY_FILE["annotator.py"].path, "annotator", "open", {"version": version.id}),
    column_order=_shown_columns(),
    column_config={
        "open": st.column_config.TextColumn(
            "annotator", help="a click on the row opens the annotator's answers", width="medium"
        ),
        "answers": st.column_config.NumberColumn("answers", format="%d", help="every answer, exam included"),
        "control_accuracy": st.column_config.NumberColumn("control accuracy", format="percent"),
        "control_correct": st.column_config.NumberColumn("control right", format="%d"),
        "control_answers": st.column_config.NumberColumn("control answers", format="%d"),
        "control_counts": st.column_config.TextColumn("control right", help="right of their control answers"),
        "truth_counts": st.column_config.TextColumn("truth right", help="right of their answers with a truth label"),
        "control_ci": st.column_config.TextColumn("control 95 % CI", help="Wilson interval; blank: no control answers"),
        "control_enough": st.column_config.CheckboxColumn(
            f"≥ {MIN_CONTROL} control", help="fewer control answers: too few to judge on"
        ),
        "truth_accuracy": st.column_config.NumberColumn(
            "accuracy vs truth", format="percent", help="share of their labeled answers equal to the ground truth"
        ),
        "truth_correct": st.column_config.NumberColumn("truth right", format="%d"),
        "truth_answers": st.column_config.NumberColumn("answers with truth", format="%d"),
        "truth_ci": st.column_config.TextColumn("truth 95 % CI", help="Wilson interval; blank: no answer with truth"),
        "agreement": st.column_config.NumberColumn(
            "agreement with MV",
            format="percent",
            help="share of answers equal to the majority-vote label; — : no regular answers to compare",
        ),
        "agreement_answers": st.column_config.NumberColumn("on answers", format="%d"),
        "agreement_ci": st.column_config.TextColumn("agreement 95 % CI", help="Wilson interval"),
        "median_seconds_per_task": st.column_config.NumberColumn("median s/task", format="%.1f s"),
        "exam_score": st.column_config.NumberColumn("exam score", format="percent"),
        "ban_status": st.column_config.TextColumn("ban", width="large"),
        "over_used_label": st.column_config.TextColumn("over-uses label"),
        "last_decision": st.column_config.TextColumn("QA decision"),
    },
)
st.download_button(
    "Download these annotators (CSV)",
    widgets.csv_bytes(shown, index=True),
    file_name=f"annotators-{version.id[:8]}.csv",
    mime="text/csv",
    icon=":material/download:",
    key="annotators_csv",
)

# ---- on the scale (issue #13): ordinal and numeric runs only
if data.current_run(version.id).meta.scale != "nominal":
    from dashboard.charts import bias_chart

    st.subheader("On the scale")
    scale_method = st.radio("Against the per-task", ["median", "mean"], horizontal=True, key="scale_errors_method")
    scale_errors = widgets.available(data.metric(version.id, "annotator_scale_error", method=scale_method))
    if scale_errors is not None and len(scale_errors):
        st.caption(
            f"Per annotator: mean absolute error (MAE) and signed bias (mean answer − reference; > 0 answers high) "
            f"against the control tasks' golden answers, the truth file and the task {scale_method}, with the "
            "answers compared. Bars: each annotator's bias against the aggregate, lowest first."
        )
        st.plotly_chart(bias_chart(scale_errors, "aggregate_bias"), width="stretch", key="scale_bias")
        scale_cols = [c for c in scale_errors.columns if not scale_errors[c.rsplit("_", 1)[0] + "_answers"].eq(0).all()]
        nav.row_links(
            scale_errors[scale_cols].sort_values("aggregate_bias", kind="stable").reset_index(),
            "scale_errors_table",
            "annotator.py",
            param_name="annotator",
            id_column="worker_id",
            what="annotator",
            params={"version": version.id},
            height=min(420, 38 + 35 * len(scale_errors)),
            column_config={"worker_id": st.column_config.TextColumn("annotator", help="Click the row to open them")}
            | {
                c: st.column_config.NumberColumn(widgets.human(c), format="%d" if c.endswith("_answers") else "%+.2f")
                for c in scale_cols
            },
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
nav.link("qa.py", "Test other thresholds, audit the golden labels, apply in Toloka", version=version.id)
control = widgets.rate_with_counts(
    row["control_correct"], row["control_answers"], row["control_ci_low"], row["control_ci_high"], "control answers"
)
st.caption(f"Status: {widgets.text(row['ban_status'])} · control {control}")
TIME = "YYYY-MM-DD HH:mm:ss"
RESTRICTION_CONFIG = {
    "worker_id": "annotator",
    "scope": "scope",
    "pool_id": "pool",
    "rule": "rule",
    "reason": "reason",
    "created_at": st.column_config.DatetimeColumn("recorded at (UTC)", format=TIME),
    "expires_at": st.column_config.DatetimeColumn("expires (UTC)", format=TIME),
}


def show_bans(evidence) -> None:
    """The replayed and recorded bans as a table, each ban's evidence sentence as text beneath it."""
    currency = widgets.text(data.current_run(version.id).pricing.currency)
    st.markdown("**The ban, replayed and recorded**")
    st.dataframe(
        evidence.bans[BAN_COLUMNS],
        hide_index=True,
        width="stretch",
        placeholder=widgets.EMPTY_CELL,
        column_config={
            "pool_id": "pool",
            "rule": "replayed rule",
            "at": st.column_config.DatetimeColumn("replayed at (UTC)", format=TIME),
            "recorded_rule": "recorded rule",
            "recorded_at": st.column_config.DatetimeColumn("recorded at (UTC)", format=TIME),
            "agrees": st.column_config.CheckboxColumn(
                "replay agrees", help="the same rule, recorded no earlier than the replayed moment allows"
            ),
            "suites_after": st.column_config.NumberColumn("suites after", format="%d"),
            "spend_after": st.column_config.NumberColumn(
                f"spend after ({currency})", format="%.3f", help=f"paid after the ban moment, in {currency}"
            ),
        },
    )
    st.caption("— in a cell: nothing replayed or recorded there (no rule fired, or no restriction was recorded).")
    for _, ban in evidence.bans.iterrows():
        if isinstance(ban["evidence"], str) and ban["evidence"]:
            st.markdown(f"**Why, {widgets.text(ban['rule'])}:** {widgets.text(ban['evidence'])}")
        if isinstance(ban["recorded_reason"], str) and ban["recorded_reason"]:
            st.markdown(f"**Recorded reason:** {widgets.text(ban['recorded_reason'])}")


def show_evidence(worker: str):
    """The evidence a ban rests on (rules.ban_evidence), or the recorded restrictions where the
    pools' rules cannot be replayed; returns what was shown (its hash is stored with a decision)."""
    evidence = widgets.available(data.metric(version.id, "ban_evidence", worker_id=worker))
    if evidence is None:
        run = data.current_run(version.id)
        recorded = run.restrictions[run.restrictions["worker_id"] == worker]
        st.dataframe(
            recorded, hide_index=True, width="stretch", column_config=RESTRICTION_CONFIG, placeholder=widgets.EMPTY_CELL
        )
        return recorded
    show_bans(evidence)
    st.markdown(
        "**Their task suites** (ticked *in fast-rule window*: the suites the fast-response rule counted when it fired)"
    )
    suites = evidence.suites
    widgets.table(
        suites.assign(control=_counts(suites["control_correct"], suites["control_answers"])),
        key="ev_suites",
        rows=20,
        noun="task suites",
        column_order=[
            *("assignment_id", "status", "tasks", "submitted_at", "seconds", "fast", "control"),
            *("in_fast_window", "after_ban"),
        ],
        column_config={
            "control": st.column_config.TextColumn("control right", help="right of the suite's control answers"),
            "assignment_id": "task suite",
            "pool_id": "pool",
            "started_at": st.column_config.DatetimeColumn("started (UTC)", format=TIME),
            "submitted_at": st.column_config.DatetimeColumn("submitted (UTC)", format=TIME),
            "tasks": st.column_config.NumberColumn("tasks", format="%d"),
            "seconds": st.column_config.NumberColumn("duration", format="%.1f s"),
            "fast": st.column_config.CheckboxColumn("fast", help="faster than the fast-response rule's limit"),
            "control_answers": st.column_config.NumberColumn("control answers", format="%d"),
            "control_correct": st.column_config.NumberColumn("control right", format="%d"),
            "in_fast_window": st.column_config.CheckboxColumn("in fast-rule window"),
            "after_ban": st.column_config.CheckboxColumn("after the ban"),
        },
    )
    st.markdown("**Their control answers**")
    checks = ["right" if ok else "wrong" for ok in evidence.control["correct"]]
    widgets.table(
        evidence.control.assign(check=checks).drop(columns="correct"),
        key="ev_control",
        rows=20,
        noun="control answers",
        column_config={
            "assignment_id": "task suite",
            "pool_id": "pool",
            "submitted_at": st.column_config.DatetimeColumn("submitted (UTC)", format=TIME),
            "task_id": "task",
            "golden": "known answer",
            "label": "their label",
            "in_control_window": st.column_config.CheckboxColumn("in golden-set window"),
        },
    )
    return evidence


def record(worker: str, shown) -> None:
    """The decision form; a decision is stored with the full version id and the SHA-256 of the
    evidence shown (reviews.evidence_hash of the registry's ban_evidence, which anyone can recompute).
    Signed in, the reviewer is the signed-in e-mail; auth.record_decision refuses a role without the right."""
    user = auth.current_user()
    if not user.may("record_decision"):
        st.info(
            f"Your account ({widgets.text(user.label)}) may read the evidence but not record decisions "
            "(that needs the qa or admin role).",
            icon=":material/lock:",
        )
        return
    with st.form("decision"):
        st.markdown("**Record a decision**")
        decision = st.radio("Decision", reviews.DECISIONS, horizontal=True, key="decision")
        if user.local:
            typed = st.text_input("Reviewer", key="reviewer", placeholder="your name")
        else:
            typed = None
            st.caption(f"Recorded as {widgets.text(user.label)} (signed in).")
        note = st.text_area("Note", key="note", placeholder="what you checked, what it showed")
        submitted = st.form_submit_button("Record decision", icon=":material/gavel:")
    if not submitted:
        return
    try:
        saved = auth.record_decision(
            user, ws, version.id, worker, decision, note, evidence=reviews.evidence_hash(shown), typed_reviewer=typed
        )
    except (ValueError, reviews.ReviewsError, auth.NotAllowed) as err:  # refused or failed: said, never a traceback
        st.error(widgets.text(str(err)), icon=":material/error:")
        return
    st.session_state["decision_flash"] = (
        f"Recorded “{widgets.text(decision)}” on {widgets.text(worker)} by {widgets.text(saved.reviewer)}. "
        "The form is cleared for the next decision."
    )
    for field in ("decision", "reviewer", "note"):  # a saved decision leaves an empty form
        st.session_state.pop(field, None)
    st.rerun()


record(worker, show_evidence(worker))
history = recorded_decisions(worker)
st.markdown(f"**Decision history** ({len(history):,})")
if len(history):
    st.dataframe(
        history[["decided_at", "decision", "reviewer", "note"]].iloc[::-1],
        hide_index=True,
        width="stretch",
        placeholder=widgets.EMPTY_CELL,
        column_config={
            "decided_at": st.column_config.TextColumn("decided (UTC)"),
            "note": st.column_config.TextColumn("note", width="large"),
        },
    )
else:
    st.caption("No decision recorded yet for this annotator.")
