"""Compare versions (?version=&parent=): what a version bought against its parent — answers, money, labels, quality."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics.metrics import MetricUnavailable
from analytics.metrics.aggregation import FAST_METHODS, METHODS
from analytics.sources.clearml_store import ClearMLError
from analytics.sources.store import matching
from analytics.versions import LINEAGE_FIGURES
from dashboard import charts, data, nav, sources, widgets

child = nav.require_version("compare.py")
ls = sources.listing()
by_id = ls.by_id()
groups = data.datasets(ls.versions)
group_of = {v.id: r for r, vs in groups.items() for v in vs}
family = [v.id for v in groups.get(group_of.get(child.id), [child])]

st.title("Compare versions")
st.caption(
    "A version against its parent: the answers and money it added, the labels that changed, and accuracy and "
    "cost per label before and after — what the new version bought."
)


def label_of(vid: str) -> str:
    v = by_id.get(vid)
    return f"{v.label} · {vid[:8]}" if v is not None else vid[:8]


def keep_source(**params: str) -> None:
    """Replace the URL's parameters by ``params``, keeping the source the versions come from."""
    st.query_params.clear()
    st.query_params.update({**sources.current().params(), **params})


def default_parent(options: list[str]) -> str | None:
    """The child's first parent among ``options``, else the version before it in its data set."""
    for p in child.parents:
        if p in options:
            return p
    earlier = [i for i in family[: family.index(child.id)] if i in options] if child.id in family else []
    return earlier[-1] if earlier else None  # a data set's first version: the reader picks


def url_parent() -> tuple[str | None, str | None]:
    """(the parent the URL names, the URL's text when it names no single other version)."""
    wanted = nav.param("parent")
    if not wanted:
        return None, None
    found = matching(ls.versions, wanted)
    if len(found) == 1 and found[0].id != child.id:
        return found[0].id, None
    return None, wanted


def pickers() -> tuple[str | None, str]:
    """The version, its parent and the aggregation method, from the URL and written back to it."""
    named, bad = url_parent()
    if named is not None and named not in family:
        st.session_state["_compare_others"] = True  # a link to another data set's version ticks the box
    c = st.columns([3, 3, 2], vertical_alignment="bottom")
    newest_first = [v.id for v in reversed(ls.versions)]
    st.session_state["_compare_child"] = child.id
    c[0].selectbox(
        "Version",
        newest_first,
        format_func=label_of,
        key="_compare_child",
        on_change=lambda: keep_source(version=st.session_state["_compare_child"]),
        help="The newer version: what it added and changed is shown against the one on the right.",
    )
    others = st.checkbox(
        "Other data sets",
        key="_compare_others",
        help="Offer every version as the one to compare with, not only those of this version's data set.",
    )
    options = [v.id for v in (ls.versions if others else [by_id[i] for i in family if i in by_id]) if v.id != child.id]
    default = default_parent(options)
    if not options:
        c[1].selectbox("Against", ["—"], disabled=True)
        return None, "mv"
    # a pick made for another version (before the sidebar changed it) is not this version's
    earlier = st.session_state.get("_compare_parent") if st.session_state.get("_compare_of") == child.id else None
    st.session_state["_compare_of"] = child.id
    chosen = named if named in options else earlier
    chosen = chosen if chosen in options else default
    if chosen is None:
        st.session_state.pop("_compare_parent", None)  # nothing picked: the placeholder
    else:
        st.session_state["_compare_parent"] = chosen
    parent = c[1].selectbox(
        "Against",
        options,
        format_func=lambda i: label_of(i) + ("  (its parent)" if i in child.parents else ""),
        key="_compare_parent",
        on_change=lambda: st.query_params.__setitem__("parent", st.session_state["_compare_parent"]),
        **({"index": None} if chosen is None else {}),
        placeholder="Pick a version",
        help="The older version (by default the version's first parent).",
    )
    methods = list(data.ready_methods(child.id, FAST_METHODS))
    method = c[2].selectbox(
        "Aggregation", methods, index=nav.choice("method", methods, "mv"), format_func=METHODS.get, key="_compare_m"
    )
    nav.keep("method", method if method != "mv" else None)
    if bad is not None:
        st.error(
            f"No other dataset version has the id {widgets.md_code(bad)} given as the parent in the link. "
            "Pick the version to compare with above."
        )
        if parent is not None:
            st.button(
                f"Compare with {label_of(parent)}",
                icon=":material/compare_arrows:",
                on_click=lambda: st.query_params.__setitem__("parent", parent),
                key="_compare_default",
            )
        st.stop()
    nav.keep("parent", parent if parent != default else None)
    return parent, method


