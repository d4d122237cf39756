"""GLAD and MACE through crowd-kit, called on the user's own task, annotator and label names in the answers' order.

crowd-kit 1.4.2's MACE is not invariant to how its input is spelled: it numbers annotators and
labels in their order of first appearance (``pd.factorize``), but its M-step takes
``groupby(["worker", "label"]).sum().unstack().values``, whose rows and columns are in SORTED
order, and indexes the result with the first-appearance numbers. The random start
(``random_state``) is drawn in that order too. Integer codes sort differently from the names
they stand for (a label set ``solid, liquid, other`` has codes 0, 1, 2 but sorts as ``liquid,
other, solid``), so MACE on codes gives other labels than MACE on the user's data. Here crowd-kit
gets what a user calling it on their own answers would pass: a frame of ``task``, ``worker`` and
``label`` strings, rows in the run's answer order (the file's row order), seed 0. GLAD is
called on the same frame.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from analytics.model import Run


def crowdkit_frame(run: Run, rows: np.ndarray) -> pd.DataFrame:
    """The answers at ``rows`` as crowd-kit takes them: ``task``, ``worker``, ``label`` columns of
    the run's own strings (plain strings: crowd-kit fails on categoricals), in row order."""
    c = run.codes

    def names(index: pd.Index, codes: np.ndarray) -> np.ndarray:
        return np.asarray(index, dtype=object)[codes]

    return pd.DataFrame(
        {
            "task": names(c.task_names, c.task[rows]),
            "worker": names(c.worker_names, c.worker[rows]),
            "label": names(c.labels, c.label[rows]),
        }
    )


def fit(run: Run, method: str, rows: np.ndarray, n_iter: int, tol: float):
    """(labels, probas, skill) of GLAD (``n_iter``, ``tol``) or MACE (crowd-kit's defaults,
    ``random_state=0``) on the answers at ``rows``, as arrays over the run's task / label /
    annotator codes. labels: the most probable label, the lowest label code (the run's tie
    order) on an exact tie; -1 where a task has no answer here."""
    from crowdkit.aggregation import GLAD, MACE

    c = run.codes
    df = crowdkit_frame(run, rows)
    with warnings.catch_warnings():
        # crowd-kit 1.4.2 uses pandas' deprecated inplace= thousands of times per fit
        warnings.simplefilter("ignore")
        if method == "glad":
            model = GLAD(n_iter=n_iter, tol=tol).fit(df)
        else:
            model = MACE(random_state=0).fit(df)
    if method == "glad":
        skill_s = model.alphas_
    else:
        # spamming_[:, 1] = P(not spamming), i.e. MACE's competence; rows in first-appearance order
        skill_s = pd.Series(model.spamming_[:, 1], index=pd.factorize(df["worker"])[1])
    p = model.probas_
    nt, nl = c.n_tasks, c.n_labels
    full = np.zeros((len(p), nl))
    full[:, c.labels.get_indexer(pd.Index(p.columns).astype(str))] = p.to_numpy(dtype=float)
    probas = np.full((nt, nl), np.nan)
    probas[c.task_names.get_indexer(pd.Index(p.index).astype(str))] = full
    labels = np.full(nt, -1, dtype=np.int64)
    answered = ~np.isnan(probas[:, 0])
    # argmax returns the first maximum: the lowest label code, i.e. the documented tie rule
    labels[answered] = np.argmax(probas[answered], axis=1)
    skill = np.full(c.n_workers, np.nan)
    skill[c.worker_names.get_indexer(pd.Index(skill_s.index).astype(str))] = skill_s.to_numpy(dtype=float)
    return labels, probas, skill
