"""Cost: what the run cost, what a label cost, per pool and version, on banned annotators, and what
more overlap would cost and buy."""

from __future__ import annotations

import streamlit as st

from analytics.metrics.aggregation import TIE_RULE, is_large, pool_answers
from dashboard import charts, data, documents, nav, widgets

version = nav.require_version("cost.py")
root = str(data.workspace_root())
run = data.current_run(version.id)
st.title("Cost")
st.caption(
    f"{widgets.md_escape(version.label)} · id {widgets.md_code(version.id)} · "
    f"money in {widgets.md_escape(run.pricing.currency)}"
)
slug = f"{version.label}-{version.id[:8]}".replace(" ", "_")

b = widgets.available(data.metric(version.id, "cost_breakdown"))
if b is None:
    st.stop()
s = widgets.available(data.metric(version.id, "spend"), quiet=True)
cur = b.currency
p = run.pricing

# ---- spend
st.subheader("Spend")
c = st.columns(4)
c[0].metric("Rewards", widgets.money(b.rewards, cur), help="Σ reward of paid task suites (accepted or submitted)")
c[1].metric(
    "Platform fee",
    widgets.money(b.fees, cur),
    help=f"max({p.fee_rate:.0%} × reward, {p.fee_minimum:g} {widgets.md_escape(cur)}) per paid suite, "
    f"plus {p.fee_rate:.0%} of bonuses",
)
c[2].metric("Bonuses", widgets.money(b.bonuses, cur))
c[3].metric("Total", widgets.money(b.total, cur), help="rewards + platform fee + bonuses")
unpaid = None if s is None else s.unpaid_assignments
st.caption(
    f"{b.paid_assignments:,} paid task suites"
    + (f", {unpaid:,} unpaid (rejected, skipped or expired)" if unpaid is not None else "")
    + f". Fee rate {p.fee_rate:.0%} of rewards and bonuses, "
    f"at least {p.fee_minimum:g} {widgets.md_escape(cur)} a suite."
)
if p.fee_assumed:
    st.info(widgets.md_escape(p.fee_note()), icon=":material/info:")
if b.total is None and s is not None and s.missing:
    st.warning(
        f"The run cannot be priced: {widgets.md_escape(s.missing)}. Money figures below are n/a; the counts still hold."
    )

with st.expander(":material/description: The report for stakeholders (HTML, PDF)"):
    documents.report_downloads(version, key="cost_report")

# ---- unit costs
st.subheader("What a unit cost")
units = [
    ("Cost per answer", b.cost_per_answer, b.answers, "labeled answers in paid suites", "cost_per_answer"),
    (
        "Cost per accepted suite",
        b.cost_per_accepted_assignment,
        b.accepted_assignments,
        "accepted task suites",
        "cost_per_accepted_assignment",
    ),
    (
        "Cost per final label",
        b.cost_per_final_label,
        b.final_labels,
        "final labels (regular tasks with a label)",
        "cost_per_final_label",
    ),
]
c = st.columns(3)
for col, (label, value, n, what, key) in zip(c, units, strict=True):
    col.metric(label, widgets.money(value, cur, 4), help=b.reasons.get(key) or f"total spend / {what}")
    total = f"total {widgets.md_escape(widgets.money(b.total, cur))} / " if b.total is not None else ""
    col.caption(f"{total}{n:,} {what}")
st.caption(
    "Each unit cost divides the whole spend — exam, control tasks, rejected work's fees and bonuses included — "
    "because that is what a unit cost the project."
)

# ---- per pool
st.subheader("Per pool")
pools = widgets.available(data.metric(version.id, "cost_by_pool"))
if pools is not None:
    pool_table = pools.reset_index()
    st.dataframe(
        pool_table,
        hide_index=True,
        width="stretch",
        column_config={
            "pool_id": st.column_config.TextColumn("pool"),
            "assignments": st.column_config.NumberColumn("suites", format="%d"),
            "paid_assignments": st.column_config.NumberColumn("paid suites", format="%d"),
            "answers": st.column_config.NumberColumn("answers (paid)", format="%d"),
            "rewards": st.column_config.NumberColumn(f"rewards ({cur})", format="%.4f"),
            "fees": st.column_config.NumberColumn(f"fees ({cur})", format="%.4f"),
            "total": st.column_config.NumberColumn(f"total ({cur})", format="%.4f"),
            "cost_per_answer": st.column_config.NumberColumn(f"per answer ({cur})", format="%.5f"),
        },
    )
    st.caption(
        f"Bonuses ({widgets.md_escape(widgets.money(b.bonuses, cur))} plus fee) belong to no pool: "
        "Σ pool totals + bonuses × (1 + fee rate) = the total above."
    )
    widgets.download_csv(pool_table, f"cost-per-pool-{slug}.csv", key="csv_pools")

