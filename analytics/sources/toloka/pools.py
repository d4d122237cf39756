"""Reading Toloka pools (and their projects) into validated canonical runs.

What is read, per pool:

* ``GET /api/v1/pools/{id}`` and ``/api/v1/projects/{id}``: name, reward, overlap, suite size,
  quality-control rules, the output field's allowed values (the label set, in declared order);
* ``GET /api/v1/assignments`` (paginated by id) with every status that carries an answer or
  its absence — SUBMITTED, ACCEPTED, REJECTED, SKIPPED, EXPIRED; ACTIVE suites are still being
  worked on and are left out (:func:`analytics.sources.toloka.live.pool_progress` counts them);
* ``GET /api/v1/user-restrictions`` for the pool, its project, and all-project bans of the
  run's annotators;
* ``GET /api/v1/user-bonuses`` created since the first pool was (the bonuses of the run's
  assignments and annotators: :mod:`.bonuses`);
* ``GET /api/v1/tasks`` only when no assignment carries its tasks' known solutions although
  the pool mixes in control or training tasks (the golden labels are then read from the tasks).

Runs are built only through :func:`analytics.model.build_run`, so an answer from the API is
validated exactly as one from a file, and problems name the API field (``assignment.user_id``)
and the assignment ids.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Sequence

import pandas as pd

from analytics.model import (
    PoolInfo,
    Pricing,
    Problem,
    ProblemList,
    Run,
    RunMeta,
    ValidationError,
    build_run,
    merge_runs,
)
from analytics.sources.toloka._values import Labels, number, stamp
from analytics.sources.toloka._values import enum as _enum
from analytics.sources.toloka.assignments import (
    ASSIGNMENT_BATCH,
    Progress,
    Rows,
    api_columns,
    known_from_tasks,
    problem,
    read_rows,
    with_assignment_ids,
    with_kinds,
)
from analytics.sources.toloka.bonuses import read_bonuses, with_bonuses
from analytics.sources.toloka.client import call, require, where
from analytics.sources.toloka.restrictions import read_restrictions
from analytics.sources.toloka.rules import bound_history, pool_rules
from analytics.sources.toloka.skills import pass_threshold
from analytics.sources.toloka_tsv import POOL_KINDS

# The one fee default of every import path is Pricing's (Toloka's published 30 %; the API does not
# report the fee): a fee_rate of None is that default, marked as assumed on the run's pricing.
DEFAULT_FEE_RATE = Pricing.DEFAULT_FEE_RATE
DEFAULT_FEE_MINIMUM = Pricing.DEFAULT_FEE_MINIMUM
CURRENCY = "USD"  # Pool.reward_per_assignment is in US dollars (toloka-kit's Pool docstring)


@dataclass
class _PoolRead:
    run: Run
    pool: Any
    project: Any


def get_pool(client, pool_id: str):
    """toloka-kit's Pool ``pool_id``; TolokaAPIError when it cannot be read or lacks its id / project."""
    what = f"reading pool {pool_id}"
    pool = call(client, what, client.get_pool, str(pool_id))
    require(pool, ("id", "project_id"), client, what, "pool")
    return pool


def _get_project(client, pool, projects: dict[str, Any]):
    project_id = str(pool.project_id)
    if project_id not in projects:
        what = f"reading project {project_id} of pool {pool.id}"
        project = call(client, what, client.get_project, project_id)
        require(project, ("id",), client, what, "project")
        projects[project_id] = project
    return projects[project_id]


def _output_spec(project) -> dict:
    spec = getattr(getattr(project, "task_spec", None), "output_spec", None)
    return spec if isinstance(spec, dict) else {}


def _label_field(project, label_field: str | None, file: str) -> tuple[str | None, list[str] | None]:
    """The output field holding the label, and its allowed values (the declared label set)."""
    spec = _output_spec(project)
    fields = list(spec)
    if label_field:
        name = label_field[len("OUTPUT:") :] if label_field.startswith("OUTPUT:") else label_field
        if fields and name not in spec:
            raise problem(
                file,
                f"the project has no output field {name!r}.",
                "choose one of its output fields: " + ", ".join(fields) + ".",
                column="project.task_spec.output_spec",
            )
    elif len(fields) > 1:
        raise problem(
            file,
            "the project's tasks have several output fields: " + ", ".join(fields) + ".",
            f"name the one that holds the label with label_field= (CLI: --label-field {fields[0]}).",
            column="project.task_spec.output_spec",
        )
    else:
        name = fields[0] if fields else None
    allowed = getattr(spec.get(name), "allowed_values", None) if name else None
    to_label = Labels()
    labels = [to_label(v) for v in allowed] if allowed else None
    return name, labels


