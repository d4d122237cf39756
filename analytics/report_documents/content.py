"""What a report document says, in order, as plain text and tables: one model for the HTML and the PDF.

:func:`build_document` starts from :func:`analytics.report.build_report` (the report JSON) and the
registry's results for the charts, and gives a :class:`Document`: the answer first (total spend,
cost per final label, accuracy with its interval, expected wrong labels), then the sections
(analytics.report_documents.sections) and the version, lineage, date and method it is about. Every
string here is plain text, straight from the data: the HTML renderer escapes it, the PDF draws it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, Mapping, Sequence

from analytics.model import Run
from analytics.report import build_report
from analytics.report_documents import fmt, sections
from analytics.report_documents.model import Document, Fact
from analytics.sources.store import VersionInfo, short_id


def _reason(rep: Mapping[str, Any], *keys: str) -> str:
    unavailable = rep.get("unavailable") or {}
    for key in keys:
        if key in unavailable:
            return str(unavailable[key])
    return "not in the report"


def _cost_facts(rep: Mapping[str, Any]) -> list[Fact]:
    co = rep["cost"]
    cur = co.get("currency", "")
    if co.get("total") is None:
        why = _reason(rep, "cost.total", "cost", "cost.rewards")
        return [
            Fact("Total spend", "not known", why, known=False),
            Fact("Cost per final label", "not known", "needs the total spend", known=False),
        ]
    parts = ", ".join(f"{k} {fmt.money(co.get(k), cur)}" for k in ("rewards", "fees", "bonuses"))
    total = Fact("Total spend", fmt.money(co["total"], cur), parts)
    if co.get("per_label") is None:
        return [total, Fact("Cost per final label", "not known", _reason(rep, "cost.per_label"), known=False)]
    behind = f"{fmt.money(co['total'], cur)} over {fmt.count(co.get('final_labels'))} final labels"
    return [total, Fact("Cost per final label", fmt.money(co["per_label"], cur), behind)]


def _accuracy_fact(rep: Mapping[str, Any], reference: str, has_truth: bool) -> Fact | None:
    a = rep["aggregation"]
    d = a.get(reference)
    if reference == "golden":
        label, what = "Accuracy against control tasks", "control tasks with a known answer"
    else:
        label, what = "Accuracy against ground truth", "tasks with ground truth"
    if not d or d.get("accuracy") is None:
        if reference == "truth" and not has_truth:
            return None  # the run has no ground truth: nothing to say about it on the first page
        return Fact(label, "not measured", _reason(rep, f"aggregation.accuracy_vs_{reference}"), known=False)
    detail = f"{fmt.interval(d['ci_low'], d['ci_high'])}; {fmt.of(d['correct'], d['tasks'], what)}"
    if reference == "truth":
        detail += f"; {fmt.count(d['tasks'] - d['correct'])} wrong"
    return Fact(label, fmt.pct(d["accuracy"]), detail)


def _expected_wrong_fact(rep: Mapping[str, Any]) -> Fact:
    """``quality.expected_wrong`` where the report has it (a number, or a dict with the estimate,
    its interval and the labels it is of); 'not estimated' otherwise."""
    q = (rep.get("quality") or {}).get("expected_wrong")
    label = "Expected wrong labels"
    if q is None:
        why = _reason(rep, "quality.expected_wrong") if "quality.expected_wrong" in rep["unavailable"] else ""
        return Fact(label, "not estimated", why or "this report has no estimate of the wrong labels", known=False)
    if not isinstance(q, Mapping):
        return Fact(label, fmt.count(round(float(q))), f"of {fmt.count(rep['cost'].get('final_labels'))} final labels")
    value = next((q[k] for k in ("expected", "value", "labels", "count") if q.get(k) is not None), None)
    if value is None:
        return Fact(label, "not estimated", str(q.get("reason") or "no estimate given"), known=False)
    parts = []
    low, high = q.get("ci_low", q.get("low")), q.get("ci_high", q.get("high"))
    if low is not None and high is not None:
        parts.append(f"95 % interval {fmt.count(round(float(low)))}{fmt.DASH}{fmt.count(round(float(high)))}")
    if q.get("of", q.get("final_labels")) is not None:
        parts.append(f"of {fmt.count(q.get('of', q.get('final_labels')))} final labels")
    elif q.get("tasks") is not None:  # the report's own estimate: over every aggregated task
        parts.append(f"of {fmt.count(q['tasks'])} aggregated labels, from the aggregator's confidence")
    if q.get("basis"):
        parts.append(str(q["basis"]))
    return Fact(label, fmt.count(round(float(value))), "; ".join(parts))


def answer_facts(rep: Mapping[str, Any], has_truth: bool) -> tuple[Fact, ...]:
    """The first page's figures, in order (accuracy against truth only where the run has truth)."""
    facts = _cost_facts(rep)
    accuracy = (_accuracy_fact(rep, "golden", has_truth), _accuracy_fact(rep, "truth", has_truth))
    facts += [f for f in accuracy if f is not None]
    facts.append(_expected_wrong_fact(rep))
    return tuple(dataclasses.replace(f, group="cost" if i < 2 else "quality") for i, f in enumerate(facts))


