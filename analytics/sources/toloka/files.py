"""What the Toloka API import reads, from files: pool configs, user restrictions and bonuses.

The files hold toloka-kit objects as ``obj.to_json()`` writes them (``Pool``, ``UserRestriction``,
``UserBonus``): one object per line, a JSON array of them, or pretty-printed objects one after
another. Each object is read with toloka-kit's own ``structure`` (as the API client reads an
answer), then converted by the same code the API import uses (:func:`.pools.pool_info`,
:func:`.rules.pool_rules`, :func:`.restrictions.restrictions_table`, :func:`.bonuses.bonus_table`,
:func:`.skills.pass_threshold`), so a run read from exports plus these files is the run the API
import gives for the same pools.

>>> files = read_toloka_files(pool_config=["pool.json"], restrictions=["bans.jsonl"])  # doctest: +SKIP
>>> run = apply_toloka_files(read_toloka_tsv("results.tsv"), files)  # doctest: +SKIP
"""

from __future__ import annotations

import codecs
import dataclasses
import json
import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator, Sequence

from analytics.model import UNNAMED_POOL_IDS, PoolInfo, Problem, ProblemList, Run, ValidationError
from analytics.sources._files import Source
from analytics.sources.toloka._values import enum as _enum
from analytics.sources.toloka.bonuses import bonus_table, first_created, run_assignments, with_bonuses
from analytics.sources.toloka.pools import pool_info, with_pass_threshold
from analytics.sources.toloka.restrictions import restrictions_table, run_workers
from analytics.sources.toloka.rules import bound_history, pool_rules
from analytics.sources.toloka.skills import skills_set

# what each file holds: toloka-kit's class, the fields every such object has, the flag, how made
KINDS: dict[str, tuple[str, tuple[str, ...], str, str]] = {
    "pool": ("Pool", ("project_id", "reward_per_assignment"), "--pool-config", "toloka_client.get_pool(id).to_json()"),
    "restriction": (
        "UserRestriction",
        ("user_id", "scope"),
        "--restrictions",
        "r.to_json() for r in toloka_client.get_user_restrictions(pool_id=...)",
    ),
    "bonus": (
        "UserBonus",
        ("user_id", "amount"),
        "--bonuses",
        "b.to_json() for b in toloka_client.get_user_bonuses(created_gte=...)",
    ),
}


@dataclass(frozen=True)
class TolokaFiles:
    """toloka-kit objects read from files. ``restrictions`` / ``bonuses`` are None where no file
    was given (the run's own are kept); ``notes`` are warnings to carry on the run."""

    pools: tuple[Any, ...] = ()
    restrictions: tuple[Any, ...] | None = None
    bonuses: tuple[Any, ...] | None = None
    files: tuple[str, ...] = ()
    notes: tuple[Problem, ...] = ()


def _toloka_class(kind: str):
    from toloka.client import Pool
    from toloka.client.user_bonus import UserBonus
    from toloka.client.user_restriction import UserRestriction

    return {"pool": Pool, "restriction": UserRestriction, "bonus": UserBonus}[kind]


def _documents(text: str) -> Iterator[tuple[int, int | None, Any]]:
    """(line, item of an array or None, value) of every JSON value in ``text``, one after another."""
    decoder = json.JSONDecoder(parse_float=Decimal)
    i, line, counted = 0, 1, 0
    while True:
        while i < len(text) and text[i] in " \t\r\n\ufeff":
            i += 1
        if i >= len(text):
            return
        line += text.count("\n", counted, i)
        counted = i
        value, i = decoder.raw_decode(text, i)
        if isinstance(value, list):
            for k, item in enumerate(value):
                yield line, k + 1, item
        else:
            yield line, None, value


