"""Agreement: how far annotators agree, where they do not, and what each aggregator makes of it."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics.metrics import aggregation
from analytics.metrics.agreement import agreement_matrix
from analytics.metrics.scales import MEDIAN_RULE, METHODS
from analytics.model.scales import NUMERIC_SCALES
from dashboard import charts, data, nav, sources, widgets
from dashboard.aggregators import aggregator_table

version = nav.require_version("agreement.py")
run = data.current_run(version.id)
scale = run.meta.scale
st.title("Agreement")
st.caption(
    f"{widgets.text(version.label)} · id {widgets.md_code(version.id)} · "
    "answers of the labeling pool (regular and control tasks)"
)


@st.cache_resource(max_entries=4, show_spinner=False)
def agreement_overview(source_key: str, version_id: str) -> tuple[int, float, object]:
    """Unanimous tasks, the median agreement and the histogram of a version's item agreement (in
    the source of ``source_key``, the one the pages show), made once per version: over the 3 M
    tasks of 10^7 answers they took 0.3 s on every rerun."""
    items = data.metric(version_id, "item_agreement")
    unanimous = int((items["agreement"] >= 1.0).sum())
    return unanimous, float(items["agreement"].median()), charts.agreement_histogram(items)


def task_links(frame: pd.DataFrame) -> pd.DataFrame:
    """task_id index -> a "task" text column (a click on the row opens its Task detail)."""
    return frame.reset_index().rename(columns={"task_id": "task"})


# a click on a row opens the task's detail in the same tab
OPEN_TASK = (nav.BY_FILE["task.py"].path, "task", "task", {"version": version.id})

# ---- run-level agreement
summary = widgets.available(data.metric(version.id, "run_agreement"))
if summary is None:
    st.stop()
overlap = (
    f"{summary.overlap_min}–{summary.overlap_max} (mean {summary.overlap_mean:.2f})"
    if summary.overlap_min != summary.overlap_max
    else f"{summary.overlap_min}"
)
on_scale = widgets.available(data.metric(version.id, "scale_agreement")) if scale != "nominal" else None
c = st.columns(4) if on_scale is None else st.columns(5)
if on_scale is not None:
    c[0].metric(
        f"Krippendorff's α ({scale})",
        widgets.num(on_scale.krippendorff_alpha),
        help=f"α with the {scale} difference function ("
        + {"ordinal": "mid-rank distance", "interval": "squared difference", "ratio": "squared relative difference"}[
            scale
        ]
        + "): an answer off by one counts less than one far off. Beside it, nominal α treats each of the "
        f"{on_scale.values:,} distinct values as a category.",
    )
    c = c[1:]
c[0].metric(
    "Krippendorff's α (nominal)",
    widgets.num(summary.krippendorff_alpha if on_scale is None else on_scale.krippendorff_alpha_nominal),
    help="1 − observed / expected disagreement over all pairable answers (Krippendorff 2011). "
    "1 = perfect, 0 = chance; Krippendorff suggests α ≥ 0.8 for firm conclusions and ≥ 0.667 for tentative ones.",
)
c[1].metric(
    "Fleiss' κ",
    widgets.num(summary.fleiss_kappa),
    help="(P̄ − Pₑ) / (1 − Pₑ), Fleiss 1971; generalised to varying overlap (see the note).",
)
c[2].metric(
    "Tasks measured",
    f"{summary.items:,}",
    help="Tasks with at least two answers; a single answer cannot agree or disagree.",
)
c[3].metric("Answers on them", f"{summary.answers:,}")
st.caption(f"Overlap (answers per aggregated task): {overlap}.")
if summary.overlap_varies:
    st.info(
        f"Overlap varies between tasks ({summary.overlap_min}–{summary.overlap_max} answers, "
        f"mean {summary.overlap_mean:.2f}). Krippendorff's α handles this as it is; Fleiss' κ was "
        "defined for a constant number of raters and is computed here with the usual generalisation (each task's "
        "agreement over its own answer pairs), so compare it with other runs' κ with care."
    )

# ---- per item
st.subheader("Agreement per task")
items = widgets.available(data.metric(version.id, "item_agreement"))


def spread_section() -> None:
    """Per task on the scale: the spread of its answers' numbers, most spread first (instead of entropy)."""
    spread = widgets.available(data.metric(version.id, "item_spread"))
    if spread is None:
        return
    unanimous = int((spread["range"] == 0).sum())
    st.markdown("**Most spread tasks** — largest standard deviation of the answers first (then the range)")
    st.caption(
        f"{len(spread):,} tasks · {unanimous:,} unanimous · median standard deviation "
        f"{widgets.num(float(spread['std'].median()), 2)} · median range "
        f"{widgets.num(float(spread['range'].median()), 2)}. Median rule: {MEDIAN_RULE}."
    )
    fmt = st.column_config.NumberColumn
    widgets.table(
        spread.sort_values(["std", "range"], ascending=False, na_position="last", kind="stable"),
        key="item_spread",
        rows=20,
        noun="tasks",
        prepare=task_links,
        open_page=OPEN_TASK,
        column_config={
            "kind": st.column_config.TextColumn("task kind"),
            "answers": fmt("answers", format="%d"),
            "mean": fmt("mean", format="%.3g"),
            "median": fmt("median", format="%.3g"),
            "std": fmt("std", format="%.3g", help="sample standard deviation of the task's answers"),
            "min": fmt("min", format="%.4g"),
            "max": fmt("max", format="%.4g"),
            "range": fmt("range", format="%.4g", help="max − min; 0 = unanimous"),
        },
    )


