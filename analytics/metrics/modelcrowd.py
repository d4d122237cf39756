"""A model's predictions set against the crowd: agreement with the aggregate, CROWDLAB and active-learning scores.

The predictions travel on the run (``meta.extra["predictions"][<model>]``, put there by
analytics.sources.predictions.attach_predictions); the crowd's figures never see them. CROWDLAB
(Goh, Tkachenko, Mueller 2022) is cleanlab's ``get_label_quality_multiannotator``: a consensus
label per task from the annotators' labels and the model's probabilities, its quality score, and
each annotator's quality; ``get_active_learning_scores`` scores each task by how much another
label would be worth (lowest first). Both run on the dense tasks x annotators matrix of the
labeling pool's answers (one per worker and task), over the tasks the model predicts.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analytics.kernels import wilson_interval
from analytics.metrics._base import MetricUnavailable
from analytics.metrics.aggregation import Aggregation, golden_codes, pool_codes, truth_codes
from analytics.model import Run

EXTRA_KEY = "predictions"  # as analytics.sources.predictions.EXTRA_KEY (metrics do not import sources)
MAX_CELLS = 20_000_000  # tasks x annotators of the dense matrix cleanlab needs


def _model(run: Run, model: str) -> tuple[str, dict]:
    found = dict((run.meta.extra or {}).get(EXTRA_KEY) or {})
    if not found:
        raise MetricUnavailable(
            "the run carries no model predictions (import them with --predictions FILE)", missing_field="predictions"
        )
    name = model or next(iter(found))
    if name not in found:
        raise MetricUnavailable(f"no predictions of a model {name!r}; the run has {sorted(found)}")
    return name, found[name]


def _predicted(run: Run, model: str) -> tuple[str, np.ndarray, np.ndarray, np.ndarray | None]:
    """(name, task codes, label codes (-1 none), probabilities (n, L) or None) of a model's predictions."""
    name, doc = _model(run, model)
    c = run.codes
    tasks = c.task_names.get_indexer(pd.Index(doc["tasks"], dtype="str"))
    labels = c.labels.get_indexer(pd.Index([x if x is not None else "" for x in doc["labels"]], dtype="str"))
    probas = None if doc.get("probabilities") is None else np.asarray(doc["probabilities"], dtype=np.float64)
    keep = tasks >= 0
    return name, tasks[keep], labels[keep], None if probas is None else probas[keep]


@dataclass(frozen=True)
class ModelAgreement:
    """A model against the crowd's aggregate on the tasks both label: ``agreement`` (share equal,
    Wilson interval), Cohen's ``kappa``, and each one's accuracy against golden and truth on the
    same tasks (None where unknown)."""

    model: str
    method: str
    tasks: int
    agree: int
    agreement: float
    ci_low: float
    ci_high: float
    kappa: float
    accuracy: dict

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _kappa(a: np.ndarray, b: np.ndarray, n_labels: int) -> float:
    po = float((a == b).mean())
    pe = float((np.bincount(a, minlength=n_labels) * np.bincount(b, minlength=n_labels)).sum()) / len(a) ** 2
    return float("nan") if pe >= 1 else (po - pe) / (1 - pe)


def model_agreement(run: Run, aggregation: Aggregation, model: str = "") -> ModelAgreement:
    """How often model ``model`` (default: the first) gives the crowd's aggregated label."""
    name, tasks, labels, _ = _predicted(run, model)
    crowd = aggregation.codes[tasks]
    both = (labels >= 0) & (crowd >= 0)
    if not both.any():
        raise MetricUnavailable(f"the model {name!r} predicts none of the aggregated tasks")
    t, m, cr = tasks[both], labels[both], crowd[both]
    agree = int((m == cr).sum())
    low, high = wilson_interval(np.array([agree]), np.array([len(t)]))
    accuracy: dict[str, Any] = {}
    refs = {"golden": golden_codes(run)}
    try:
        refs["truth"] = truth_codes(run)
    except MetricUnavailable:
        pass
    for ref_name, ref in refs.items():
        known = ref[t] >= 0
        if known.any():
            accuracy[ref_name] = {
                "tasks": int(known.sum()),
                "model": float((m[known] == ref[t][known]).mean()),
                "crowd": float((cr[known] == ref[t][known]).mean()),
            }
    kappa = _kappa(m, cr, run.codes.n_labels)
    return ModelAgreement(
        name, aggregation.method, int(len(t)), agree, agree / len(t), float(low[0]), float(high[0]), kappa, accuracy
    )