def signed(x: float | None, currency: str, digits: int = 2) -> str:
    """An amount added, with its sign ("+0.26 USD", "-1.20 USD"; nothing added reads "0.00 USD")."""
    if x is None:
        return "n/a"
    x = x if round(x, digits) else 0.0  # never "-0.00"
    return f"{x:{'+' if x else ''},.{digits}f} {widgets.text(currency)}"


def show_money(diff, before, after) -> None:
    st.subheader("What it added")
    cur = diff.currency
    c = st.columns(5)
    c[0].metric(
        "Answers added",
        f"{diff.answers_added:+,}" if diff.answers_added else "0",
        help=f"{diff.answers_before:,} answers in {before.label}, {diff.answers_after:,} in {after.label}",
    )
    c[1].metric(
        "Money added",
        signed(diff.money_added, cur),
        help="the newer version's spend minus the older one's: rewards + platform fee + bonuses, paid suites only "
        "(negative where review rejected suites that were counted as paid before)",
    )
    for col, (key, name) in zip(c[2:], (("rewards", "Rewards"), ("fees", "Fee"), ("bonuses", "Bonuses")), strict=True):
        col.metric(f"{name} added", signed(diff.spend_added[key], cur))
    st.caption(
        f"Spend {widgets.money(diff.spend_before['total'], cur)} → {widgets.money(diff.spend_after['total'], cur)} · "
        f"tasks {diff.tasks_before:,} → {diff.tasks_after:,} · "
        f"annotators {diff.annotators_before:,} → {diff.annotators_after:,}"
    )


def changed_frame(diff) -> pd.DataFrame:
    frame = diff.changed.reset_index()
    for col in ("right_before", "right_after"):
        frame[col] = frame[col].map({True: "right", False: "wrong"}).astype(object)
    cols = ["task_id", "label_before", "label_after", "confidence_before", "confidence_after"]
    cols += ["answers_before", "answers_after"]
    if frame["reference"].notna().any():  # the reference columns where some changed task has one
        cols += ["reference", "right_before", "right_after"]
    if frame["in_plan"].any():
        cols.append("in_plan")
    return frame[cols]


def filtered(frame: pd.DataFrame) -> pd.DataFrame:
    """The changed labels the reader asked for: every one, fixed or broken ones (with a reference), the plan's."""
    shows = {"every changed label": None}
    if "reference" in frame:
        shows["fixed: wrong before, right after"] = (frame["right_before"] == "wrong") & (
            frame["right_after"] == "right"
        )
        shows["broken: right before, wrong after"] = (frame["right_before"] == "right") & (
            frame["right_after"] == "wrong"
        )
    if "in_plan" in frame:
        shows["tasks of the plan"] = frame["in_plan"].astype(bool)
    if len(shows) == 1:
        return frame
    show = st.columns([2, 3])[0].selectbox("Show", list(shows), key="_compare_show")
    mask = shows[show]
    return frame if mask is None else frame[mask.to_numpy()]