if items is not None and scale not in NUMERIC_SCALES:
    unanimous, median, histogram = agreement_overview(sources.current().key, version.id)
    st.caption(
        f"{len(items):,} aggregated tasks · {unanimous:,} unanimous ({widgets.pct(unanimous / max(1, len(items)))}) · "
        f"median agreement with the majority {widgets.pct(median)}"
    )
    st.plotly_chart(histogram, width="stretch")
    least = widgets.available(data.metric(version.id, "least_agreed")) if scale == "nominal" else None
    if least is not None:
        st.markdown(
            "**Least-agreed tasks** — lowest share agreeing with the majority label, then the most spread answers "
            "(entropy)"
        )
        widgets.table(
            least[["kind", "answers", "label", "agree", "agreement", "entropy_bits"]],
            key="least_agreed",
            rows=20,
            noun="tasks",
            prepare=task_links,
            open_page=OPEN_TASK,
            column_config={
                "kind": st.column_config.TextColumn("task kind", help="regular, or control (with a known answer)"),
                "answers": st.column_config.NumberColumn("answers", format="%d"),
                "label": st.column_config.TextColumn("majority label"),
                "agree": st.column_config.NumberColumn("answers agreeing", format="%d"),
                "agreement": st.column_config.NumberColumn("agreement", format="percent"),
                "entropy_bits": st.column_config.NumberColumn(
                    "entropy (bits)", format="%.2f", help="0 = unanimous; 1 = an even split of two labels"
                ),
            },
        )

if scale != "nominal":
    spread_section()

# ---- pairwise
st.subheader("Annotator pairs")
st.caption(
    "Cohen's κ on the regular tasks both answered (control tasks, shown to many more people, "
    "are judged against their known answer instead)."
)
c = st.columns([1, 1, 2])
min_shared = int(
    c[0].number_input(
        "Min. shared tasks",
        min_value=1,
        max_value=1000,
        value=10,
        step=1,
        key="min_shared",
        help="A pair is measured only on at least this many tasks both answered.",
    )
)
value = c[1].radio(
    "Show",
    ["kappa", "agreement"],
    format_func={"kappa": "Cohen's κ", "agreement": "share agreeing"}.get,
    key="pair_value",
)
max_workers = int(
    c[2].slider(
        "Annotators in the matrix",
        min_value=5,
        max_value=60,
        value=30,
        step=5,
        key="pair_max",
        help="The annotators who are in the most measured pairs",
    )
)
large = aggregation.is_large(run)
pair_seconds = data.estimate_seconds(version.id, "pairwise_kappa", min_shared=min_shared)
pairs = widgets.computed_on_request(
    f"pairs_{version.id}",
    "Compute annotator pairs",
    f"{aggregation.pool_answers(run):,} labeling-pool answers: pairwise κ takes about {pair_seconds:,.0f} s "
    "on a run this size.",
    needed=large,
    seconds=pair_seconds,
    spinner="Measuring every pair of annotators…",
    compute=lambda: data.metric(version.id, "pairwise_kappa", min_shared=min_shared),
)
pairs = None if pairs is None else widgets.available(pairs)
if pairs is not None and pairs.empty:
    st.info(f"No two annotators answered {min_shared:,} or more of the same tasks. Lower the minimum to see pairs.")