def _cleanlab_inputs(run: Run, model: str) -> tuple[str, pd.DataFrame, np.ndarray]:
    """(model name, labels_multiannotator: tasks x annotators with NaN where unanswered, pred_probs)."""
    name, tasks, _, probas = _predicted(run, model)
    if probas is None:
        raise MetricUnavailable(f"the predictions of {name!r} have no per-label probabilities (p_<label> columns)")
    _, t, w, lab = pool_codes(run)
    c = run.codes
    row_of = np.full(c.n_tasks, -1, dtype=np.int64)
    answered = np.bincount(t, minlength=c.n_tasks) > 0
    keep = answered[tasks]
    tasks, probas = tasks[keep], probas[keep]
    order = np.argsort(np.asarray(c.task_names, dtype=object)[tasks], kind="stable")
    tasks, probas = tasks[order], probas[order]
    row_of[tasks] = np.arange(len(tasks))
    sel = row_of[t] >= 0
    workers = np.unique(w[sel])
    if len(tasks) * len(workers) > MAX_CELLS:
        raise MetricUnavailable(
            f"{len(tasks):,} tasks x {len(workers):,} annotators is too large for cleanlab's dense matrix "
            f"(at most {MAX_CELLS:,} cells)"
        )
    if len(tasks) == 0:
        raise MetricUnavailable(f"the model {name!r} predicts none of the labeling pool's tasks")
    wnames = np.asarray(c.worker_names, dtype=object)[workers]
    worder = np.argsort(wnames, kind="stable")
    col_of = np.full(c.n_workers, -1, dtype=np.int64)
    col_of[workers[worder]] = np.arange(len(workers))
    matrix = np.full((len(tasks), len(workers)), np.nan)
    r, col, v = row_of[t[sel]], col_of[w[sel]], lab[sel].astype(np.float64)
    # one label per (task, annotator): a repeated answer keeps the lowest label code (row order never decides)
    pairs = pd.DataFrame({"r": r, "c": col, "v": v}).groupby(["r", "c"], sort=False)["v"].min()
    matrix[pairs.index.get_level_values(0), pairs.index.get_level_values(1)] = pairs.to_numpy()
    frame = pd.DataFrame(
        matrix,
        index=pd.Index(np.asarray(c.task_names, dtype=object)[tasks], name="task_id", dtype="str"),
        columns=pd.Index(wnames[worder], name="worker_id", dtype="str"),
    )
    return name, frame, probas


@dataclass(frozen=True)
class CrowdLab:
    """CROWDLAB through cleanlab: ``tasks`` (index task_id: ``consensus_label``,
    ``consensus_quality_score``, ``annotator_agreement``, ``num_annotations``) and ``annotators``
    (index worker_id: ``annotator_quality``, ``agreement_with_consensus``, ``num_examples_labeled``,
    ...: cleanlab's annotator_stats); ``model_weight`` is cleanlab's weight of the model."""

    model: str
    tasks: pd.DataFrame
    annotators: pd.DataFrame
    model_weight: float | None


def crowdlab(run: Run, model: str = "") -> CrowdLab:
    """cleanlab.multiannotator.get_label_quality_multiannotator on the run's answers and the
    model's probabilities (consensus_method ``best_quality``, quality_method ``crowdlab``)."""
    from cleanlab.multiannotator import get_label_quality_multiannotator

    name, labels, probas = _cleanlab_inputs(run, model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = get_label_quality_multiannotator(labels, probas, verbose=False, return_weights=True)
    tasks = out["label_quality"].copy()
    tasks.index = labels.index
    tasks["consensus_label"] = pd.Categorical.from_codes(
        tasks["consensus_label"].to_numpy(dtype=np.int64), categories=list(run.labels)
    )
    annotators = out["annotator_stats"].copy()
    annotators.index = annotators.index.astype(str).rename("worker_id")
    weight = out.get("model_weight")
    return CrowdLab(name, tasks, annotators.sort_index(), None if weight is None else float(weight))


def active_learning_scores(run: Run, model: str = "") -> pd.DataFrame:
    """cleanlab.multiannotator.get_active_learning_scores per task: lowest first (the task another
    label is worth most on). Index ``task_id``; columns ``score``, ``rank`` (1 = first to relabel)."""
    from cleanlab.multiannotator import get_active_learning_scores

    _, labels, probas = _cleanlab_inputs(run, model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores, _ = get_active_learning_scores(labels, probas)
    out = pd.DataFrame({"score": np.asarray(scores, dtype=np.float64)}, index=labels.index)
    names = np.asarray(out.index, dtype=object)
    out = out.iloc[np.lexsort((names, out["score"].to_numpy()))]
    out["rank"] = np.arange(1, len(out) + 1)
    return out


__all__ = ["CrowdLab", "ModelAgreement", "active_learning_scores", "crowdlab", "model_agreement"]