# ---- per version
st.subheader("Per dataset version")
listing = data.listing(root)
lineage = [v.id for v in data.lineage_of(version.id)] or [version.id]
everywhere = st.toggle(
    "Every data set's versions",
    value=nav.param("versions") == "all",
    key="cost_everywhere",
    help="By default the versions of this data set (its lineage) are compared.",
)
nav.keep("versions", "all" if everywhere else None)
ids = [v.id for v in listing.versions] if everywhere else lineage
st.caption(
    f"{nav.plural(len(ids), 'version')} of "
    + ("every data set in the workspace." if everywhere else f"this data set ({widgets.md_escape(version.name)}).")
)
with st.spinner(f"Pricing {len(ids)} dataset version(s)…"):
    per_version = widgets.available(data.versions_cost(ids))
if per_version is not None:
    vt = per_version.reset_index()
    vt.insert(1, "this version", [v == version.id for v in ids])
    currencies = set(per_version["currency"].dropna())
    st.dataframe(
        vt,
        hide_index=True,
        width="stretch",
        column_config={
            "total": st.column_config.NumberColumn("total", format="%.4f"),
            "answers": st.column_config.NumberColumn(format="%d"),
            "cost_per_answer": st.column_config.NumberColumn("per answer", format="%.5f"),
            "final_labels": st.column_config.NumberColumn("final labels", format="%d"),
            "cost_per_final_label": st.column_config.NumberColumn("per final label", format="%.5f"),
            "paid_assignments": st.column_config.NumberColumn("paid suites", format="%d"),
        },
    )
    if len(currencies) > 1:
        named = ", ".join(widgets.md_escape(c) for c in sorted(currencies))
        st.warning(f"The versions are priced in different currencies ({named}); compare them per currency.")
    elif per_version["cost_per_final_label"].notna().any():
        st.plotly_chart(charts.cost_by_version_chart(per_version, next(iter(currencies), cur)), width="stretch")
    widgets.download_csv(vt, "cost-per-version.csv", key="csv_versions")

# ---- banned annotators
st.subheader("Spend on annotators later banned, and on rejected work")
sb = widgets.available(data.metric(version.id, "spend_on_banned"))
if sb is not None and sb.banned_workers == 0 and sb.rejected_suites == 0:
    st.info(
        "No annotator of this run has a recorded ban (restriction) and no task suite was rejected: "
        "nothing was spent on them."
    )
elif sb is not None:
    c = st.columns(4)
    c[0].metric("Annotators banned", f"{sb.banned_workers:,}", help="with a recorded restriction (ban)")
    c[1].metric(
        "Paid before their ban",
        widgets.money(sb.spend_before_ban, cur),
        help=f"{sb.suites_before_ban:,} paid suites submitted up to the ban",
    )
    c[2].metric(
        "Paid after their ban",
        widgets.money(sb.spend_after_ban, cur),
        help=f"{sb.suites_after_ban:,} paid suites submitted after it (work the ban did not stop)",
    )
    c[3].metric(
        "Share of total spend", widgets.pct(sb.share_of_spend), help="(before + after + bonuses to them) / total"
    )
    st.caption(
        f"{sb.suites_before_ban:,} paid suites before and {sb.suites_after_ban:,} after the bans; "
        f"bonuses to banned annotators {widgets.md_escape(widgets.money(sb.bonuses_to_banned, cur, 4))} (with fee). "
        f"{sb.rejected_suites:,} suites were rejected (by anyone): "
        f"{widgets.md_escape(widgets.money(sb.rejected_value, cur, 4))} not paid."
    )
    if len(sb.per_worker):
        bt = sb.per_worker.reset_index()
        nav.row_links(
            bt,
            "banned",
            "annotator.py",
            param_name="annotator",
            id_column="worker_id",
            what="annotator",
            params={"version": version.id},
            height=min(420, 38 + 35 * len(bt)),
            column_config={
                "worker_id": st.column_config.TextColumn("annotator", help="Click the row to open the annotator"),
                "spend": st.column_config.NumberColumn(f"spend ({cur})", format="%.4f"),
            },
        )
        widgets.download_csv(bt, f"spend-on-banned-{slug}.csv", key="csv_banned")

# ---- cost-quality curve
st.subheader("What more overlap would cost and buy")
repeats = int(
    st.number_input(
        "Subsampling repeats",
        min_value=1,
        max_value=50,
        value=5,
        step=1,
        key="cq_repeats",
        help="Each task's answers are subsampled this many times (seeded) per overlap",
    )
)
cq = widgets.computed_on_request(
    f"curve_{version.id}",
    "Compute the curve",
    f"{pool_answers(run):,} labeling-pool answers: subsampling every overlap takes about "
    f"{data.estimate_seconds(version.id, 'cost_quality_curve', repeats=repeats):,.0f} s on a run this size.",
    needed=is_large(run),
    spinner="Subsampling answers at every overlap…",
    compute=lambda: data.metric(version.id, "cost_quality_curve", repeats=repeats),
)
cq = None if cq is None else widgets.available(cq)