def pool_info(pool, kind: str, rules: tuple[dict, ...]) -> PoolInfo:
    """toloka-kit's Pool as the run's PoolInfo: name, reward, overlap, suite size (the mixer's
    tasks per suite), ``rules`` (see :func:`.rules.pool_rules`), when it opened and closed."""
    mixer = getattr(pool, "mixer_config", None)
    per_suite = None
    if mixer is not None:
        counts = ("real_tasks_count", "golden_tasks_count", "training_tasks_count")
        per_suite = sum(int(getattr(mixer, k, 0) or 0) for k in counts) or None
    overlap = getattr(getattr(pool, "defaults", None), "default_overlap_for_new_task_suites", None)
    status = _enum(getattr(pool, "status", None))
    return PoolInfo(
        pool_id=str(pool.id),
        name=str(getattr(pool, "private_name", "") or ""),
        kind=kind,
        reward_per_assignment=number(getattr(pool, "reward_per_assignment", None)),
        overlap=int(overlap) if overlap is not None else None,
        tasks_per_suite=per_suite,
        rules=rules,
        opened_at=stamp(getattr(pool, "last_started", None)),
        closed_at=stamp(getattr(pool, "last_stopped", None)) if status in ("CLOSED", "ARCHIVED") else None,
    )


def _known_solutions(client, frame: pd.DataFrame, rows: Rows, pool, kind: str, problems: ProblemList) -> pd.DataFrame:
    """Golden labels read from the tasks where the assignments lack them, and a warning for
    control/training tasks with several known solutions."""
    name = rows.label_field
    mixer = getattr(pool, "mixer_config", None)
    mixes_known = kind == "exam" or bool(
        getattr(mixer, "golden_tasks_count", 0) or getattr(mixer, "training_tasks_count", 0)
    )
    several = set(rows.several_known)
    if len(frame) and name is not None and not rows.any_known and mixes_known:
        known, training, several_t = known_from_tasks(client, str(pool.id), name)
        several |= several_t
        tids = frame["task_id"].astype("str")
        frame["golden"] = tids.map(known).astype("category")
        frame["_hint"] = tids.isin(training).to_numpy()
    if several:
        problems.add(
            f"{len(several):,} control/training task(s) have several known solutions; the one with the "
            "highest correctness_weight is used as the golden label.",
            "nothing to do if that is the intended answer; metrics count only that label as correct.",
            column=f"assignment.tasks[].known_solutions[].output_values.{name}",
            severity="warning",
            count=len(several),
            values=sorted(several)[:10],
        )
    return frame


def _run_meta(client, pool, project, info: PoolInfo, label_field: str | None, file: str) -> RunMeta:
    instructions = getattr(pool, "public_instructions", None) or getattr(project, "public_instructions", None)
    language = getattr(getattr(project, "localization_config", None), "default_language", None)
    return RunMeta(
        project=str(getattr(project, "public_name", "") or ""),
        pools=(info,),
        overlap=info.overlap if info.kind == "main" else None,
        instructions=instructions or None,
        language=str(language).lower() if language else None,
        label_field=label_field,
        source_files=(file,),
        extra={
            "toloka": {
                "api": where(client),
                "project_id": str(pool.project_id),
                "pools": {info.pool_id: _enum(getattr(pool, "status", None))},
            }
        },
    )