elif pairs is not None:
    matrix = agreement_matrix(pairs, value=value, max_workers=max_workers)
    in_pairs = len(set(pairs["worker_a"]) | set(pairs["worker_b"]))
    st.caption(
        f"{len(pairs):,} pairs share ≥ {min_shared:,} tasks ({in_pairs:,} annotators); "
        f"the matrix shows the {len(matrix):,} in the most pairs. "
        f"Median κ {widgets.num(float(pairs['kappa'].median()))}, "
        f"median {pairs['shared'].median():,.0f} shared tasks per pair. Blank cells: the pair shares fewer tasks."
    )
    st.plotly_chart(charts.agreement_heatmap(matrix, value), width="stretch")
    with st.expander(f"All {len(pairs):,} pairs, lowest κ first"):
        ptable = widgets.available(data.metric(version.id, "pairs_by_kappa", min_shared=min_shared))

        if ptable is not None:
            st.caption("A click on a pair opens annotator A's answers.")
            widgets.table(
                ptable[["worker_a", "worker_b", "shared", "agreement", "kappa"]],
                key="pairs_table",
                rows=25,
                noun="pairs",
                open_page=(nav.BY_FILE["annotator.py"].path, "annotator", "worker_a", {"version": version.id}),
                column_config={
                    "worker_a": "annotator A",
                    "worker_b": "annotator B",
                    "shared": st.column_config.NumberColumn("shared tasks", format="%d"),
                    "agreement": st.column_config.NumberColumn("share agreeing", format="percent"),
                    "kappa": st.column_config.NumberColumn("Cohen's κ", format="%.3f"),
                },
            )


def weighted_kappa_section() -> None:
    """Ordinal runs: Cohen's κ with linear and quadratic weights per pair (a grade off by one counts less)."""
    wk = widgets.available(data.metric(version.id, "weighted_kappa", min_shared=min_shared))
    if wk is None or wk.empty:
        return
    st.markdown("**Weighted κ on the grades** — linear weights |i − j|, quadratic (i − j)², in scale order")
    c = st.columns(3)
    names = (("kappa", "κ"), ("kappa_linear", "linear κ"), ("kappa_quadratic", "quadratic κ"))
    for col, (k, name) in zip(c, names, strict=True):
        col.metric(f"Median {name}", widgets.num(float(wk[k].median())), help=f"over {len(wk):,} pairs")
    fmt = st.column_config.NumberColumn
    widgets.table(
        wk.sort_values("kappa_quadratic", kind="stable"),
        key="weighted_kappa",
        rows=20,
        noun="pairs",
        open_page=(nav.BY_FILE["annotator.py"].path, "annotator", "worker_a", {"version": version.id}),
        column_config={
            "worker_a": "annotator A",
            "worker_b": "annotator B",
            "shared": fmt("shared tasks", format="%d"),
            "agreement": fmt("share agreeing", format="percent"),
            "kappa": fmt("κ", format="%.3f"),
            "kappa_linear": fmt("linear κ", format="%.3f"),
            "kappa_quadratic": fmt("quadratic κ", format="%.3f"),
            "mean_abs_difference": fmt("mean |difference|", format="%.2f", help="in grade steps"),
        },
    )


if scale == "ordinal" and pairs is not None:
    weighted_kappa_section()