def curve_tiles(cq, refs: list[str]) -> None:
    """Cost per final label and accuracy at the run's overlap, and the model's projection at the top."""
    K, pts = cq.max_overlap, cq.points
    at_k = pts.loc[K]
    c = st.columns(3)
    c[0].metric(
        f"Cost per final label at overlap {K}",
        widgets.money(at_k["cost_per_final_label"], cq.currency, 4),
        help="the figure above: exam and bonuses fixed, the labeling pool's spend in proportion to overlap",
    )
    if refs:
        r0 = refs[0]
        c[1].metric(
            f"Accuracy vs {r0} at overlap {K}",
            widgets.pct(at_k[f"{r0}_accuracy"]),
            help=f"{int(at_k[f'{r0}_tasks']):,} tasks",
        )
    if pts["model_accuracy"].notna().any():
        top = pts.index.max()
        money = widgets.md_escape(widgets.money(pts.loc[top, "cost_per_final_label"], cq.currency, 4))
        c[2].metric(
            f"Projected at overlap {top} (model)",
            widgets.pct(pts.loc[top, "model_accuracy"]),
            help=f"{money} a final label; a model projection, see below",
        )


def curve_note(cq, ref: str) -> str:
    """How the curve was measured and projected, with the counts and money behind it."""
    K, at_k = cq.max_overlap, cq.points.loc[cq.max_overlap]
    known = int(at_k["golden_tasks"] if ref == "golden" else at_k["truth_tasks"])
    text = (
        f"Points 1–{K}: each task's answers subsampled {cq.repeats}× (seed {cq.seed}) and aggregated by majority "
        f"vote; dots are the mean, bars the range over repeats, the band the 95 % Wilson interval for the "
        f"{known:,} tasks with a known answer. {cq.tasks:,} tasks with ≥ {K} answers are used at every overlap"
    )
    if cq.tasks_left_out:
        text += f" ({cq.tasks_left_out:,} with fewer are left out)"
    if cq.tasks_sampled_from:
        text += (
            f"; a sample of the {cq.tasks_sampled_from:,} (every task with a known answer kept, "
            "the rest picked by a hash of the id)"
        )
    text += ". "
    if cq.cost_per_answer is not None:
        money = {
            k: widgets.md_escape(widgets.money(v, cq.currency, d))
            for k, v, d in [
                ("fixed", cq.fixed_spend, 4),
                ("variable", cq.variable_spend, 4),
                ("answer", cq.cost_per_answer, 5),
            ]
        }
        text += (
            f"Cost per final label at overlap k = (fixed {money['fixed']} (exam, bonuses) + labeling pool "
            f"{money['variable']} × k / {K}) / {cq.final_labels:,} final labels; "
            f"“cost per label” in the table is simply k × {money['answer']} (the average cost of an answer). "
        )
    return text + f"Tie rule: {TIE_RULE}."


if cq is not None:
    K = cq.max_overlap
    pts = cq.points
    refs = [r for r in ("golden", "truth") if pts[f"{r}_accuracy"].notna().any()]
    st.caption(f"The run's overlap: {K} answers per task (the most common number of answers per aggregated task).")
    curve_tiles(cq, refs)
    if cq.cost_missing:
        st.info(f"No cost per label: {widgets.md_escape(cq.cost_missing)}.")
    ref = (
        st.radio(
            "Accuracy against",
            refs,
            horizontal=True,
            key="cq_ref",
            format_func={"golden": "control tasks' known answers", "truth": "ground truth"}.get,
        )
        if len(refs) > 1
        else (refs[0] if refs else "golden")
    )
    st.plotly_chart(charts.cost_quality_chart(pts, cq.currency, reference=ref), width="stretch")
    st.caption(curve_note(cq, ref))
    st.info(
        f"**Overlap {K + 1}–{pts.index.max()} is a projection, not a measurement.** {cq.assumptions}"
        if not cq.model_note
        else cq.model_note + "."
    )
    curve_table = pts.reset_index()
    st.dataframe(
        curve_table,
        hide_index=True,
        width="stretch",
        column_config={
            **{
                col: st.column_config.NumberColumn(format="percent")
                for col in curve_table.columns
                if col.endswith(
                    ("_accuracy", "_min", "_max", "_ci_low", "_ci_high", "agreement_with_full", "tied_share")
                )
            },
            **{
                col: st.column_config.NumberColumn(format="%.4f")
                for col in ("golden_std", "truth_std", "agreement_std", "model_se")
            },
            "cost_per_label": st.column_config.NumberColumn(
                f"k answers ({cq.currency})", format="%.5f", help="cost per answer × k"
            ),
            "cost_per_final_label": st.column_config.NumberColumn(
                f"cost per final label ({cq.currency})", format="%.5f"
            ),
        },
    )
    widgets.download_csv(curve_table, f"cost-quality-curve-{slug}.csv", key="csv_curve")