def _read_pool(
    client,
    pool_id: str,
    *,
    label_field: str | None,
    kind: str,
    fee_rate: float | None,
    fee_minimum: float | None,
    labels: Sequence[str] | None,
    batch_size: int,
    projects: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> _PoolRead:
    if kind not in POOL_KINDS:
        raise ValueError(f"The 'kind' parameter of read_pool must be one of {POOL_KINDS}. Got {kind!r} instead.")
    pool_id = str(pool_id).strip()
    file = f"Toloka pool {pool_id}"
    pool = get_pool(client, pool_id)
    project = _get_project(client, pool, {} if projects is None else projects)
    name, declared = _label_field(project, label_field, file)
    rows = read_rows(client, pool_id, name, file=file, batch_size=batch_size, progress=progress)

    problems = ProblemList(file)
    frame = with_kinds(_known_solutions(client, rows.frame(), rows, pool, kind, problems), kind)
    if _enum(getattr(pool, "status", None)) == "OPEN":
        problems.add(
            "the pool is still open: this is a snapshot of the answers submitted so far "
            "(suites being worked on are not included).",
            "import the pool again when it has closed for the final figures.",
            severity="warning",
        )
    info = pool_info(pool, kind, bound_history(pool_rules(pool), max(1, len(frame))))
    pricing = Pricing(
        currency=CURRENCY,
        reward_per_assignment=info.reward_per_assignment,
        **Pricing.fee(fee_rate, fee_minimum),
    )
    try:
        run = build_run(
            frame,
            file=file,
            columns=api_columns(rows),
            tasks=rows.tasks_frame(),
            pricing=pricing,
            meta=_run_meta(client, pool, project, info, rows.label_field, file),
            labels=labels if labels is not None else declared,
            problems=problems,
        )
    except ValidationError as err:
        raise with_assignment_ids(err, frame) from None
    return _PoolRead(run=run, pool=pool, project=project)


def _restrictions(client, reads: Sequence[_PoolRead]) -> pd.DataFrame:
    return read_restrictions(client, [r.run for r in reads], [r.pool for r in reads])


def _with_bonuses(client, run: Run, reads: Sequence[_PoolRead]) -> Run:
    bonuses = read_bonuses(client, [r.run for r in reads], [r.pool for r in reads])
    return dataclasses.replace(run, pricing=with_bonuses(run.pricing, bonuses))


def with_pass_threshold(pools: Sequence[PoolInfo], main_pools: Sequence[Any], exam_pools: Sequence[Any]):
    """``pools`` with the exam pass mark of the main pools' skill filter on every exam pool that has
    none (:func:`analytics.sources.toloka.skills.pass_threshold`)."""
    mark = pass_threshold(main_pools, exam_pools)
    if mark is None:
        return tuple(pools)
    return tuple(
        dataclasses.replace(p, pass_threshold=mark) if p.kind == "exam" and p.pass_threshold is None else p
        for p in pools
    )


# --------------------------------------------------------------------------------------------
# public readers


def read_pool(
    client,
    pool_id: str,
    *,
    label_field: str | None = None,
    kind: str = "main",
    fee_rate: float | None = None,
    fee_minimum: float | None = None,
    labels: Sequence[str] | None = None,
    batch_size: int = ASSIGNMENT_BATCH,
    progress: Progress | None = None,
) -> Run:
    """One pool's answers, tasks, rules and restrictions as a validated run.

    One answer row per task of each assignment (SUBMITTED, ACCEPTED, REJECTED, SKIPPED,
    EXPIRED; skipped and expired suites carry no label). A task with known solutions is a
    control task with that golden label; one with a hint (``message_on_unknown_solution``) is a
    training task, whose label is the annotator's first answer (``first_declined_solution_attempt``
    where Toloka recorded one, else the final answer). ``kind`` is the pool's role (main, exam,
    training, reannotation): every answer of an exam pool is an exam answer. Times are UTC
    (``assignment.created`` as started, ``assignment.submitted``); rewards are in USD.

    ``label_field`` names the output field holding the label (required when the project has
    several); the field's allowed values, when the project declares them, are the label set in
    their declared order unless ``labels`` is given. ``batch_size`` is the assignments asked
    for per request; ``progress(pool_id, assignments_read)`` is called every
    ``assignments.PROGRESS_EVERY`` assignments and once when the pool is read. Raises
    ValidationError (the same checks as for files, naming API fields and assignment ids) or
    TolokaAPIError.

    ``fee_rate`` / ``fee_minimum`` None are :data:`DEFAULT_FEE_RATE` (Pricing's, the one default
    of every import path) and 0, with ``pricing.fee_assumed`` set; ``pricing.bonuses`` are the
    bonuses of the pool's assignments and annotators (:func:`.bonuses.read_bonuses`).

    >>> run = read_pool(make_client(url="http://127.0.0.1:8080"), "1234")  # doctest: +SKIP
    """
    read = _read_pool(
        client,
        pool_id,
        label_field=label_field,
        kind=kind,
        fee_rate=fee_rate,
        fee_minimum=fee_minimum,
        labels=labels,
        batch_size=batch_size,
        progress=progress,
    )
    return _with_bonuses(client, dataclasses.replace(read.run, restrictions=_restrictions(client, [read])), [read])


def _check_pool_lists(pool_ids: Sequence[str], exam_pool_ids: Sequence[str]) -> tuple[list[str], list[str]]:
    pool_ids = [str(p).strip() for p in pool_ids]
    exam_pool_ids = [str(p).strip() for p in exam_pool_ids]
    if not pool_ids and not exam_pool_ids:
        raise ValueError("The 'pool_ids' parameter of read_project must name at least one pool. Got none.")
    both = sorted(set(pool_ids) & set(exam_pool_ids))
    if both:
        raise ValueError(
            f"A pool cannot be both a main and an exam pool of read_project. Got {', '.join(both)} in both."
        )
    return pool_ids, exam_pool_ids


def read_project(
    client,
    pool_ids: Sequence[str],
    exam_pool_ids: Sequence[str] = (),
    *,
    label_field: str | None = None,
    fee_rate: float | None = None,
    fee_minimum: float | None = None,
    labels: Sequence[str] | None = None,
    batch_size: int = ASSIGNMENT_BATCH,
    progress: Progress | None = None,
) -> Run:
    """Several pools (main pools, and exam pools marked ``kind="exam"``) merged into one run.

    Each pool is validated on its own; the problems of all pools are reported together.
    Restrictions are read once for all pools and projects. The first pool's project names the
    run; its label set (declared or seen) sets the tie order. An exam pool's pass mark
    (``PoolInfo.pass_threshold``) is the value the main pools' filter asks of the skill the exam
    pool sets (:func:`.skills.pass_threshold`). Other parameters as :func:`read_pool`.
    """
    pool_ids, exam_pool_ids = _check_pool_lists(pool_ids, exam_pool_ids)
    projects: dict[str, Any] = {}
    reads: list[_PoolRead] = []
    problems: list[Problem] = []
    jobs = [(p, "main") for p in dict.fromkeys(pool_ids)] + [(p, "exam") for p in dict.fromkeys(exam_pool_ids)]
    options = dict(label_field=label_field, fee_rate=fee_rate, fee_minimum=fee_minimum, labels=labels)
    for pid, kind in jobs:
        try:
            reads.append(
                _read_pool(
                    client, pid, kind=kind, batch_size=batch_size, projects=projects, progress=progress, **options
                )
            )
        except ValidationError as err:
            problems += err.problems
    if problems:
        raise ValidationError(problems)
    runs = [r.run for r in reads]
    main_overlap = next((p.overlap for r in runs for p in r.meta.pools if p.kind == "main" and p.overlap), None)
    extra = {
        "toloka": {
            "api": where(client),
            "project_ids": list(projects),
            "pools": {k: v for r in runs for k, v in r.meta.extra.get("toloka", {}).get("pools", {}).items()},
        }
    }
    meta = dataclasses.replace(runs[0].meta, pools=(), overlap=main_overlap, extra=extra)
    pricing = Pricing(currency=CURRENCY, reward_per_assignment=None, **Pricing.fee(fee_rate, fee_minimum))
    merged = merge_runs(runs, meta=meta, pricing=pricing, file=", ".join(f"Toloka pool {p}" for p, _ in jobs))
    mains = [r.pool for r in reads if r.run.meta.pools[0].kind == "main"]
    exams = [r.pool for r in reads if r.run.meta.pools[0].kind == "exam"]
    merged = merged.with_meta(pools=with_pass_threshold(merged.meta.pools, mains, exams))
    return _with_bonuses(client, dataclasses.replace(merged, restrictions=_restrictions(client, reads)), reads)


def label_fields(client, pool_id: str) -> list[str]:
    """The output fields of a pool's project (for a label-field picker)."""
    return list(_output_spec(_get_project(client, get_pool(client, pool_id), {})))
