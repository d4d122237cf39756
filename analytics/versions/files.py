"""Import a run, or files read into one, as a new version of a store (figures computed here, once).

A child version can also close the re-annotation loop (issue #14): ``merge_parent=True`` merges
the parent's answers with the new ones (:func:`merge_with_parent`), and ``plan`` records the
re-annotation plan the new answers answer (``crowdlens plan --format json``'s document) in the
version's metadata, so :func:`analytics.versions.compare` can set what was realised against what
was predicted.
"""

from __future__ import annotations

import dataclasses
import gc
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from analytics.model import Run, ValidationError
from analytics.model._deferred import replace_run
from analytics.model.merge import merge_runs
from analytics.model.problems import ProblemList
from analytics.model.tables import UNNAMED_POOL_IDS
from analytics.sources.memory import release_memory
from analytics.sources.store import VersionInfo, resolve
from analytics.sources.workspace import Workspace
from analytics.versions.figures import manifest_figures

PLAN_KEYS = ("tasks", "expected_fixes")  # what a plan document must hold to be one
PLAN_TASK_FIELDS = ("task_id", "label", "confidence", "p_fix", "p_break", "expected_fix", "cost")
MERGED_POOL_KIND = "reannotation"  # the kind a new pool of merged-in answers is recorded as
# up to this many answers, the manifest figures are computed while the run files are written; beyond, one
# after the other, so that the two memories never add up: at 10^7 answers (2026-12-02, by turns) the import
# peaked at 1.48-1.54 GB beside the writer and at 1.39 GB after it, for about a second more (12.3-12.8 s)
FIGURES_BESIDE_WRITING = 2_000_000


def import_run(
    store,
    run: Run,
    *,
    name: str,
    version: str,
    parents: Sequence[str] = (),
    metadata: Mapping[str, Any] | None = None,
    version_id: str | None = None,
    created: str | None = None,
    merge_parent: bool = False,
    plan: Mapping[str, Any] | str | Path | None = None,
) -> VersionInfo:
    """Store ``run`` in ``store`` (a :class:`~analytics.sources.workspace.Workspace`) as ``name`` ``version``.

    ``parents`` may be unique id prefixes (the 8 characters ``crowdlens versions`` prints); they
    are resolved to full ids first (VersionLookupError naming the candidates otherwise). The
    manifest's metadata is :func:`manifest_figures` of the run, updated with ``metadata``.
    ``version_id`` and ``created`` are for a version that keeps an id made elsewhere (the demo,
    a pull); by default the store makes them.

    ``merge_parent``: ``run`` holds only new answers (a re-annotation's results); the stored run is
    the one parent's answers merged with them (:func:`merge_with_parent`), and the metadata's
    ``merge`` says what was merged. ``plan``: the re-annotation plan the new answers answer (the
    document or the path of the JSON ``crowdlens plan --format json`` wrote; :func:`read_plan`),
    stored as the metadata's ``plan``.

    >>> import_run(ws, run, name="food-types", version="1.1.0", parents=["c00b4ca8"])  # doctest: +SKIP
    """
    listing = store.listing() if parents else None
    full = [resolve(listing, p, where=f"the workspace {getattr(store, 'root', store)}").id for p in parents]
    extra: dict[str, Any] = {}
    if merge_parent:
        if len(full) != 1:
            raise ValueError(
                f"merging with the parent needs exactly one parent version (--parent ID); got {len(full)}."
            )
        run, extra["merge"] = merge_with_parent(store.open_run(full[0]), run, parent_id=full[0])
    if plan is not None:
        extra["plan"] = read_plan(plan, parents=full)
    label = {"name": name, "version": version, "parents": full, "version_id": version_id, "created": created}
    if len(run.answers) > FIGURES_BESIDE_WRITING or not isinstance(store, Workspace):
        # one after the other: the metrics' memory and the Parquet writer's do not add up
        return store.add_version(run, metadata={**_figures_of(run), **extra, **(metadata or {})}, **label)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="crowdlens-figures") as pool:
        figures = pool.submit(_figures_of, run)  # computed while the run files are written
        return store.add_version(run, metadata=lambda: {**figures.result(), **extra, **(metadata or {})}, **label)