def _structured(kind: str, value: Any, where: str, problems: ProblemList, line: int) -> Any | None:
    """One object as toloka-kit's class, or None with the problem added."""
    from analytics.sources.toloka.client import shape_problem

    cls_name, needs, flag, made = KINDS[kind]
    fix = f"write the file with toloka-kit: one {cls_name}.to_json() per line, or a JSON array of them ({made})."
    if not isinstance(value, dict):
        problems.add(f"{where} is not a {cls_name} object but JSON {type(value).__name__}.", fix, lines=[line])
        return None
    missing = [f for f in needs if f not in value]
    if missing:
        shown = ", ".join(list(value)[:6]) or "no fields"
        problems.add(
            f"{where} is not a {cls_name}: it has no {' and no '.join(missing)} (it has {shown}).",
            f"check that the file given to {flag} holds {cls_name} objects; {fix}",
            lines=[line],
        )
        return None
    cls = _toloka_class(kind)
    try:
        return cls.structure(value)
    except Exception as err:  # toloka-kit / cattrs raise many kinds; each is a problem of the file
        bad = _bad_fields(cls, value)
        which = f"the field {', '.join(bad)} cannot be read as toloka-kit's {cls_name} has it" if bad else ""
        problems.add(
            f"{where} is not a valid {cls_name}: {which or shape_problem(err)}"
            + (f" ({shape_problem(err)})." if which else "."),
            fix,
            column=", ".join(bad) or None,
            lines=[line],
        )
        return None


def _bad_fields(cls, value: dict) -> list[str]:
    """The fields of ``value`` that toloka-kit cannot read, each tried on its own (with the
    field that picks the class, e.g. a restriction's ``scope``)."""
    base = {k: value[k] for k in ("scope", "type", "category") if k in value}
    bad = []
    for key in value:
        try:
            cls.structure(base | {key: value[key]})
        except Exception:  # any failure names the field
            bad.append(str(key))
    return bad if len(bad) < len(value) else []


