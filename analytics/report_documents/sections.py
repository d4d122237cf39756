"""The body of a report document after the answer: where the money went, spend on banned annotators,
the cost-quality curve, agreement and the label distribution, each from the report JSON and the registry.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import plotly.graph_objects as go

from analytics.metrics import MetricUnavailable, registry
from analytics.model import Run
from analytics.report_documents import figures, fmt
from analytics.report_documents.model import Section, Table

BANNED_ROWS = 10  # annotators listed in the banned-spend table (the largest spend first)


def _result(run: Run, name: str, **params: Any) -> tuple[Any, str | None]:
    value = registry.outcome(run, name, **params)
    if isinstance(value, MetricUnavailable):
        return None, str(value)
    return value, None


def spend_section(rep: Mapping[str, Any]) -> Section:
    co = rep["cost"]
    cur = co.get("currency", "")
    reasons = tuple(dict.fromkeys(str(v) for k, v in rep["unavailable"].items() if k.startswith("cost")))
    if co.get("total") is None:
        return Section("spend", "Where the money went", ("The spend of this run is not known.",), notes=reasons)
    total = float(co["total"])
    rows = []
    for key in ("rewards", "fees", "bonuses"):
        value = co.get(key)
        share = fmt.pct(value / total) if value is not None and total else fmt.NOT_KNOWN
        rows.append((key.capitalize(), fmt.money(value, cur), share))
    rows.append(("Total", fmt.money(total, cur), fmt.pct(1.0) if total else fmt.NOT_KNOWN))
    text = (
        f"Of {fmt.money(total, cur)} in total, the rewards were {fmt.money(co.get('rewards'), cur)}, "
        f"the platform's fees {fmt.money(co.get('fees'), cur)} and bonuses {fmt.money(co.get('bonuses'), cur)}."
    )
    units = (
        f"Per answer {fmt.money(co.get('per_answer'), cur)}; per accepted assignment "
        f"{fmt.money(co.get('per_accepted_assignment'), cur)}; per final label {fmt.money(co.get('per_label'), cur)} "
        f"({fmt.count(co.get('final_labels'))} final labels: regular tasks with an accepted label)."
    )
    table = Table(("Part", "Spend", "Share"), tuple(rows), (False, True, True))
    return Section("spend", "Where the money went", (text, units), table, "spend", reasons)


def banned_section(run: Run) -> Section:
    title = "Spend on annotators later banned"
    b, why = _result(run, "spend_on_banned")
    if b is None:
        return Section("banned", title, (f"Not available: {why}",))
    cur = b.currency
    if not b.banned_workers:
        return Section(
            "banned", title, ("No annotator of this run was banned: nothing was spent on banned annotators.",)
        )
    share = f" ({fmt.pct(b.share_of_spend)} of the total spend)" if b.share_of_spend is not None else ""
    text = (
        f"{fmt.count(b.banned_workers)} annotators were banned. Before their ban they were paid for "
        f"{fmt.count(b.suites_before_ban)} task suites, {fmt.money(b.spend_before_ban, cur)}; after it for "
        f"{fmt.count(b.suites_after_ban)} suites, {fmt.money(b.spend_after_ban, cur)}; bonuses to them "
        f"{fmt.money(b.bonuses_to_banned, cur)}{share}."
    )
    rejected = (
        f"{fmt.count(b.rejected_suites)} task suites of the run were rejected (not paid; worth "
        f"{fmt.money(b.rejected_value, cur)})."
    )
    per = b.per_worker.sort_values(["spend", "suites"], ascending=False, kind="stable")
    rows = tuple(
        (str(wid), str(r["rule"]), fmt.date(r["banned_at"]), fmt.count(r["paid_suites"]), fmt.money(r["spend"], cur))
        for wid, r in per.head(BANNED_ROWS).iterrows()
    )
    table = Table(
        ("Annotator", "Banned by", "Banned at", "Paid suites", "Spend"), rows, (False, False, False, True, True)
    )
    more = (
        (f"The {BANNED_ROWS} with the largest spend of {fmt.count(len(per))} are listed.",)
        if len(per) > BANNED_ROWS
        else ()
    )
    return Section("banned", title, (text, rejected), table, None, more)


def _curve_rows(curve: Any, reference: str, with_cost: bool) -> tuple[tuple[str, ...], ...]:
    rows = []
    shown = figures.shown_overlaps(curve.points.index, curve.max_overlap)
    for k, p in curve.points.loc[shown].iterrows():
        observed = p["basis"] == "subsampled"
        if observed:
            low, high = p[f"{reference}_ci_low"], p[f"{reference}_ci_high"]
            accuracy = f"{fmt.pct(p[f'{reference}_accuracy'])} ({fmt.interval(low, high)})"
        elif reference == "golden":
            accuracy = f"{fmt.pct(p['model_accuracy'])} (model)"
        else:
            continue
        basis = "this run" if observed and k == curve.max_overlap else ("subsampled" if observed else "projection")
        cost = (fmt.money(p["cost_per_final_label"], curve.currency),) if with_cost else ()
        rows.append((str(k), *cost, accuracy, basis))
    return tuple(rows)


def curve_section(run: Run) -> tuple[Section, go.Figure | None]:
    title = "What more or fewer answers per task would buy"
    curve, why = _result(run, "cost_quality_curve")
    if curve is None:
        return Section("curve", title, (f"Not available: {why}",)), None
    reference = figures.curve_reference(curve.points)
    if reference is None:
        text = "The run has no control tasks or ground truth to measure the accuracy at each overlap against."
        return Section("curve", title, (text,)), None
    n_ref = curve.points[f"{reference}_tasks"].dropna()
    what = "control tasks" if reference == "golden" else "tasks with ground truth"
    text = (
        f"Accuracy of the majority vote of the first k answers of each task, for k = 1 to {curve.max_overlap} "
        f"(the run's overlap), measured on {fmt.count(int(n_ref.iloc[0]) if len(n_ref) else 0)} {what} "
        f"and averaged over {curve.repeats} random orders of the answers; beside each k, what a final label "
        "would have cost with that many answers."
    )
    notes = [
        f"{fmt.count(curve.tasks)} tasks with at least {curve.max_overlap} answers are used; "
        f"{fmt.count(curve.tasks_left_out)} with fewer are left out at every k.",
    ]
    with_cost = not curve.cost_missing
    if not with_cost:
        notes.append("The cost of each overlap is not known: the run's spend is not known.")
    if reference == "golden" and (curve.points["basis"] != "subsampled").any():
        notes.append(f"Beyond k = {curve.max_overlap} the figures are a projection. {curve.assumptions}")
    header = (
        "Answers per task",
        *(("Cost per final label",) if with_cost else ()),
        f"Accuracy vs {reference}",
        "Basis",
    )
    table = Table(
        header, _curve_rows(curve, reference, with_cost), (True, *((True,) if with_cost else ()), True, False)
    )
    return Section("curve", title, (text,), table, "curve", tuple(notes)), figures.curve_figure(curve)


def _alpha_reading(alpha: float | None) -> str:
    if alpha is None:
        return ""
    if alpha >= 0.8:
        return "By Krippendorff's rule of thumb the annotators agree reliably (0.8 or more)."
    if alpha >= 0.667:
        return "By Krippendorff's rule of thumb this allows tentative conclusions only (0.667 to 0.8)."
    return "By Krippendorff's rule of thumb this is low agreement (below 0.667): single answers are often wrong."


def agreement_section(run: Run, rep: Mapping[str, Any], method: str) -> tuple[Section, go.Figure | None]:
    g, o = rep["agreement"], rep["overlap"]
    title = "Agreement between annotators"
    if g.get("krippendorff_alpha") is None:
        return Section(
            "agreement", title, (f"Not available: {rep['unavailable'].get('agreement', 'no answers')}",)
        ), None
    text = [
        f"Krippendorff's alpha is {fmt.number(g['krippendorff_alpha'])} and Fleiss' kappa "
        f"{fmt.number(g.get('fleiss_kappa'))}, on {fmt.count(g.get('items'))} tasks with "
        f"{fmt.count(g.get('answers'))} answers (mean overlap {fmt.number(o.get('mean'), 2)} answers per task, "
        f"{fmt.count(o.get('min'))} to {fmt.count(o.get('max'))}). {_alpha_reading(g['krippendorff_alpha'])}"
    ]
    if g.get("items_unanimous") is not None:
        text.append(
            f"{fmt.of(g['items_unanimous'], rep['aggregation'].get('tasks'), 'tasks')} were unanimous; on average "
            f"{fmt.pct(g.get('mean_item_agreement'))} of a task's answers agree with its final label; the median "
            f"annotator agrees with the final label {fmt.pct(g.get('median_worker_agreement_with_aggregate'))} "
            "of the time."
        )
    pw = g.get("pairwise") or {}
    notes = ()
    if pw.get("pairs"):
        notes = (
            f"Median Cohen's kappa between pairs of annotators: {fmt.number(pw.get('median_kappa'))}, over "
            f"{fmt.count(pw['pairs'])} pairs with at least {fmt.count(pw.get('min_shared'))} tasks in common.",
        )
    items, _ = _result(run, "item_agreement", method=method)
    fig = figures.agreement_figure(items)
    return Section("agreement", title, tuple(text), None, "agreement" if fig else None, notes), fig


def labels_section(rep: Mapping[str, Any]) -> tuple[Section, go.Figure | None]:
    lab = rep["labels"]
    raw, final = lab.get("raw") or {}, lab.get("aggregated") or {}
    names = list(rep["run"].get("labels") or []) or list(raw) or list(final)
    n_raw, n_final = sum(raw.values()), sum(final.values())
    rows = tuple(
        (
            str(name),
            fmt.count(raw.get(name, 0)),
            fmt.pct(raw.get(name, 0) / n_raw) if n_raw else fmt.NOT_KNOWN,
            fmt.count(final.get(name, 0)) if final else fmt.NOT_KNOWN,
            fmt.pct(final.get(name, 0) / n_final) if n_final else fmt.NOT_KNOWN,
        )
        for name in names
    )
    rows += (
        ("Total", fmt.count(n_raw), fmt.pct(1.0) if n_raw else "", fmt.count(n_final), fmt.pct(1.0) if n_final else ""),
    )
    table = Table(("Label", "Answers", "Share", "Final labels", "Share"), rows, (False, True, True, True, True))
    text = (
        f"How the {fmt.count(n_raw)} labeled answers of the labeling pool and the {fmt.count(n_final)} final labels "
        "(after aggregation) divide between the labels.",
    )
    fig = figures.labels_figure({str(k): raw.get(k, 0) for k in names} if raw else None, final or None)
    return Section("labels", "Label distribution", text, table, "labels" if fig else None), fig


def body(run: Run, rep: Mapping[str, Any], method: str) -> tuple[list[Section], dict[str, go.Figure]]:
    """The sections in order and their charts (keyed as Section.figure names them)."""
    figs: dict[str, go.Figure] = {}
    spend = spend_section(rep)
    fig = figures.spend_figure(rep["cost"])
    if fig is not None:
        figs["spend"] = fig
    out = [spend if fig is not None else dataclasses.replace(spend, figure=None), banned_section(run)]
    for section, fig in (curve_section(run), agreement_section(run, rep, method), labels_section(rep)):
        out.append(section)
        if fig is not None and section.figure:
            figs[section.figure] = fig
    return out, figs