def _figures_of(run: Run) -> dict[str, Any]:
    """:func:`manifest_figures` of ``run``, computed on copies of it so that what the metrics cache per run
    (GBs at 10^8 answers) is freed before the run files are written, not held beside the writer's memory,
    and the money figures' tables before the quality figures'."""

    def fresh() -> Run:
        _release()  # the last copy's tables
        return replace_run(run)  # a version's unread task texts stay unread

    figures = manifest_figures(run, fresh)
    _release()
    return figures


def _release() -> None:
    gc.collect()  # a metric result referring back to its run keeps it in a cycle
    release_memory()


def import_files(
    store,
    paths: Sequence,
    options=None,
    *,
    exam: Sequence = (),
    truth=None,
    name: str,
    version: str,
    parents: Sequence[str] = (),
    metadata: Mapping[str, Any] | None = None,
    merge_parent: bool = False,
    plan: Mapping[str, Any] | str | Path | None = None,
) -> VersionInfo:
    """Read ``paths`` (and ``exam`` pools, a ``truth`` file) with :func:`analytics.sources.read_files`
    and import the run; a ValidationError with every file's problems stores nothing.
    ``merge_parent`` and ``plan`` as :func:`import_run`'s."""
    from analytics.sources import read_files

    run = read_files(list(paths), options, exam=list(exam), truth=truth)
    return import_run(
        store,
        run,
        name=name,
        version=version,
        parents=parents,
        metadata=metadata,
        merge_parent=merge_parent,
        plan=plan,
    )


# ---- the plan a child answers