def _text(source: Source, problems: ProblemList) -> str | None:
    """The file's text (UTF-8, or UTF-16 with a byte-order mark as Windows' PowerShell writes it)."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            problems.add("the file does not exist." if not path.exists() else "this is a folder.", "check the path.")
            return None
        data = path.read_bytes()
    else:
        data = source if isinstance(source, bytes) else source.read()
        data = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", "replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        problems.add(
            "the file is not UTF-8 text.",
            "save it as UTF-8 (toloka-kit's to_json writes UTF-8 text).",
            lines=[data[: err.start].count(b"\n") + 1],
        )
        return None


def read_objects(source: Source, kind: str, *, name: str | None = None) -> tuple[list[Any], list[Problem]]:
    """The toloka-kit objects of one file (``kind``: pool, restriction or bonus) and its problems
    (errors naming the line and what is wrong; a warning for fields toloka-kit does not know)."""
    problems = ProblemList(name or _name(source))
    cls_name, _, flag, made = KINDS[kind]
    text = _text(source, problems)
    if text is None:
        return [], problems.items
    objects: list[Any] = []
    unknown: dict[str, list[int]] = {}
    try:
        for line, item, value in _documents(text):
            where = f"item {item} of the array" if item is not None else "the object"
            obj = _structured(kind, value, where, problems, line)
            if obj is not None:
                objects.append(obj)
                for f in getattr(obj, "_unexpected", None) or {}:
                    unknown.setdefault(str(f), []).append(line)
    except json.JSONDecodeError as err:
        problems.add(
            f"the file is not JSON from line {err.lineno}, column {err.colno} on: {err.msg}.",
            f"give {flag} a file of {cls_name} objects as toloka-kit writes them: one {cls_name}.to_json() "
            f"per line, or a JSON array of them ({made}).",
            lines=[err.lineno],
        )
    if not objects and not problems.errors:
        problems.add(f"the file holds no {cls_name}.", f"write one {cls_name}.to_json() per line ({made}).")
    for f, lines in unknown.items():
        problems.add(
            f"toloka-kit does not know the field {f!r} of a {cls_name}; it is ignored.",
            "check its spelling (the file is read as toloka-kit reads the API's answers).",
            column=f,
            lines=lines,
            severity="warning",
        )
    return objects, problems.items


def read_toloka_files(
    *,
    pool_config: Sequence[Source] = (),
    restrictions: Sequence[Source] = (),
    bonuses: Sequence[Source] = (),
) -> TolokaFiles:
    """Read pool configs, restrictions and bonuses files (each argument: paths, bytes or file
    objects). Raises one ValidationError with the problems of every file."""
    found: dict[str, list[Any]] = {"pool": [], "restriction": [], "bonus": []}
    problems: list[Problem] = []
    files: list[str] = []
    for kind, sources in (("pool", pool_config), ("restriction", restrictions), ("bonus", bonuses)):
        for source in sources:
            objects, found_problems = read_objects(source, kind)
            found[kind] += objects
            problems += found_problems
            files.append(_name(source))
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise ValidationError(errors)
    return TolokaFiles(
        pools=tuple(found["pool"]),
        restrictions=tuple(found["restriction"]) if restrictions else None,
        bonuses=tuple(found["bonus"]) if bonuses else None,
        files=tuple(files),
        notes=tuple(problems),
    )


def _name(source: Source) -> str:
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    return str(getattr(source, "name", None) or "uploaded file")


# --------------------------------------------------------------------------------------------
# applying them to a run read from exports


def _match(infos: Sequence[PoolInfo], pools: Sequence[Any], problems: ProblemList) -> list[Any | None]:
    """The pool config of each of the run's pools: by id, else (a pool the export does not name)
    the one config no pool of the run names."""
    by_id = {str(p.id): p for p in pools if getattr(p, "id", None) is not None}
    named = {i.pool_id for i in infos}
    left = [p for p in pools if str(getattr(p, "id", None)) not in named]
    unnamed = [i for i in infos if i.pool_id in UNNAMED_POOL_IDS and i.pool_id not in by_id]
    out = []
    for info in infos:
        pool = by_id.get(info.pool_id)
        if pool is None and info in unnamed and len(unnamed) == 1 and len(left) == 1:
            pool = left[0]
        elif pool is None and info in unnamed and left:
            problems.add(
                f"the results do not name their pool (no ASSIGNMENT:link), and the pool configs hold "
                f"{len(left)} pools not in the results ({', '.join(str(getattr(p, 'id', '?')) for p in left)}): "
                "which is this export's cannot be told.",
                "export the results with ASSIGNMENT:link, or give only this pool's config.",
            )
        out.append(pool)
    return out


def _with_pools(run: Run, pools: Sequence[Any], problems: ProblemList) -> tuple[Run, list[Any], list[Any]]:
    """The run with each pool's config applied (PoolInfo, overlap); the main and exam configs."""
    infos = list(run.meta.pools)
    configs = _match(infos, pools, problems)
    answers = run.answers
    rows = answers["pool_id"].value_counts()
    new_infos, mains, exams, rename = [], [], [], {}
    for info, pool in zip(infos, configs, strict=True):
        if pool is None:
            new_infos.append(info)
            continue
        pid = str(pool.id) if getattr(pool, "id", None) is not None else info.pool_id
        if pid != info.pool_id:
            rename[info.pool_id] = pid
        n = int(rows.get(info.pool_id, 0))
        new = pool_info(pool, info.kind, bound_history(pool_rules(pool), max(1, n)))
        new_infos.append(dataclasses.replace(new, pool_id=pid, pass_threshold=info.pass_threshold))
        (exams if info.kind == "exam" else mains).append(pool)
    for pool in pools:
        if not any(pool is c for c in configs):
            (exams if skills_set(pool) else mains).append(pool)
    if rename:
        answers = answers.assign(pool_id=answers["pool_id"].cat.rename_categories(lambda c: rename.get(c, c)))
    overlap = next((p.overlap for p in new_infos if p.kind == "main" and p.overlap), run.meta.overlap)
    meta = dataclasses.replace(run.meta, pools=tuple(new_infos), overlap=overlap)
    return dataclasses.replace(run, answers=answers, meta=meta), mains, exams


