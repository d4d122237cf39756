"""Model predictions as another annotator: read a predictions file and keep it on a run, apart from the crowd.

A predictions file (CSV, TSV, JSON lines or Parquet) has one row per task: the task id, the
predicted label and, where present, one probability column per label (``p_<label>``,
``prob_<label>``, ``proba_<label>`` or ``p:<label>``). :func:`attach_predictions` keeps them in
the run's ``meta.extra["predictions"][<name>]`` (stored in run.json with the version, published
with it), so the crowd's answers and every crowd figure stay as they were; the model's figures
(analytics.metrics.modelcrowd) read them from there. :func:`with_model_answers` gives, when asked,
a run in which the model is one more annotator, ``model:<name>``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from analytics.model import ProblemList, Run, build_run

EXTRA_KEY = "predictions"
TASK_COLUMNS = ("task_id", "task", "item", "question", "item_id")
LABEL_COLUMNS = ("label", "prediction", "predicted", "predicted_label", "pred")
PROBA_PREFIXES = ("p_", "prob_", "proba_", "p:", "proba:")
MODEL_PREFIX = "model:"


@dataclass(frozen=True)
class Predictions:
    """A model's predictions: ``labels`` (Series indexed by task_id, the predicted label; NaN where
    only probabilities were given), ``probas`` (DataFrame indexed by task_id, one column per label,
    rows summing to 1) or None, the model's ``name`` and the ``file`` it came from."""

    name: str
    labels: pd.Series
    probas: pd.DataFrame | None
    file: str = ""


def _table(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pd.read_parquet(path)
    if suffix in (".jsonl", ".ndjson"):
        return pd.read_json(path, lines=True, dtype=False)
    sep = "\t" if suffix in (".tsv", ".tab") else ","
    return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, na_values=[""])


def _proba_columns(columns: Sequence[str]) -> dict[str, str]:
    """column -> label for the probability columns."""
    out = {}
    for c in columns:
        for prefix in PROBA_PREFIXES:
            if str(c).startswith(prefix) and len(str(c)) > len(prefix):
                out[str(c)] = str(c)[len(prefix) :]
                break
    return out


def read_predictions(path: str | Path, *, name: str | None = None) -> Predictions:
    """Read a predictions file (see the module); one ValidationError with every problem found."""
    path = Path(path)
    problems = ProblemList(str(path))
    if not path.is_file():
        raise FileNotFoundError(f"predictions file not found: {path}")
    raw = _table(path)
    cols = [str(c) for c in raw.columns]
    raw.columns = cols
    task_col = next((c for c in TASK_COLUMNS if c in cols), None)
    label_col = next((c for c in LABEL_COLUMNS if c in cols), None)
    probas = _proba_columns(cols)
    if task_col is None:
        problems.add(
            f"no task column: the file has {cols[:12]}",
            f"name the column of task ids one of {', '.join(TASK_COLUMNS)}",
        )
    if label_col is None and not probas:
        problems.add(
            "no predicted label and no probability columns",
            f"add a column named one of {', '.join(LABEL_COLUMNS)}, or p_<label> probability columns",
        )
    problems.raise_if_errors()
    tasks = raw[task_col].astype(str).str.strip()
    dup = tasks.duplicated(keep=False).to_numpy()
    if dup.any():
        lines = (np.flatnonzero(dup) + 2).tolist()
        problems.add(
            f"{int(dup.sum()):,} rows repeat a task (first: {tasks[dup].iloc[0]!r})",
            "keep one prediction per task",
            lines=lines[:20],
        )
    frame = _probas(raw, probas, problems)
    problems.raise_if_errors()
    index = pd.Index(tasks.to_numpy(), name="task_id", dtype="str")
    if label_col is not None:
        labels = pd.Series(raw[label_col].astype(str).str.strip().to_numpy(), index=index, name="label")
        labels = labels.where(raw[label_col].notna().to_numpy())
    else:
        labels = pd.Series(np.nan, index=index, name="label", dtype=object)
    if frame is not None:
        frame.index = index
        missing = labels.isna().to_numpy()
        labels[missing] = frame.columns.to_numpy()[frame.to_numpy()[missing].argmax(axis=1)]
    return Predictions(name or path.stem, labels, frame, str(path))