# ---- aggregators
st.subheader("Aggregators")
st.caption(
    f"**Tie rule:** {aggregation.TIE_RULE}. Label order (tie order): {', '.join(widgets.text(x) for x in run.labels)}."
)
picked = st.multiselect(
    "Methods",
    list(aggregation.METHODS),
    default=list(aggregation.FAST_METHODS),
    format_func=aggregation.METHODS.get,
    key="methods",
    help="Majority vote, Wawa and (one-coin) Dawid-Skene run at once where they take a few seconds (on runs over "
    f"{widgets.LARGE_RUN_ANSWERS:,} labeling-pool answers majority vote only); GLAD, MACE and any method "
    f"estimated over {aggregation.ON_REQUEST_SECONDS:.0f} s on this run, only when started.",
)
# the answers the aggregators count: the labeling pool's (item_agreement has one row per aggregated task)
pool_answers = summary.answers if items is None else int(items["answers"].sum())


def aggregations(methods) -> dict:
    """method -> its aggregation, for the methods that are cheap here or were started with their button."""
    out = {}
    for m in methods:
        wait = data.on_request(version.id, m)
        est = (data.estimate_seconds(version.id, "aggregate", method=m) or 0.0) if wait else 0.0
        name = aggregation.METHODS[m]
        large = data.waits_on_large_run(version.id, m)
        why = (
            f" On runs over {widgets.LARGE_RUN_ANSWERS:,} labeling-pool answers only majority vote runs on open."
            if large
            else ""
        )
        result = widgets.computed_on_request(
            f"aggregate_{version.id}_{m}",
            f"Run {name}",
            f"{name} on {pool_answers:,} answers {widgets.takes(m, est)}.{why}",
            needed=wait,
            button_key=f"start_{m}",
            spinner=f"Running {name} on {pool_answers:,} answers…",
            seconds=est,
            bound=aggregation.estimate_is_bound(m),
            compute=lambda m=m: data.metric(version.id, "aggregate", method=m),
        )
        result = None if result is None else widgets.available(result)
        if result is not None:
            out[m] = result
    return out


def accuracy_columns(m: str, ref: str) -> dict:
    """One method's accuracy against the control tasks' known answers or the ground truth, as table columns."""
    acc = widgets.available(data.metric(version.id, f"accuracy_vs_{ref}", method=m), quiet=True)
    if acc is None:
        return {f"{ref}: accuracy": None}
    return {
        f"{ref}: tasks": acc.tasks,
        f"{ref}: correct": acc.correct,
        f"{ref}: accuracy": acc.accuracy,
        f"{ref}: 95 % CI low": acc.ci_low,
        f"{ref}: 95 % CI high": acc.ci_high,
        f"{ref}: ties counted wrong": acc.strict,
        f"{ref}: ties at random": acc.expected,
    }


def comparison(ready: dict, refs: list[str]) -> pd.DataFrame:
    """One row per aggregation: its size, ties, time, labels changed against majority vote, accuracy."""
    mv = ready.get("mv")
    rows = []
    for m, agg in ready.items():
        row = {"method": aggregation.METHODS[m], "tasks labeled": len(agg.labels), "tied": agg.n_tied}
        row["ties in its majority-vote start"], row["seconds"] = agg.start_tied, agg.seconds
        if mv is not None:
            both = (agg.codes >= 0) & (mv.codes >= 0)
            row["labels ≠ majority vote"] = int((agg.codes[both] != mv.codes[both]).sum())
        for ref in refs:
            row.update(accuracy_columns(m, ref))
        rows.append(row)
    return pd.DataFrame(rows)


def show_accuracy(comp: pd.DataFrame, refs: list[str]) -> None:
    for ref in refs:
        col = f"{ref}: accuracy"
        if col in comp and comp[col].notna().any():
            plot = comp[comp[col].notna()].rename(
                columns={
                    col: "accuracy",
                    f"{ref}: 95 % CI low": "ci_low",
                    f"{ref}: 95 % CI high": "ci_high",
                    f"{ref}: correct": "correct",
                    f"{ref}: tasks": "tasks",
                }
            )
            against = "the control tasks’ known answers" if ref == "golden" else "the ground truth"
            st.markdown(
                f"**Accuracy against {against}** ({int(plot['tasks'].iloc[0]):,} tasks; bars: 95 % Wilson interval)"
            )
            st.plotly_chart(charts.accuracy_by_method(plot), width="stretch", key=f"acc_{ref}")
        elif col in comp:
            st.info(
                f"No accuracy against {ref}: "
                + ("the run has no control tasks with a known answer." if ref == "golden" else "no ground truth.")
            )


