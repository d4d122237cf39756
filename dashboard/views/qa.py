"""Rules & audit (QA): the ban rules with other thresholds, suspect golden labels, decisions applied in Toloka."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics import qa_records, reviews
from analytics.metrics.whatif import SETTABLE
from dashboard import auth, data, nav, widgets

version = nav.require_version("qa.py")
st.title("Rules & audit")
st.caption(
    "What other rule thresholds would have done, which golden labels look wrong and which bans rest on them — "
    "all what-ifs on a copy: the dataset version is never changed."
)
ws = data.workspace()
user = auth.current_user()
TIME = "YYYY-MM-DD HH:mm:ss"
BAN_CONFIG = {
    "worker_id": "annotator",
    "pool_id": "pool",
    "at": st.column_config.DatetimeColumn("banned at (UTC)", format=TIME),
    "replayed_at": st.column_config.DatetimeColumn("recorded thresholds: at (UTC)", format=TIME),
    "control_accuracy": st.column_config.NumberColumn("control accuracy", format="percent"),
    "ds_accuracy": st.column_config.NumberColumn("Dawid-Skene accuracy", format="percent"),
    "false_ban_risk": st.column_config.NumberColumn(
        "false-ban risk", format="percent", help="chance an annotator of their control accuracy trips the rule"
    ),
    "false_ban_risk_ds": st.column_config.NumberColumn("false-ban risk (DS)", format="percent"),
    "evidence": st.column_config.TextColumn("evidence", width="large"),
}


def _who(key: str) -> str | None:
    """The typed name in local mode (None when signed in: the e-mail is used)."""
    if user.local:
        return st.text_input("Your name", key=key, placeholder="who proposes it")
    st.caption(f"Saved as {widgets.text(user.label)}.")
    return None


def save_proposal(kind: str, change: dict, summary: dict, key: str) -> None:
    """A note, a name (local mode) and a button storing ``change`` as a QA proposal."""
    if not change:
        return
    if not user.may("record_proposal"):
        st.caption(":material/lock: Your role may not save proposals.")
        return
    with st.form(f"{key}_form"):
        typed = _who(f"{key}_who")
        note = st.text_input("Note", key=f"{key}_note")
        if not st.form_submit_button("Save as a QA proposal", icon=":material/bookmark_add:"):
            return
    try:
        p = auth.record_proposal(user, ws, version.id, kind, change, note, summary=summary, typed_reviewer=typed)
    except (ValueError, reviews.ReviewsError, auth.NotAllowed) as err:
        st.error(widgets.text(str(err)), icon=":material/error:")
        return
    st.success(f"Saved as proposal {p.id} by {widgets.text(p.reviewer)}.", icon=":material/check_circle:")


def threshold_inputs(rules: dict) -> dict[str, str]:
    """A text box per settable threshold of the replayed rules (first pool's values); the changed ones."""
    recorded: dict[str, object] = {}
    for pool_rules in rules.values():
        for r in pool_rules:
            for k in SETTABLE.get(r.get("type"), ()):
                recorded.setdefault(f"{r['type']}.{k}", r.get(k))
    changed = {}
    cols = st.columns(4)
    for i, (name, value) in enumerate(recorded.items()):
        shown = "none" if value is None else f"{value:g}" if isinstance(value, float) else str(value)
        typed = cols[i % 4].text_input(name, value=shown, key=f"set_{name}", help=f"recorded: {shown}; none drops it")
        if typed.strip() != shown:
            changed[name] = typed.strip()
    return changed


def whatif_section() -> None:
    st.subheader("What-if on the rule thresholds")
    base = widgets.available(data.metric(version.id, "rules_whatif"))
    if base is None:
        return
    changed = threshold_inputs(base.rules)
    try:
        result = data.metric(version.id, "rules_whatif", settings=changed) if changed else base
    except ValueError as err:  # a threshold that is not a number, or out of range
        st.error(widgets.text(str(err)), icon=":material/error:")
        return
    result = widgets.available(result)
    if result is None:
        return
    c = st.columns(5)
    c[0].metric("Would ban", f"{len(result.banned):,}")
    c[1].metric("Newly banned", f"{len(result.newly_banned):,}")
    c[2].metric("No longer banned", f"{len(result.no_longer_banned):,}")
    c[3].metric("Suites removed / restored", f"{result.suites_removed:,} / {result.suites_restored:,}")
    cur = widgets.text(result.currency)
    c[4].metric(f"Spend removed / restored ({cur})", f"{result.spend_removed:.2f} / {result.spend_restored:.2f}")
    st.markdown("**Who the rules as set ban, and when** (change: against the recorded thresholds)")
    cols = ["worker_id", "rule", "at", "change", "control_accuracy", "ds_accuracy", "false_ban_risk"]
    st.dataframe(
        result.banned[[*cols, "false_ban_risk_ds", "risk_method", "evidence"]],
        hide_index=True,
        width="stretch",
        column_config=BAN_CONFIG,
        placeholder=widgets.EMPTY_CELL,
    )
    st.caption(f"False-ban risk: {widgets.text(result.risk_model)}")
    if len(result.no_longer_banned):
        st.markdown("**No longer banned**")
        frame = result.no_longer_banned[["worker_id", "rule", "at", "recorded", "evidence"]]
        st.dataframe(frame, hide_index=True, width="stretch", column_config=BAN_CONFIG)
    st.markdown("**Quality of what remains** (re-aggregated without the answers after each ban)")
    quality = pd.DataFrame(result.quality).T.drop(columns=["golden_ci", "method"], errors="ignore")
    st.dataframe(quality, width="stretch", placeholder=widgets.EMPTY_CELL)
    flat = {f"{r}.{k}": v for r, kv in result.settings.items() for k, v in kv.items()}
    summary = {"newly_banned": len(result.newly_banned), "no_longer_banned": len(result.no_longer_banned)}
    save_proposal("rule_settings", flat, summary, "rules_prop")


KEEP, DROP, CORRECT = "keep", "drop", "correct to "


def override_inputs(tasks: pd.DataFrame, labels: list[str]) -> dict[str, str | None]:
    """Per audited control task: keep, drop or correct its golden label (the what-if's overrides).

    One editable table, not a picker per task: a run of 10^7 answers has hundreds of audited
    tasks, and as many widgets took most of each rerun."""
    choices = [KEEP, DROP, *[f"{CORRECT}{lab}" for lab in labels]]
    shown = pd.DataFrame(
        {
            "task": tasks.index.astype(str),
            "golden": tasks["golden"].astype(str).to_numpy(),
            "share_right": tasks["share_correct"].to_numpy(),
            "what_if": [DROP if bool(x) else KEEP for x in tasks["suspect"]],
        }
    )
    edited = st.data_editor(
        shown,
        key=f"golden_overrides_{version.id}",
        hide_index=True,
        width="stretch",
        disabled=["task", "golden", "share_right"],
        column_config={
            "share_right": st.column_config.NumberColumn("share right", format="percent"),
            "what_if": st.column_config.SelectboxColumn(
                "golden label in the what-if", options=choices, required=True, help="suspect labels start dropped"
            ),
        },
    )
    out: dict[str, str | None] = {}
    for task, choice in zip(edited["task"], edited["what_if"], strict=True):
        if choice == DROP:
            out[str(task)] = None
        elif isinstance(choice, str) and choice.startswith(CORRECT):
            out[str(task)] = choice.removeprefix(CORRECT)
    return out


def audit_section() -> None:
    st.subheader("Ban audit: suspect golden labels")
    audit = widgets.available(data.metric(version.id, "ban_audit"))
    if audit is None:
        return
    tasks = audit.control_tasks
    if tasks.empty:
        st.info("No control task is suspect or missed by most annotators.")
        return
    st.dataframe(
        tasks.drop(columns="override"),
        width="stretch",
        placeholder=widgets.EMPTY_CELL,
        column_config={"share_correct": st.column_config.NumberColumn("share right", format="percent")},
    )
    with st.expander(f"Their answers ({len(audit.suspect_answers):,})"):
        st.dataframe(audit.suspect_answers, hide_index=True, width="stretch")
    st.markdown("**What-if:** drop or correct the golden labels")
    overrides = override_inputs(tasks, list(data.current_run(version.id).labels))
    # the default overrides are the audit above: not computed a second time under another key
    same = overrides == audit.overrides
    result = audit if same else widgets.available(data.metric(version.id, "ban_audit", golden_overrides=overrides))
    if result is None:
        return
    resting = result.bans[result.bans["rests_on_suspect"].astype(bool)] if len(result.bans) else result.bans
    st.markdown(f"**Bans resting on audited labels** ({len(resting):,})")
    st.dataframe(resting, hide_index=True, width="stretch", column_config=BAN_CONFIG)
    c = st.columns(3)
    c[0].metric("Bans lifted", f"{len(result.lifted):,}")
    c[1].metric("New bans", f"{len(result.new_bans):,}")
    h = result.headline
    c[2].metric(
        "Control accuracy",
        widgets.pct(h["after"].get("control_accuracy")),
        help=f"before: {widgets.pct(h['before'].get('control_accuracy'))}",
    )
    if len(result.lifted):
        st.dataframe(result.lifted, hide_index=True, width="stretch", column_config=BAN_CONFIG)
    if len(result.control_accuracy):
        st.markdown("**Control accuracy that changes**")
        st.dataframe(result.control_accuracy, width="stretch")
    st.dataframe(pd.DataFrame(result.headline).T, width="stretch")
    lifted = sorted(set(result.lifted["worker_id"].astype(str))) if len(result.lifted) else []
    save_proposal("golden_overrides", overrides, {"lifted": lifted}, "golden_prop")


def toloka_client():
    """A Toloka client from the dashboard's settings, or None (after saying how to configure one)."""
    s = data.toloka_settings()
    if not s.token.value:
        st.info(
            "No Toloka token is configured, so decisions cannot be applied from here. Set `TOLOKA_TOKEN` "
            "(and `TOLOKA_ENVIRONMENT` or `TOLOKA_URL`) in `.streamlit/secrets.toml` or the environment "
            "(see `.streamlit/secrets.toml.example`), then reload.",
            icon=":material/key:",
        )
        return None
    from analytics.sources import toloka

    return toloka.make_client(s.token.value, environment=s.environment.value, url=s.url.value)


def toloka_section() -> None:
    st.subheader("Decisions applied in Toloka")
    try:
        recorded = reviews.decisions(ws, version.id)
    except (reviews.ReviewsError, ValueError) as err:
        st.error(widgets.text(str(err)), icon=":material/error:")
        return
    if recorded.empty:
        st.caption("No QA decision is recorded on this version yet (the Annotators page records them).")
        return
    states = qa_records.applications_frame(ws, [int(i) for i in recorded["id"]])
    st.dataframe(
        recorded[["id", "worker_id", "decision", "reviewer", "decided_at"]].merge(
            states.rename(columns={"decision_id": "id"}), on="id", how="left"
        ),
        hide_index=True,
        width="stretch",
        placeholder="not applied",
    )
    if not user.may("apply_decision"):
        st.caption(":material/lock: Your role may not apply decisions in Toloka (qa or admin may).")
        return
    client = toloka_client()
    if client is None:
        return
    ids = [int(i) for i in recorded["id"]][::-1]
    by_id = recorded.set_index("id")
    chosen = st.selectbox(
        "Decision to apply",
        ids,
        key="apply_pick",
        format_func=lambda i: f"{i} · {by_id.loc[i, 'decision']} · {by_id.loc[i, 'worker_id']}",
    )
    apply_one(int(chosen), client)


def apply_one(decision_id: int, client) -> None:
    """The preview of exactly what will be sent, and the confirm button that sends it (once)."""
    from analytics.sources.toloka.client import TolokaAPIError
    from analytics.versions import toloka_actions

    st.caption(f"State: {widgets.text(qa_records.application_state(ws, decision_id))}")
    if not st.toggle("Prepare: show exactly what will be sent", key=f"prep_{decision_id}"):
        return
    try:
        preview = toloka_actions.preview_application(ws, decision_id, client, run=data.current_run(version.id))
    except (TolokaAPIError, ValueError, reviews.ReviewsError) as err:
        st.error(data.scrub(str(err)), icon=":material/error:")
        return
    st.json(preview.get("requests") or [], expanded=True)
    if preview["action"] == "none":
        st.info(f"Nothing will be sent: {widgets.text(preview.get('why') or '')}")
        return
    typed = _who("apply_who")
    if not st.button("Confirm: send to Toloka", icon=":material/send:", type="primary", key=f"send_{decision_id}"):
        return
    try:
        out = auth.apply_decision(user, ws, decision_id, client, preview=preview, typed_reviewer=typed)
    except (qa_records.AlreadyApplied, auth.NotAllowed, ValueError, reviews.ReviewsError) as err:
        st.error(widgets.text(data.scrub(str(err))), icon=":material/error:")
        return
    if out["status"] == "applied":
        st.success(f"Applied in Toloka (application {out.get('application_id')}).", icon=":material/check_circle:")
    else:
        st.error(f"Not applied: {widgets.text(data.scrub(out.get('reason') or out['status']))}")


whatif_section()
audit_section()
toloka_section()
