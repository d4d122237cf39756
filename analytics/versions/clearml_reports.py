"""What a published version's ClearML page shows: tables, a label histogram, plotly charts and sample inputs.

:func:`version_reports` turns a run into :class:`Report` items, every figure asked of the metric
registry (:func:`analytics.metrics.registry.outcome`); a figure that is unavailable is skipped
and its reason becomes a row of the summary table. :func:`send` hands the items to a ClearML
``Logger`` (``Dataset.get_logger()``): ``report_table`` for the summary and the per-annotator
table, ``report_histogram`` for the label distribution, ``report_plotly`` for the cost-quality
curve and the agreement charts, ``report_media`` for a few sample inputs when they are images
stored locally (under ``media_root``, the workspace). The figures are plain plotly built here:
analytics never imports the dashboard.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from analytics.metrics import MetricUnavailable, registry
from analytics.model import Run

SUMMARY = "Summary"
ANNOTATORS = "Annotators"
LABELS = "Label distribution"
CURVE = "Cost-quality curve"
AGREEMENT = "Agreement"
SAMPLES = "Sample inputs"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp")
MAX_TABLE_ROWS = 500  # a ClearML table plot is one event; larger tables are cut (the summary says so)


@dataclasses.dataclass(frozen=True)
class Report:
    """One logger call: ``kind`` is table, histogram, plotly or media; ``payload`` what it reports."""

    kind: str
    title: str
    series: str
    payload: Any


def version_reports(run: Run, *, media_root: str | Path | None = None, max_media: int = 6) -> list[Report]:
    """The reports of a run, the summary table first (its figures, then what was skipped and why)."""
    skipped: list[tuple[str, str]] = []
    reports = [
        *_annotators(run, skipped),
        *_labels(run, skipped),
        *_curve(run, skipped),
        *_agreement(run, skipped),
        *_samples(run, media_root, max_media, skipped),
    ]
    return [Report("table", SUMMARY, "figures", summary_table(run, skipped)), *reports]


def send(logger: Any, reports: Sequence[Report]) -> None:
    """Report each item through a ClearML ``Logger`` (iteration 0: a version is one snapshot)."""
    for r in reports:
        if r.kind == "table":
            logger.report_table(r.title, r.series, iteration=0, table_plot=r.payload)
        elif r.kind == "histogram":
            values, labels, axes = r.payload
            logger.report_histogram(
                r.title, r.series, values=values, iteration=0, xlabels=labels, xaxis=axes[0], yaxis=axes[1]
            )
        elif r.kind == "plotly":
            logger.report_plotly(r.title, r.series, figure=r.payload, iteration=0)
        elif r.kind == "media":
            logger.report_media(r.title, r.series, iteration=0, local_path=str(r.payload))
        else:
            raise ValueError(f"unknown report kind {r.kind!r}")


# ---- the summary


def _figure(run: Run, name: str, skipped: list[tuple[str, str]], what: str | None = None) -> Any:
    """The registry's result, or None with the reason noted under ``what`` (the figure's name)."""
    result = registry.outcome(run, name)
    if isinstance(result, MetricUnavailable):
        skipped.append((what or name, str(result.in_source(run))))
        return None
    return result


def _num(x: Any, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return ""
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def _accuracy_row(acc: Any) -> str:
    return f"{_num(acc.accuracy, 3)} [{_num(acc.ci_low, 3)}, {_num(acc.ci_high, 3)}] on {acc.tasks} tasks"


def summary_table(run: Run, skipped: Sequence[tuple[str, str]] = ()) -> pd.DataFrame:
    """Field/value rows: spend, cost per label, accuracy with intervals, agreement, the run's setup, the skips."""
    notes: list[tuple[str, str]] = []
    rows = _money_rows(run, notes) + _quality_rows(run, notes)
    meta = run.meta
    rows += [
        ("answers", str(len(run.answers))),
        ("tasks", str(run.answers["task_id"].nunique())),
        ("annotators", str(run.answers["worker_id"].nunique())),
        ("overlap", "" if meta.overlap is None else str(meta.overlap)),
        ("pools", ", ".join(f"{p.pool_id} ({p.kind})" for p in meta.pools)),
        ("language", meta.language or ""),
    ]
    rows += [(f"skipped: {what}", reason) for what, reason in (*notes, *skipped)]
    return pd.DataFrame({"field": [k for k, _ in rows], "value": [v for _, v in rows]})