def summary_sentence(rep: Mapping[str, Any]) -> str:
    """The answer in two sentences, from the same figures as the facts."""
    co, a = rep["cost"], rep["aggregation"]
    cur = co.get("currency", "")
    if co.get("total") is not None and co.get("per_label") is not None:
        out = (
            f"{fmt.count(co.get('final_labels'))} final labels cost {fmt.money(co['total'], cur)} in total, "
            f"{fmt.money(co['per_label'], cur)} a label."
        )
    else:
        out = "The spend of this run is not known."
    for reference, what in (("truth", "tasks with ground truth"), ("golden", "control tasks with a known answer")):
        d = a.get(reference)
        if d and d.get("accuracy") is not None:
            out += (
                f" Against {fmt.count(d['tasks'])} {what}, {fmt.pct(d['accuracy'])} of the final labels are right "
                f"({fmt.interval(d['ci_low'], d['ci_high'])})."
            )
            break
    else:
        out += " Their accuracy could not be measured: the run has no control tasks or ground truth."
    return out


def run_facts(rep: Mapping[str, Any]) -> tuple[Fact, ...]:
    """The size of the run and the agreement, each with its count."""
    kinds = rep.get("kinds") or {}
    g, c = rep["agreement"], rep["control"]
    by_kind = ", ".join(f"{fmt.count(n)} {k}" for k, n in kinds.items() if n)
    out = [
        Fact("Answers", fmt.count(rep["answers"]), by_kind or "answers in the run"),
        Fact("Tasks", fmt.count(rep["tasks"]), f"{fmt.count(rep['aggregation'].get('tasks'))} with a final label"),
        Fact("Annotators", fmt.count(rep["workers"]), "who gave at least one answer"),
        Fact(
            "Krippendorff's alpha",
            fmt.number(g.get("krippendorff_alpha")),
            f"on {fmt.count(g.get('items'))} tasks, {fmt.count(g.get('answers'))} answers",
            known=g.get("krippendorff_alpha") is not None,
        ),
    ]
    if c.get("answers"):
        out.append(
            Fact("Control answers right", fmt.pct(c["accuracy"]), fmt.of(c["correct"], c["answers"], "control answers"))
        )
    return tuple(out)


def _version_text(v: VersionInfo | str) -> str:
    if isinstance(v, VersionInfo):
        return f"{v.name} {v.version} ({short_id(v.id)})"
    return f"id {short_id(str(v))}"


def lineage_text(version_info: VersionInfo | None, lineage: Sequence[VersionInfo | str]) -> str:
    """The ancestors oldest first, this version last: a → b → this; the parents' ids where only they are known."""
    chain = list(lineage) or list(version_info.parents if version_info else ())
    if version_info is None:
        return "not a stored version"
    if not chain:
        return "none: a first version"
    return " → ".join(_version_text(v) for v in chain) + " → this version"


def provenance(
    rep: Mapping[str, Any], version_info: VersionInfo | None, lineage: Sequence[VersionInfo | str], generated: str
) -> tuple[tuple[str, str], ...]:
    """What the report is about and how it was made: version, id, lineage, dates, method."""
    a = rep["aggregation"]
    if version_info is not None:
        rows = [("Version", version_info.label), ("Version id", version_info.id)]
        rows += [("Lineage", lineage_text(version_info, lineage)), ("Version created", fmt.date(version_info.created))]
    else:
        rows = [("Version", "not a stored version (read from files)")]
    rows += [
        ("Report generated", generated),
        ("Method", f"{a['method_name']} ({a['method']}); tie rule: {a['tie_rule']}"),
    ]
    if version_info is not None and version_info.metadata.get("description"):
        rows.append(("Description", str(version_info.metadata["description"])))
    return tuple(rows)


# the report's unavailable figures a document lists: those it shows (the rest are the JSON's detail)
SHOWN_UNAVAILABLE = ("cost", "aggregation.accuracy_vs_", "agreement", "control", "labels", "quality")


def shown_unavailable(key: str) -> bool:
    return key.startswith(SHOWN_UNAVAILABLE)


def unavailable_list(rep: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The figures the document could not show, those with the same reason together: (keys, reason)."""
    by_reason: dict[str, list[str]] = {}
    for key, why in (rep.get("unavailable") or {}).items():
        if shown_unavailable(key):
            by_reason.setdefault(str(why), []).append(key)
    return tuple((", ".join(keys), why) for why, keys in by_reason.items())


def title_of(run: Run, version_info: VersionInfo | None) -> tuple[str, str]:
    """The document's title and the project line under it."""
    project = (version_info.project if version_info else "") or run.meta.project or ""
    files = [str(f).replace("\\", "/").rsplit("/", 1)[-1] for f in run.meta.source_files]
    name = version_info.label if version_info else (project or ", ".join(files[:2]) or "Labeling run")
    return f"{name}: labeling report", project


def build_document(
    run: Run,
    version_info: VersionInfo | None = None,
    *,
    method: str = "mv",
    lineage: Sequence[VersionInfo | str] = (),
    generated_at: dt.datetime | str | None = None,
) -> Document:
    """The content of the report documents of ``run`` (see the module docstring)."""
    rep = build_report(run, method=method)
    generated = fmt.date(generated_at or dt.datetime.now(dt.timezone.utc))
    body, figures = sections.body(run, rep, method)
    title, project = title_of(run, version_info)
    simulated = bool(rep["run"].get("simulated")) or bool(version_info and version_info.simulated)
    return Document(
        title=title,
        project=project,
        simulated=simulated,
        summary=summary_sentence(rep),
        answer=answer_facts(rep, run.truth is not None),
        run_facts=run_facts(rep),
        provenance=provenance(rep, version_info, lineage, generated),
        sections=tuple(body),
        unavailable=unavailable_list(rep),
        figures=figures,
        report=rep,
    )