def _probas(raw: pd.DataFrame, probas: dict[str, str], problems: ProblemList) -> pd.DataFrame | None:
    if not probas:
        return None
    values = raw[list(probas)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(values).any(axis=1) | (values < 0).any(axis=1)
    if bad.any():
        problems.add(
            f"{int(bad.sum()):,} rows have a missing, negative or non-numeric probability",
            "give every probability as a number >= 0",
            lines=(np.flatnonzero(bad) + 2).tolist()[:20],
        )
        return None
    total = values.sum(axis=1, keepdims=True)
    if (total <= 0).any():
        problems.add("some rows' probabilities are all 0", "give probabilities that sum to 1 per row")
        return None
    return pd.DataFrame(values / total, columns=list(probas.values()))


def attach_predictions(run: Run, predictions: Predictions) -> Run:
    """A copy of ``run`` carrying ``predictions`` (meta.extra["predictions"][name]), aligned to its
    label set: a label outside it is a ValidationError; tasks the run does not have are dropped (and
    counted in ``dropped_tasks``). The crowd's answers are not touched."""
    problems = ProblemList(predictions.file or predictions.name)
    known = list(run.labels)
    outside = sorted(set(predictions.labels.dropna()) - set(known))
    if predictions.probas is not None:
        outside = sorted(set(outside) | (set(predictions.probas.columns) - set(known)))
    if outside:
        problems.add(
            f"labels outside the run's label set {known}: {outside[:10]}",
            "predict the run's labels (same spelling), or import the run with --labels including them",
        )
    problems.raise_if_errors()
    in_run = predictions.labels.index.isin(run.codes.task_names)
    labels = predictions.labels[in_run]
    doc = {
        "file": predictions.file,
        "tasks": labels.index.astype(str).tolist(),
        "labels": [None if pd.isna(x) else str(x) for x in labels.to_numpy()],
        "probabilities": None,
        "dropped_tasks": int((~in_run).sum()),
    }
    if predictions.probas is not None:
        p = predictions.probas[in_run].reindex(columns=known, fill_value=0.0)
        doc["probabilities"] = np.round(p.to_numpy(dtype=np.float64), 8).tolist()
    extra = dict(run.meta.extra)
    extra[EXTRA_KEY] = {**dict(extra.get(EXTRA_KEY) or {}), predictions.name: doc}
    json.dumps(extra)  # stored in run.json: fail here, not at the import's end
    return run.with_meta(extra=extra)


def add_predictions(run: Run, path: str | Path, name: str | None = None) -> Run:
    """``crowdlens import --predictions FILE``: read the file and attach it to the run being imported."""
    return attach_predictions(run, read_predictions(path, name=name))


def model_names(run: Run) -> list[str]:
    """The names of the models whose predictions the run carries."""
    return list((run.meta.extra or {}).get(EXTRA_KEY) or {})


def with_model_answers(run: Run, name: str | None = None) -> Run:
    """A run where model ``name`` (default: the only one) is one more annotator, ``model:<name>``,
    answering each predicted task once in a pool of its own (kind regular, no assignment): for
    figures that should count the model as asked. The crowd's run is not changed."""
    names = model_names(run)
    if not names:
        raise ValueError("the run carries no model predictions: import them with --predictions FILE")
    name = name or names[0]
    if name not in names:
        raise ValueError(f"no predictions of a model {name!r}; the run has {names}")
    doc = run.meta.extra[EXTRA_KEY][name]
    keep = [i for i, x in enumerate(doc["labels"]) if x is not None]
    model_rows = pd.DataFrame(
        {
            "task_id": [doc["tasks"][i] for i in keep],
            "worker_id": f"{MODEL_PREFIX}{name}",
            "label": [doc["labels"][i] for i in keep],
            "kind": "regular",
            "pool_id": f"{MODEL_PREFIX}{name}",
        }
    )
    a = run.answers.copy()
    for c in ("assignment_id", "task_id", "worker_id", "pool_id", "label", "golden", "kind", "status"):
        a[c] = a[c].astype(object).where(a[c].notna(), None)
    both = pd.concat([a, model_rows], ignore_index=True)
    return build_run(
        both,
        file=f"{run.meta.project or 'run'} with {MODEL_PREFIX}{name}",
        tasks=run.tasks.rename_axis("task_id").reset_index() if len(run.tasks.columns) else None,
        restrictions=run.restrictions,
        pricing=run.pricing,
        meta=dataclasses.replace(run.meta, pools=run.meta.pools),
        truth=run.truth,
        labels=run.labels,
    )


__all__ = [
    "EXTRA_KEY",
    "MODEL_PREFIX",
    "Predictions",
    "add_predictions",
    "attach_predictions",
    "model_names",
    "read_predictions",
    "with_model_answers",
]