def show_changed(diff, before, after) -> None:
    st.subheader("Labels that changed")
    c = st.columns(3)
    c[0].metric("Labels changed", f"{diff.labels_changed:,}", help="tasks aggregated in both versions, label differs")
    c[1].metric("Tasks compared", f"{diff.tasks_compared:,}", help="tasks aggregated in both versions")
    c[2].metric(
        "Changed share", widgets.pct(diff.labels_changed / diff.tasks_compared if diff.tasks_compared else None)
    )
    only = [
        f"{nav.plural(n, 'task')} labelled only in {widgets.md_escape(v.label)}"
        for n, v in ((diff.tasks_labeled_only_before, before), (diff.tasks_labeled_only_after, after))
        if n
    ]
    method = METHODS.get(diff.method, diff.method)
    st.caption(f"Labels by {widgets.md_escape(method)} in both versions" + (f" · {', '.join(only)}." if only else "."))
    if not diff.labels_changed:
        st.info("No label changed between the two versions.", icon=":material/info:")
        return
    frame = changed_frame(diff)
    nav.row_links(
        filtered(frame),
        "compare_changed",
        "task.py",
        param_name="task",
        id_column="task_id",
        what="task",
        params={**sources.current().params(), "version": after.id},
        column_config={
            "task_id": "task id",
            "label_before": f"label in {before.version or before.label}",
            "label_after": f"label in {after.version or after.label}",
            "confidence_before": st.column_config.NumberColumn("confidence before", format="percent"),
            "confidence_after": st.column_config.NumberColumn("confidence after", format="percent"),
            "right_before": "before vs reference",
            "right_after": "after vs reference",
            "reference": st.column_config.TextColumn(help="the task's ground truth where known, else its golden label"),
        },
    )
    st.caption(f"Tasks open in Task detail of {widgets.md_escape(after.label)}.")
    widgets.download_csv(frame, f"changed-labels-{before.id[:8]}-{after.id[:8]}.csv", "compare_changed_csv")


def accuracy_caption(ref: str, change) -> str:
    def share(s) -> str:
        if s is None or s.accuracy is None:
            return "n/a"
        return f"{widgets.pct(s.accuracy)} ({widgets.pct(s.ci_low)}–{widgets.pct(s.ci_high)})"

    return (
        f"on the same {nav.plural(change.before.tasks, 'task')} with {ref}: {share(change.before)} → "
        f"{share(change.after)} · each version overall: {share(change.overall_before)} → {share(change.overall_after)}"
    )


def show_quality(diff, before, after) -> None:
    st.subheader("Accuracy and cost per label, before and after")
    st.caption("Accuracy of the aggregated label with its 95 % Wilson interval; cost per final (regular) label.")
    left, right = st.columns([3, 2])
    with right:
        for ref, change in diff.accuracy.items():
            delta = None if change.change is None else f"{100 * change.change:+.1f} pp"
            same = change.change is not None and round(100 * change.change, 1) == 0
            st.metric(
                f"Accuracy vs {ref}, after",
                widgets.pct(change.after.accuracy),
                delta=delta,
                delta_color="off" if same else "normal",
                help="on the tasks aggregated in both versions that have the reference",
            )
            st.caption(accuracy_caption(ref, change))
        if "truth" not in diff.accuracy:
            st.caption("No ground truth in either version (give it at import: `--truth FILE`).")
        cur = diff.currency
        b, a = diff.cost_per_label_before, diff.cost_per_label_after
        delta = None if a is None or b is None else f"{a - b:+.4f} {widgets.text(cur)}"
        st.metric("Cost per label, after", widgets.money(a, cur, 4), delta=delta, delta_color="inverse")
        st.caption(f"before {widgets.money(b, cur, 4)} in {widgets.md_escape(before.label)}")
    with left:
        if diff.accuracy:
            st.plotly_chart(charts.accuracy_change_chart(diff.accuracy, before.label, after.label), width="stretch")
        else:
            st.info(
                "Neither version has control tasks (golden) or ground truth: accuracy cannot be measured.",
                icon=":material/info:",
            )