ready = aggregations(picked)
refs = ["golden"] + (["truth"] if run.truth is not None and len(run.truth) else [])
if ready:
    comp = comparison(ready, refs)
    aggregator_table(comp, refs)
    show_accuracy(comp, refs)
    st.caption(
        "Accuracy on control tasks measures the aggregate where annotators could be judged; "
        "control tasks get the same overlap as the rest. "
        "“Ties counted wrong” and “ties at random” show how much the tie rule moves the figure."
    )


def scale_aggregates() -> None:
    """Ordinal and numeric runs: the per-task median and mean, with MAE / RMSE against golden and truth."""
    st.subheader("Median and mean on the scale")
    st.caption(f"**Median rule:** {MEDIAN_RULE}. Errors are in the scale's numbers, over the tasks with a reference.")
    rows = []
    for m, name in METHODS.items():
        agg = widgets.available(data.metric(version.id, "scale_aggregate", method=m))
        if agg is None:
            continue
        row = {"method": name, "tasks": len(agg), "tied": int(agg["tied"].sum()) if m == "median" else None}
        for ref in ("golden", "truth"):
            e = widgets.available(data.metric(version.id, "scale_error", reference=ref, method=m), quiet=True)
            if e is not None:
                row |= {f"{ref}_tasks": e.tasks, f"{ref}_mae": e.mae, f"{ref}_rmse": e.rmse, f"{ref}_bias": e.bias}
        rows.append(row)
    if not rows:
        return
    table = pd.DataFrame(rows)
    fmt = st.column_config.NumberColumn
    cfg = {"method": "aggregate", "tasks": fmt("tasks", format="%d"), "tied": fmt("ties", format="%d")}
    for ref, n in (("golden", "control"), ("truth", "truth")):
        cfg |= {
            f"{ref}_tasks": fmt(f"{n} tasks", format="%d"),
            f"{ref}_mae": fmt(f"{n} MAE", format="%.3f", help="mean absolute error"),
            f"{ref}_rmse": fmt(f"{n} RMSE", format="%.3f", help="root mean squared error"),
            f"{ref}_bias": fmt(f"{n} bias", format="%+.3f", help="mean aggregate − reference"),
        }
    st.dataframe(table, hide_index=True, width="stretch", column_config=cfg, placeholder=widgets.EMPTY_CELL)
    if not any(c.endswith("_mae") for c in table.columns):
        st.info("No error to show: the run has neither control tasks with a known answer nor a truth file.")


if scale != "nominal":
    scale_aggregates()

# ---- disagreements
st.subheader("Where the aggregators disagree")
methods = tuple(m for m in aggregation.METHODS if m in ready)
dis = None
if len(methods) < 2:
    hint = "Start another method picked above (its button)" if len(picked) >= 2 else "Pick at least two methods"
    st.info(f"{hint} to compare their labels.")
else:
    dis = widgets.available(data.metric(version.id, "aggregator_disagreements", methods=methods))
if dis is not None:
    n_tasks = len(ready[methods[0]].labels)
    st.caption(
        f"{len(dis):,} of {n_tasks:,} tasks ({widgets.pct(len(dis) / max(1, n_tasks))}) get different labels from "
        f"{', '.join(aggregation.METHODS[m] for m in methods)}; least confident first."
    )
    if len(dis):
        cfg = {}
        for m in methods:
            cfg[m] = st.column_config.TextColumn(aggregation.METHODS[m])
            cfg[f"{m}_confidence"] = st.column_config.NumberColumn(
                "conf.", format="%.0f %%", help=f"{aggregation.METHODS[m]}'s probability of its label", width="small"
            )
        shown_dis = dis.assign(**{f"{m}_confidence": 100 * dis[f"{m}_confidence"] for m in methods})
        widgets.table(
            shown_dis,
            key="disagreements",
            rows=20,
            noun="tasks",
            column_config=cfg,
            prepare=task_links,
            open_page=OPEN_TASK,
        )