def _unused_pools(run: Run, pools: Sequence[Any], problems: ProblemList) -> None:
    ids = {p.pool_id for p in run.meta.pools}
    unused = [str(getattr(p, "id", "?")) for p in pools if str(getattr(p, "id", None)) not in ids]
    if unused:
        problems.add(
            f"the pool config(s) of pool {', '.join(unused)} match no pool of the results; "
            "they are used only to find the exam pass mark.",
            "nothing to do if that is intended; else give the results of those pools too (--exam for an exam pool).",
            severity="warning",
        )


def _exam_threshold(run: Run, percent: float | None, mains, exams, problems: ProblemList) -> Run:
    """Exam pools' pass mark: ``percent`` where given, else the main pools' skill filter's."""
    if percent is None:
        return run.with_meta(pools=with_pass_threshold(run.meta.pools, mains, exams))
    if not 0 < float(percent) <= 100:
        raise ValueError(
            f"--exam-threshold is the share of exam items to get right, in percent (0 < x <= 100); got {percent!r}."
        )
    if not any(p.kind == "exam" for p in run.meta.pools):
        problems.add(
            f"--exam-threshold {percent:g} was given, but no exam pool was read, so it applies to nothing.",
            "give the exam pool's results with --exam.",
            severity="warning",
        )
    share = round(float(percent) / 100, 9)
    return run.with_meta(
        pools=tuple(dataclasses.replace(p, pass_threshold=share) if p.kind == "exam" else p for p in run.meta.pools)
    )


def _restrictions_of_run(run: Run, items: Sequence[Any], pools: Sequence[Any]):
    """The restrictions that apply to the run's pools (as the API import asks for them: of its
    pools, of its projects where the configs name them, of all projects), on its annotators."""
    pool_ids = {p.pool_id for p in run.meta.pools}
    projects = {str(p.project_id) for p in pools if getattr(p, "project_id", None)}

    def applies(u) -> bool:
        scope = _enum(getattr(u, "scope", None))
        if scope == "POOL":
            return str(getattr(u, "pool_id", "")) in pool_ids
        if scope == "PROJECT":
            return not projects or str(getattr(u, "project_id", "")) in projects
        return True

    return restrictions_table([u for u in items if applies(u)], run_workers([run]), run.meta.pools)


def apply_toloka_files(run: Run, files: TolokaFiles, *, exam_threshold: float | None = None) -> Run:
    """``run`` (read from exports) with what ``files`` say: each pool's config (name, reward per
    suite, overlap, suite size, quality-control rules, when it opened and closed), the exam pass
    mark (``exam_threshold`` in percent where given, else the main pools' skill filter), the
    restrictions on its annotators and the bonuses of its assignments and annotators (as the API
    import finds them). Raises ValidationError where a config cannot be matched to the results."""
    problems = ProblemList(", ".join(files.files) or "the Toloka files")
    pools = list(files.pools)
    run, mains, exams = _with_pools(run, pools, problems)
    problems.raise_if_errors()
    _unused_pools(run, pools, problems)
    run = _exam_threshold(run, exam_threshold, mains, exams, problems)
    if files.restrictions is not None:
        run = dataclasses.replace(run, restrictions=_restrictions_of_run(run, files.restrictions, pools))
    if files.bonuses is not None:
        since = first_created(pools)
        bonuses = bonus_table(files.bonuses, run_workers([run]), run_assignments([run]), since)
        run = dataclasses.replace(run, pricing=with_bonuses(run.pricing, bonuses))
    if pools:
        extra = dict(run.meta.extra)
        extra["toloka"] = {
            "files": list(files.files),
            "project_ids": list(dict.fromkeys(str(p.project_id) for p in pools if getattr(p, "project_id", None))),
            "pools": {str(p.id): _enum(getattr(p, "status", None)) for p in pools if getattr(p, "id", None)},
        }
        run = run.with_meta(extra=extra)
    sources = tuple(dict.fromkeys(run.meta.source_files + files.files))
    run = run.with_meta(source_files=sources)
    return dataclasses.replace(run, notes=run.notes + files.notes + tuple(problems.items))


__all__ = ["KINDS", "TolokaFiles", "apply_toloka_files", "read_objects", "read_toloka_files"]