def _money_rows(run: Run, notes: list[tuple[str, str]]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    spend = _figure(run, "spend", notes)
    if spend is None:
        return rows
    if spend.total is None:
        notes.append(("spend", str(spend.missing or "the run has no rewards")))
        return rows
    cur = spend.currency or ""
    rows += [(f"total spend ({cur})", _num(spend.total)), (f"rewards ({cur})", _num(spend.rewards))]
    rows += [(f"fees ({cur})", _num(spend.fees)), (f"bonuses ({cur})", _num(spend.bonuses))]
    cost = _figure(run, "cost_breakdown", notes, "cost per label")
    for key, label in (("cost_per_final_label", "cost per final label"), ("cost_per_answer", "cost per answer")):
        if cost is not None and getattr(cost, key) is not None:
            rows.append((label, _num(getattr(cost, key), 5)))
        elif cost is not None:
            notes.append((label, str(cost.reasons.get(key) or "unknown")))
    return rows


def _quality_rows(run: Run, notes: list[tuple[str, str]]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for name, label in (("accuracy_vs_golden", "accuracy vs golden"), ("accuracy_vs_truth", "accuracy vs truth")):
        acc = _figure(run, name, notes, label)
        if acc is not None:
            rows.append((label, _accuracy_row(acc)))
    wrong = _figure(run, "expected_wrong", notes, "expected wrong labels")
    if wrong is not None:
        rows.append(("expected wrong labels", f"{_num(wrong.expected, 1)} [{wrong.low}, {wrong.high}]"))
    agreement = _figure(run, "run_agreement", notes, "agreement")
    if agreement is not None:
        rows += [("Krippendorff's alpha", _num(agreement.krippendorff_alpha, 3))]
        rows += [("Fleiss' kappa", _num(agreement.fleiss_kappa, 3))]
    return rows


# ---- tables and charts


def _as_text(df: pd.DataFrame) -> pd.DataFrame:
    """A table ClearML can plot: the index as a column, values as short text, at most MAX_TABLE_ROWS rows."""
    df = df.reset_index().head(MAX_TABLE_ROWS)

    def cell(x: Any) -> str:
        if x is None or x is pd.NA or (isinstance(x, float) and not math.isfinite(x)):
            return ""
        return f"{x:.4g}" if isinstance(x, float) else str(x)

    return pd.DataFrame({str(c): [cell(x) for x in df[c].tolist()] for c in df.columns})


def _annotators(run: Run, skipped: list[tuple[str, str]]) -> list[Report]:
    import analytics.people  # noqa: F401 (registers annotator_table in the registry)

    table = _figure(run, "annotator_table", skipped, "per-annotator table")
    if table is None:
        return []
    if len(table) > MAX_TABLE_ROWS:
        skipped.append(("annotators beyond the first", f"{MAX_TABLE_ROWS} of {len(table)} rows are shown"))
    return [Report("table", ANNOTATORS, "per annotator", _as_text(table))]


def _labels(run: Run, skipped: list[tuple[str, str]]) -> list[Report]:
    out = []
    for name, series in (("label_distribution", "answers"), ("aggregated_label_distribution", "aggregated labels")):
        dist = _figure(run, name, skipped, f"label distribution ({series})")
        if dist is not None and len(dist):
            values = [int(v) for v in dist["count"].tolist()]
            out.append(Report("histogram", LABELS, series, (values, [str(x) for x in dist.index], ("label", series))))
    return out


def _curve(run: Run, skipped: list[tuple[str, str]]) -> list[Report]:
    import plotly.graph_objects as go

    curve = _figure(run, "cost_quality_curve", skipped, "cost-quality curve")
    if curve is None:
        return []
    points = curve.points
    known = {r: points[f"{r}_accuracy"].notna().any() for r in ("truth", "golden")}
    ref = next((r for r, ok in known.items() if ok), None)
    if ref is None or points["cost_per_final_label"].isna().all():
        why = "no accuracy to draw: the run has no control tasks with known answers and no ground truth"
        skipped.append(("cost-quality curve", why if ref is None else "the cost per label is unknown"))
        return []
    fig = go.Figure()
    for basis, part in points.groupby("basis", sort=False):
        measured = part[f"{ref}_accuracy"].notna().any()
        y = part[f"{ref}_accuracy"] if measured else part["model_accuracy"]
        err = (part[f"{ref}_ci_high"] - y, y - part[f"{ref}_ci_low"]) if measured else (None, None)
        fig.add_trace(
            go.Scatter(
                x=part["cost_per_final_label"].astype(float).tolist(),
                y=y.astype(float).tolist(),
                mode="lines+markers+text",
                text=[f"overlap {k}" for k in part.index],
                name=str(basis),
                error_y=None if err[0] is None else {"array": err[0].tolist(), "arrayminus": err[1].tolist()},
            )
        )
    fig.update_layout(
        title=f"Accuracy vs {ref} against cost per final label ({curve.currency or 'cost'})",
        xaxis_title=f"cost per final label ({curve.currency or ''})".strip(),
        yaxis_title=f"accuracy vs {ref}",
    )
    return [Report("plotly", CURVE, f"accuracy vs {ref}", fig)]


def _agreement(run: Run, skipped: list[tuple[str, str]]) -> list[Report]:
    import plotly.graph_objects as go

    out = []
    summary = _figure(run, "run_agreement", [], None)  # its reason is in the summary already
    if summary is not None:
        names = ["Krippendorff's alpha", "Fleiss' kappa"]
        values = [summary.krippendorff_alpha, summary.fleiss_kappa]
        fig = go.Figure(go.Bar(x=names, y=[None if v is None else float(v) for v in values]))
        fig.update_layout(title=f"Agreement over {summary.items} items", yaxis_title="coefficient")
        out.append(Report("plotly", AGREEMENT, "run", fig))
    workers = _figure(run, "worker_agreement", skipped, "agreement per annotator")
    if workers is not None and len(workers):
        fig = go.Figure(go.Histogram(x=workers["agreement"].astype(float).tolist(), nbinsx=20))
        fig.update_layout(
            title="Each annotator's agreement with the aggregate",
            xaxis_title="share of answers equal to the aggregated label",
            yaxis_title="annotators",
        )
        out.append(Report("plotly", AGREEMENT, "per annotator", fig))
    return out


# ---- sample inputs


def _samples(run: Run, media_root: str | Path | None, limit: int, skipped: list[tuple[str, str]]) -> list[Report]:
    """Up to ``limit`` inputs that are image files on this machine (paths relative to ``media_root``)."""
    found: list[Report] = []
    columns = [
        c for c in run.tasks.columns if run.tasks[c].dtype == object or pd.api.types.is_string_dtype(run.tasks[c])
    ]
    for task_id, row in run.tasks[columns].iterrows():
        for value in row.dropna().astype(str):
            path = _local_image(value, media_root)
            if path is not None:
                found.append(Report("media", SAMPLES, str(task_id), path))
                break
        if len(found) >= limit:
            break
    if not found:
        skipped.append(("sample inputs", "no task input is an image file available locally (URLs are not fetched)"))
    return found


def _local_image(value: str, media_root: str | Path | None) -> Path | None:
    if "://" in value or not value.lower().endswith(IMAGE_SUFFIXES):
        return None
    path = Path(value)
    if not path.is_absolute():
        if media_root is None:
            return None
        path = Path(media_root) / path
    return path if path.is_file() else None