def show_realised(diff) -> None:
    st.subheader("The plan: predicted against realised fixes")
    r = diff.realised
    if r is None:
        st.caption(
            "The newer version carries no re-annotation plan made on the older one (`crowdlens import … --parent ID "
            "--merge-parent --plan plan.json` stores it), so there is no prediction to check."
        )
        return
    cur = diff.currency
    interval = (
        f"95 % interval {r.predicted_low:.1f}–{r.predicted_high:.1f}"
        if r.predicted_low is not None and r.predicted_high is not None
        else "no interval in the plan"
    )
    c = st.columns(4)
    c[0].metric("Predicted fixes", widgets.num(r.predicted_fixes, 1), help=interval)
    c[1].metric(
        "Realised net fixes",
        "n/a" if r.net_fixes is None else f"{r.net_fixes:,}",
        help="labels wrong before and right after, minus the reverse, on the plan's tasks with a reference",
    )
    c[2].metric("Money per realised fix", widgets.money(r.money_per_fix, cur, 3))
    c[3].metric("Predicted money per fix", widgets.money(r.predicted_money_per_fix, cur, 3))
    checked = (
        f"checked against {widgets.md_escape(r.reference)} on {nav.plural(r.known, 'task')}: "
        f"{r.fixed:,} fixed, {r.broken:,} broken"
        if r.reference
        else "no reference on the plan's tasks"
    )
    share = "" if r.share_of_predicted is None else f" · {widgets.pct(r.share_of_predicted)} of the predicted fixes"
    st.caption(
        f"{nav.plural(r.plan_tasks, 'plan task')} ({r.compared:,} compared, {r.changed:,} changed) · {checked} · "
        f"expected net fixes by the newer version's posterior {r.expected_net_fixes:.1f} · {interval}{share}"
    )


def show_lineage() -> None:
    st.subheader("Lineage coloured by a figure")
    keys = list(LINEAGE_FIGURES)
    figure = st.columns([2, 3])[0].selectbox(
        "Figure", keys, index=nav.choice("figure", keys, "alpha"), format_func=LINEAGE_FIGURES.get, key="_cmp_fig"
    )
    nav.keep("figure", figure if figure != "alpha" else None)
    table = sources.lineage_figures(figure)
    shown = table.loc[[i for i in family if i in table.index]]
    event = st.plotly_chart(
        charts.lineage_by_figure(shown, table.attrs.get("title", LINEAGE_FIGURES[figure])),
        on_select="rerun",
        selection_mode="points",
        key="compare_lineage",
        width="stretch",
    )
    points = getattr(getattr(event, "selection", None), "points", None) or []
    if points and points[0].get("customdata") and points[0]["customdata"] != child.id:
        keep_source(version=str(points[0]["customdata"]))
        st.rerun()
    missing = shown[shown["value"].isna()]
    note = f" · no value for {nav.plural(len(missing), 'version')}: {missing['reason'].iloc[0]}" if len(missing) else ""
    st.caption(
        f"{widgets.md_escape(groups[group_of[child.id]][0].name) if child.id in group_of else ''} data set · "
        f"figures from each version's manifest where stored, else computed from its run{widgets.md_escape(note)}. "
        "Click a version to compare it with its parent."
    )


parent_id, method = pickers()
if parent_id is None:
    st.info(
        "This version is the first of its data set: it has no parent. Pick the version to compare it with above"
        + (" (or tick *Other data sets*)." if len(family) > 1 else ": tick *Other data sets* to offer the others."),
        icon=":material/info:",
    )
    show_lineage()
    st.stop()
parent = by_id[parent_id]
try:
    diff = sources.version_diff(child.id, parent.id, method)
except (ValueError, MetricUnavailable, ClearMLError, OSError) as err:
    st.error(f"The two versions cannot be compared: {widgets.md_escape(sources.scrub(err))}")
    st.stop()

st.markdown(f"#### {widgets.md_escape(child.label)} against {widgets.md_escape(parent.label)}")
links = st.columns(4)
with links[0]:
    nav.link("overview.py", f"Overview of {widgets.md_escape(child.label)}", version=child.id)
with links[1]:
    nav.link("overview.py", f"Overview of {widgets.md_escape(parent.label)}", version=parent.id)
if parent.id not in child.parents:
    st.caption(":material/info: The older version is not this version's parent: the comparison is of two versions.")
for note in diff.notes:
    st.caption(f":material/info: {widgets.md_escape(note)}")
show_money(diff, parent, child)
show_changed(diff, parent, child)
show_quality(diff, parent, child)
show_realised(diff)
show_lineage()