def read_plan(plan: Mapping[str, Any] | str | Path, *, parents: Sequence[str] = ()) -> dict[str, Any]:
    """The plan document to store: ``plan`` itself or the JSON file it names, checked to be a plan.

    Kept: the plan's figures (expected fixes and interval, cost, method, answers per task, ...),
    its control tasks and, per task, :data:`PLAN_TASK_FIELDS`. A plan whose ``version`` (the id or
    prefix it was made on) is not a prefix of one of ``parents`` is refused: it predicts the fixes
    of another version.
    """
    where = "the plan"
    if not isinstance(plan, Mapping):
        where = f"the plan file {plan}"
        try:
            plan = json.loads(Path(plan).read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ValueError(
                f"{where} is not JSON ({err}): give the file `crowdlens plan --format json` wrote"
            ) from None
    if not isinstance(plan, Mapping) or any(k not in plan for k in PLAN_KEYS) or not isinstance(plan["tasks"], list):
        raise ValueError(
            f"{where} is not a re-annotation plan (it needs {' and '.join(PLAN_KEYS)}): "
            "give the file `crowdlens plan VERSION --format json` wrote"
        )
    made_on = str(plan.get("version") or "").strip().lower()
    if made_on and parents and not any(p.startswith(made_on) for p in parents):
        raise ValueError(
            f"{where} was made on version {made_on!r}, which is not a parent of the new version "
            f"({', '.join(p[:8] for p in parents)}): give the plan of the parent"
        )
    doc = {k: v for k, v in plan.items() if k != "tasks"}
    doc["tasks"] = [{k: t.get(k) for k in PLAN_TASK_FIELDS if k in t} for t in plan["tasks"] if isinstance(t, Mapping)]
    return json.loads(json.dumps(doc, default=str))  # plain JSON, as a manifest holds


# ---- merging a re-annotation into its parent


def _input_key(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    return frame[columns].astype(str).agg("\x1f".join, axis=1) if columns else pd.Series(dtype=str)


def task_ids_by_inputs(parent: Run, new: Run) -> dict[str, str]:
    """{new task id: parent task id} for the new run's tasks the parent does not know by id whose
    input values (the input fields both runs have) are those of exactly one parent task.

    A plan's tasks uploaded to a new Toloka pool come back with new task ids, or identified by
    their inputs; the parent knows them by its own ids.
    """
    unknown = new.tasks.index[~new.tasks.index.isin(parent.tasks.index)]
    common = [c for c in new.tasks.columns if c in parent.tasks.columns]
    if not len(unknown) or not common:
        return {}
    parent_keys = _input_key(parent.tasks, common)
    unique = parent_keys[~parent_keys.duplicated(keep=False)]
    by_key = pd.Series(unique.index.to_numpy(), index=unique.to_numpy())
    keys = _input_key(new.tasks.loc[unknown], common)
    found = keys[keys.isin(by_key.index)]
    mapping = dict(zip(found.index.astype(str), by_key.loc[found.to_numpy()].astype(str), strict=True))
    # a parent id that two new tasks match, or that the new run uses already, is left alone
    counts = pd.Series(list(mapping.values()), dtype=object).value_counts()
    taken = set(new.tasks.index.astype(str))
    return {k: v for k, v in mapping.items() if counts[v] == 1 and v not in taken}


def _renamed_tasks(run: Run, mapping: Mapping[str, str]) -> Run:
    if not mapping:
        return run
    answers = run.answers.copy()
    answers["task_id"] = answers["task_id"].cat.rename_categories(lambda t: mapping.get(t, t))
    tasks = run.tasks.rename(index=lambda t: mapping.get(t, t))
    truth = None if run.truth is None else run.truth.rename(index=lambda t: mapping.get(str(t), t))
    return dataclasses.replace(run, answers=answers, tasks=tasks, truth=truth)


def _pairs(run: Run) -> pd.MultiIndex:
    a = run.answers
    known = a["assignment_id"].notna()
    return pd.MultiIndex.from_arrays([a.loc[known, "assignment_id"].astype(str), a.loc[known, "task_id"].astype(str)])


def _refuse_repeats(parent: Run, new: Run, parent_id: str) -> None:
    repeated = _pairs(new).intersection(_pairs(parent))
    if not len(repeated):
        return
    problems = ProblemList("the new answers")
    assignment, task = repeated[0]
    problems.add(
        f"{len(repeated):,} (assignment, task) pairs of the new answers are already in the parent version "
        f"{parent_id[:8]} (e.g. assignment {assignment}, task {task}): the file holds the parent's answers again.",
        "import only the re-annotation's answers (the new pool's results, or the pool's new assignments), or "
        "import the whole export as a version of its own without --merge-parent.",
        column="assignment_id + task_id",
        count=len(repeated),
        values=[f"{a} / {t}" for a, t in repeated[:5]],
    )
    raise ValidationError(problems.errors)


def _merged_pricing(parent: Run, new: Run):
    p, q = parent.pricing, new.pricing
    if p.currency != q.currency:
        raise ValueError(
            f"the new answers are priced in {q.currency} and the parent in {p.currency}: read them with "
            f"--currency {p.currency}"
        )
    if not q.fee_assumed and (q.fee_rate, q.fee_minimum) != (p.fee_rate, p.fee_minimum):
        raise ValueError(
            f"the new answers were read with a platform fee of {q.fee_rate:g} (minimum {q.fee_minimum:g}) and the "
            f"parent has {p.fee_rate:g} (minimum {p.fee_minimum:g}): one run has one fee; read them with the parent's"
        )
    bonuses = pd.concat([b for b in (p.bonuses, q.bonuses) if len(b)] or [p.bonuses], ignore_index=True)
    return dataclasses.replace(p, bonuses=bonuses.drop_duplicates(ignore_index=True))


def _priced(new: Run) -> Run:
    """The new run with its own default reward written on its rows (the merged run keeps the parent's)."""
    default = new.pricing.reward_per_assignment
    if default is None or not new.answers["reward"].isna().any():
        return new
    answers = new.answers.copy()
    answers["reward"] = answers["reward"].fillna(float(default))
    return replace_run(new, answers=answers)


def _shared_pools(parent: Run, new: Run) -> list[str]:
    ours = set(parent.answers["pool_id"].dropna().astype(str).unique())
    theirs = set(new.answers["pool_id"].dropna().astype(str).unique())
    return sorted((ours & theirs) - UNNAMED_POOL_IDS)


def _set_pool(run: Run, old: str, new_id: str) -> Run:
    answers = run.answers.copy()
    answers["pool_id"] = answers["pool_id"].cat.rename_categories(lambda p: new_id if p == old else p)
    pools = tuple(dataclasses.replace(p, pool_id=new_id) if p.pool_id == old else p for p in run.meta.pools)
    return replace_run(run, answers=answers).with_meta(pools=pools)


def _fold_pool(run: Run, temporary: str, pool: str) -> Run:
    """Give the answers of ``temporary`` back their pool id ``pool`` (which the run holds too)."""
    s = run.answers["pool_id"]
    cats = list(s.cat.categories)
    codes = s.cat.codes.to_numpy().copy()
    codes[codes == cats.index(temporary)] = cats.index(pool)
    answers = run.answers.copy()
    answers["pool_id"] = pd.Categorical.from_codes(codes, categories=cats).remove_categories([temporary])
    pools = tuple(p for p in run.meta.pools if p.pool_id != temporary)
    return replace_run(run, answers=answers).with_meta(pools=pools)


def merge_with_parent(parent: Run, new: Run, *, parent_id: str = "the parent") -> tuple[Run, dict[str, Any]]:
    """The parent's answers merged with ``new`` (a re-annotation's answers): (run, what was merged).

    * The new answers' tasks the parent knows by other ids are renamed to the parent's ids where
      their input values match exactly one parent task (:func:`task_ids_by_inputs`).
    * A (assignment, task) pair of the new answers already in the parent is refused (one
      ValidationError naming the count, an example and the fix): the file holds the parent's
      answers again.
    * The new answers' pools are new pools (recorded as kind ``reannotation`` where read as main
      pools) or the parent's own pools with new assignments (a plan's tasks added to the pool).
    * Currency must agree; the platform fee too where the new answers were read with one; the
      new answers keep their own reward per suite; bonuses are united.

    The summary: ``parent``, ``parent_answers``, ``new_answers``, ``new_pools``, ``shared_pools``,
    ``tasks_matched_by_inputs``, ``new_tasks`` (tasks the parent does not have).
    """
    mapping = task_ids_by_inputs(parent, new)
    new = _priced(_renamed_tasks(new, mapping))
    _refuse_repeats(parent, new, parent_id)
    shared = _shared_pools(parent, new)
    temporary = {}
    for pool in shared:
        temporary[pool] = f"{pool}\x1fnew"
        new = _set_pool(new, pool, temporary[pool])
    parent_pools = {p.pool_id for p in parent.meta.pools}
    pools = tuple(
        dataclasses.replace(p, kind=MERGED_POOL_KIND) if p.kind == "main" and p.pool_id not in parent_pools else p
        for p in new.meta.pools
    )
    new = new.with_meta(pools=pools)
    merged = merge_runs([parent, new], pricing=_merged_pricing(parent, new), file="the parent and the new answers")
    for pool, temp in temporary.items():
        merged = _fold_pool(merged, temp, pool)
    new_pools = sorted(set(new.answers["pool_id"].dropna().astype(str).unique()) - set(temporary.values()))
    summary = {
        "parent": parent_id,
        "parent_answers": int(parent.summary()["answers"]),
        "new_answers": int(new.summary()["answers"]),
        "new_pools": new_pools,
        "shared_pools": shared,
        "tasks_matched_by_inputs": len(mapping),
        "new_tasks": int(np.count_nonzero(~new.tasks.index.isin(parent.tasks.index))),
    }
    return merged, summary


__all__ = ["import_files", "import_run", "merge_with_parent", "read_plan", "task_ids_by_inputs"]
