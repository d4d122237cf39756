"""merge_runs: validated runs (pools of one project, a re-annotation merged back) combined into one."""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from analytics.model.problems import Problem, ProblemList
from analytics.model.tables import (
    ANSWER_COLUMNS,
    UNNAMED_POOL_IDS,
    PoolInfo,
    Pricing,
    Run,
    RunMeta,
    empty_restrictions,
)

_ID_COLUMNS = ("assignment_id", "task_id", "worker_id", "pool_id")


def run_name(run: Run, position: int) -> str:
    """A run as a message names it: its place among the merged runs and its source files."""
    files = ", ".join(run.meta.source_files)
    return f"run {position + 1} ({files})" if files else f"run {position + 1}"


def answers_per_pool(run: Run) -> dict[str, int]:
    """Answers per pool id, for the pools that have any."""
    pool = run.answers["pool_id"]
    codes = pool.cat.codes.to_numpy()
    counts = np.bincount(codes[codes >= 0], minlength=len(pool.cat.categories))
    return {str(p): int(n) for p, n in zip(pool.cat.categories, counts, strict=True) if n}


def pools_in_two_runs(runs: Sequence[Run], file: str) -> list[Problem]:
    """Check: no pool has answers in two of the runs (its answers would be counted twice).

    Each later run holding a pool already seen is a problem naming the pool and both runs. Pools
    the readers named themselves (UNNAMED_POOL_IDS: the file said nothing) are not checked: two
    parts of one long table are one pool, not a pool read twice.
    """
    found = ProblemList(file)
    first: dict[str, int] = {}
    for i, r in enumerate(runs):
        for pool_id, n in answers_per_pool(r).items():
            if pool_id in UNNAMED_POOL_IDS:
                continue
            j = first.setdefault(pool_id, i)
            if j == i:
                continue
            found.add(
                f"pool {pool_id} has answers in two of the merged runs: {run_name(runs[j], j)} and {run_name(r, i)}.",
                "merge each pool's results once (drop the repeated file); if the two hold different "
                "pools, give each its own pool id (a pool_id column, or the reader's pool id).",
                column="pool_id",
                count=n,
            )
    return found.items


def repeated_assignment_tasks(answers: pd.DataFrame, file: str) -> list[Problem]:
    """Check: no (assignment, task) pair of the merged answers comes from two runs."""
    found = ProblemList(file)
    a_known = answers["assignment_id"].notna()
    dup = answers[a_known].duplicated(["assignment_id", "task_id"], keep=False)
    if dup.any():
        found.add(
            f"{int(dup.sum()):,} (assignment, task) rows appear in more than one of the merged runs.",
            "merge each pool's results once; drop the repeated file.",
            column="assignment_id + task_id",
            count=int(dup.sum()),
        )
    return found.items


def _merged_answers(runs: Sequence[Run], label_dtype: pd.CategoricalDtype) -> pd.DataFrame:
    frames = []
    for r in runs:
        a = r.answers.copy()
        a["label"] = a["label"].astype(str).where(a["label"].notna()).astype(label_dtype)
        a["golden"] = a["golden"].astype(str).where(a["golden"].notna()).astype(label_dtype)
        frames.append(a)
    merged = {}
    for col in ANSWER_COLUMNS:
        parts = [f[col] for f in frames]
        if col in _ID_COLUMNS:
            merged[col] = pd.Series(union_categoricals(parts, ignore_order=True))
        else:
            merged[col] = pd.concat(parts, ignore_index=True)
    return pd.DataFrame(merged)


def _merged_truth(runs: Sequence[Run], label_dtype: pd.CategoricalDtype) -> pd.Series | None:
    truths = [r.truth for r in runs if r.truth is not None]
    if not truths:
        return None
    truth = pd.concat([t.astype(str) for t in truths])
    truth = truth[~truth.index.duplicated()].astype(label_dtype)
    truth.name = "truth"
    return truth


def _agreed_source_fields(runs: Sequence[Run]) -> dict[str, str]:
    """The source names of the fields every run that names them names alike; a field named two ways is left out."""
    names: dict[str, set[str]] = {}
    for r in runs:
        for canonical, name in r.meta.source_fields.items():
            names.setdefault(canonical, set()).add(name)
    return {canonical: next(iter(n)) for canonical, n in names.items() if len(n) == 1}


def _merged_meta(runs: Sequence[Run], meta: RunMeta | None, labels: list[str]) -> RunMeta:
    pools: list[PoolInfo] = []
    for r in runs:
        pools += [p for p in r.meta.pools if all(p.pool_id != q.pool_id for q in pools)]
    base = meta or runs[0].meta
    given = meta is not None
    # the label field survives when every run that names one names the same one; a given meta's wins
    fields = {r.meta.label_field for r in runs if r.meta.label_field}
    label_field = base.label_field if given and meta.label_field else (fields.pop() if len(fields) == 1 else None)
    # the same for the source's names of fields, and the kinds of source (joined when they differ)
    source_fields = meta.source_fields if given and meta.source_fields else _agreed_source_fields(runs)
    kinds = " + ".join(dict.fromkeys(r.meta.source_kind for r in runs if r.meta.source_kind))
    return dataclasses.replace(
        base,
        labels=tuple(labels),
        pools=tuple(pools) if not given or not meta.pools else meta.pools,
        label_field=label_field,
        source_files=tuple(dict.fromkeys(f for r in runs for f in r.meta.source_files)),
        source_fields=dict(source_fields),
        source_kind=meta.source_kind if given and meta.source_kind else kinds,
    )


def merge_runs(
    runs: Sequence[Run], *, meta: RunMeta | None = None, pricing: Pricing | None = None, file: str = "merged run"
) -> Run:
    """Combine validated runs (pools of one project, or a re-annotation merged back) into one.

    Label sets are united in the order first seen (the first run's tie order is kept); pools,
    tasks, restrictions, truth and notes are united; a pool that has answers in two runs, or an
    (assignment, task) pair present twice, is an error (one ValidationError with every such
    problem; a pool's names both runs). ``meta.label_field`` is the given ``meta``'s when it names
    one, else the inputs' when all that name one agree, else None (the runs hold answers to
    different output fields). ``meta.source_fields`` and ``meta.source_kind`` follow the same
    rule: a given meta's when set, else the fields the runs name alike and their kinds of source
    joined with " + ".
    """
    if not runs:
        raise ValueError("The 'runs' parameter of merge_runs must hold at least one run. Got none.")
    if len(runs) == 1 and meta is None and pricing is None:
        return runs[0]
    problems = ProblemList(file)
    problems.extend(pools_in_two_runs(runs, file))
    labels: list[str] = []
    for r in runs:
        labels += [x for x in r.meta.labels if x not in labels]
    label_dtype = pd.CategoricalDtype(labels)
    answers = _merged_answers(runs, label_dtype)
    problems.extend(repeated_assignment_tasks(answers, file))
    problems.raise_if_errors()
    tasks = pd.concat([r.tasks for r in runs])
    restrictions = pd.concat(
        [r.restrictions for r in runs if len(r.restrictions)] or [empty_restrictions()], ignore_index=True
    )
    return Run(
        answers=answers,
        tasks=tasks[~tasks.index.duplicated()],
        restrictions=restrictions,
        pricing=pricing or runs[0].pricing,
        meta=_merged_meta(runs, meta, labels),
        truth=_merged_truth(runs, label_dtype),
        notes=tuple(n for r in runs for n in r.notes),
    )
