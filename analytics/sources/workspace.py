"""The local workspace: a folder of dataset versions shaped like ClearML Data versions.

Layout (``root`` is the workspace)::

    root/versions/<id>/manifest.json     id, name, project, version, parents, created, metadata, files
    root/versions/<id>/files/            the run, as published to ClearML unchanged:
        answers.parquet tasks.parquet restrictions.parquet [truth.parquet] run.json
    root/reviews/<id>.jsonl              QA decisions on bans (append-only; versions stay immutable)

A version is written into a hidden temporary folder and renamed into place, so a failed import
leaves nothing behind, and a corrupt manifest hides only its own version.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from analytics.model import (
    KINDS,
    STATUSES,
    Pricing,
    Problem,
    Run,
    RunMeta,
    ValidationError,
    empty_restrictions,
)

FORMAT = "crowdlens-run/1"
RUN_FILES = ("answers.parquet", "tasks.parquet", "restrictions.parquet", "run.json")
DEFAULT_WORKSPACE = "workspace"
DECISIONS = ("uphold", "overturn", "needs more evidence")
TASK_ID = "task_id"  # the name of the tasks frame's index, in memory and as tasks.parquet's column


def default_workspace() -> Path:
    """``$CROWDLENS_WORKSPACE`` if set, else ``./workspace`` in the current directory."""
    return Path(os.environ.get("CROWDLENS_WORKSPACE") or DEFAULT_WORKSPACE).expanduser()


@dataclass(frozen=True)
class VersionInfo:
    """One dataset version as its manifest describes it (the same fields as ClearML's)."""

    id: str
    name: str
    version: str
    parents: tuple[str, ...] = ()
    created: str = ""
    project: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    source: str = "local"
    path: str | None = None

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"

    @property
    def simulated(self) -> bool:
        return bool(self.metadata.get("simulated"))

    def to_manifest(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "id": self.id,
            "name": self.name,
            "project": self.project,
            "version": self.version,
            "parents": list(self.parents),
            "created": self.created,
            "metadata": dict(self.metadata),
        }

    @classmethod
    def from_manifest(cls, d: Mapping[str, Any], path: str | None = None) -> "VersionInfo":
        return cls(
            id=str(d["id"]),
            name=str(d["name"]),
            version=str(d.get("version", "")),
            parents=tuple(str(p) for p in d.get("parents", []) or []),
            created=str(d.get("created", "")),
            project=str(d.get("project", "") or ""),
            metadata=dict(d.get("metadata", {}) or {}),
            path=path,
        )


@dataclass(frozen=True)
class Listing:
    """The versions that could be read, oldest first, and the problems with those that could not."""

    versions: tuple[VersionInfo, ...]
    problems: tuple[Problem, ...] = ()

    def by_id(self) -> dict[str, VersionInfo]:
        return {v.id: v for v in self.versions}

    def lineage(self) -> list[tuple[str, str]]:
        """(parent id, child id) edges; parents missing from the workspace are kept as ids."""
        return [(p, v.id) for v in self.versions for p in v.parents]


def write_run_files(run: Run, folder: Path) -> dict[str, Any]:
    """Write a run's files (Parquet with Arrow dtypes, and run.json) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    write_answers(run.answers, folder / "answers.parquet")
    # the index is the task id whatever it is called in memory: stored as the column task_id
    tasks = run.tasks.rename_axis(TASK_ID).reset_index()
    tasks.to_parquet(folder / "tasks.parquet", index=False)
    run.restrictions.to_parquet(folder / "restrictions.parquet", index=False)
    if run.truth is not None:
        run.truth.astype(str).rename("truth").rename_axis("task_id").reset_index().to_parquet(
            folder / "truth.parquet", index=False
        )
    doc = {
        "format": FORMAT,
        "meta": run.meta.to_dict(),
        "pricing": run.pricing.to_dict(),
        "notes": [n.as_dict() for n in run.notes],
    }
    (folder / "run.json").write_text(json.dumps(doc, indent=1, default=str), encoding="utf-8")
    return {
        name: {"bytes": (folder / name).stat().st_size, "sha256": _sha256(folder / name)}
        for name in sorted(os.listdir(folder))
    }


def read_run_files(folder: Path, *, name: str | None = None) -> Run:
    """Read a run written by :func:`write_run_files` (a workspace version or a ClearML copy).

    The files were validated when the version was made; here only their presence and schema are
    checked, so a damaged folder gets a clear message rather than a traceback deep in a metric.
    """
    folder = Path(folder)
    label = name or str(folder)
    missing = [f for f in RUN_FILES if not (folder / f).exists()]
    if missing:
        raise ValidationError(
            [
                Problem(
                    file=label,
                    message="the version's files are incomplete: missing " + ", ".join(missing) + ".",
                    fix="re-import the run as a new version; versions are never edited in place.",
                )
            ]
        )
    try:
        doc = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        meta = RunMeta.from_dict(doc.get("meta"))
        pricing = Pricing.from_dict(doc.get("pricing"))
        answers = read_answers(folder / "answers.parquet")
        tasks = _tasks_frame(pd.read_parquet(folder / "tasks.parquet"))
        restrictions = pd.read_parquet(folder / "restrictions.parquet")
        truth = None
        if (folder / "truth.parquet").exists():
            t = pd.read_parquet(folder / "truth.parquet")
            truth = pd.Series(
                t["truth"].to_numpy(), index=pd.Index(t["task_id"].astype(str), name="task_id"), name="truth"
            )
    except (OSError, ValueError, KeyError) as err:
        raise ValidationError(
            [
                Problem(
                    file=label,
                    message=f"the version's files cannot be read ({err}).",
                    fix="re-import the run as a new version.",
                )
            ]
        ) from None
    label_dtype = pd.CategoricalDtype(pd.Index(list(meta.labels), dtype="str"))
    for col, dtype in (
        ("label", label_dtype),
        ("golden", label_dtype),
        ("kind", pd.CategoricalDtype(KINDS)),
        ("status", pd.CategoricalDtype(STATUSES)),
    ):
        # category-level re-ordering only: rows are never converted to strings
        answers[col] = answers[col].cat.set_categories(dtype.categories)
    for col in ("assignment_id", "task_id", "worker_id", "pool_id"):
        if not isinstance(answers[col].dtype, pd.CategoricalDtype):
            answers[col] = answers[col].astype("category")
        if answers[col].cat.categories.dtype != "str":
            # Parquet gives an all-null column's categories the object dtype; keep them strings
            answers[col] = answers[col].cat.rename_categories(answers[col].cat.categories.astype("str"))
    if truth is not None:
        truth = truth.astype(label_dtype)
    if len(restrictions) == 0:
        restrictions = empty_restrictions()
    notes = tuple(
        Problem(**{**n, "rows": tuple(n.get("rows", ())), "values": tuple(n.get("values", ()))})
        for n in doc.get("notes", [])
    )
    return Run(
        answers=answers, tasks=tasks, restrictions=restrictions, pricing=pricing, meta=meta, truth=truth, notes=notes
    )


def _tasks_frame(stored: pd.DataFrame) -> pd.DataFrame:
    """tasks.parquet as the run's ``tasks``: indexed by task id (str), the index named task_id.

    The file holds task_id as a column; a file whose pandas metadata made task_id (or an unnamed
    index, as ``DataFrame.to_parquet`` keeps one) the index is read the same way.
    """
    if TASK_ID in stored.columns:
        tasks = stored.set_index(TASK_ID)
    elif stored.index.name in (TASK_ID, None) and not isinstance(stored.index, pd.RangeIndex):
        tasks = stored
    else:
        raise KeyError(f"tasks.parquet has no {TASK_ID} column")
    tasks.index = tasks.index.astype("str").rename(TASK_ID)
    return tasks


def write_answers(answers: pd.DataFrame, path: Path) -> None:
    """Answers as Parquet with one dictionary per categorical column, in one row group.

    One row group and a dictionary page large enough for every id keep each column's dictionary
    stored once, so reading 10^7 answers back is a matter of seconds, not a re-encoding.
    """
    table = pa.Table.from_pandas(answers, preserve_index=False)
    pq.write_table(
        table,
        path,
        compression="zstd",
        row_group_size=max(1, len(answers)),
        dictionary_pagesize_limit=1 << 30,
        data_page_size=1 << 24,
    )


def _categorical(column: pa.ChunkedArray) -> pd.Categorical:
    chunks = column.chunks
    if not chunks:
        return pd.Categorical.from_codes(np.array([], dtype=np.int32), categories=pd.Index([], dtype="str"))
    first = chunks[0].dictionary
    shared = all(_same_buffers(c.dictionary, first) for c in chunks[1:])
    if not shared:
        column = column.unify_dictionaries()
        chunks, first = column.chunks, column.chunks[0].dictionary
    codes = np.concatenate(
        [c.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32, copy=False) for c in chunks]
    )
    categories = pd.Index(pd.array(first.cast(pa.large_string()) if len(first) else first, dtype="str"))
    try:
        # categories written by write_answers are unique already; skip pandas' O(n) re-check
        dtype = pd.CategoricalDtype._from_fastpath(categories, False)
    except AttributeError:  # pragma: no cover - a pandas without the fast path
        dtype = pd.CategoricalDtype(categories)
    return pd.Categorical.from_codes(codes, dtype=dtype, validate=False)


def _same_buffers(a: pa.Array, b: pa.Array) -> bool:
    ba, bb = a.buffers(), b.buffers()
    return len(ba) == len(bb) and all(
        (x is None and y is None) or (x is not None and y is not None and x.address == y.address)
        for x, y in zip(ba, bb)
    )


def read_answers(path: Path) -> pd.DataFrame:
    """Read :func:`write_answers`' file into the canonical dtypes (categoricals, UTC times)."""
    table = pq.read_table(path)
    out = {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_dictionary(col.type):
            out[name] = _categorical(col)
        elif pa.types.is_timestamp(col.type):
            out[name] = pd.Series(col.to_numpy().astype("datetime64[ns]")).dt.tz_localize("UTC")
        else:
            out[name] = col.to_pandas()
    return pd.DataFrame(out)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class Workspace:
    """A folder of dataset versions. Versions are immutable once written."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root).expanduser() if root is not None else default_workspace()

    @property
    def versions_dir(self) -> Path:
        return self.root / "versions"

    def exists(self) -> bool:
        return self.versions_dir.is_dir()

    def listing(self) -> Listing:
        """Every readable version (oldest first) and a problem for each unreadable manifest."""
        found: list[VersionInfo] = []
        problems: list[Problem] = []
        if not self.versions_dir.is_dir():
            return Listing(())
        for d in sorted(self.versions_dir.iterdir()):
            if d.name.startswith(".") or not d.is_dir():
                continue
            mf = d / "manifest.json"
            try:
                doc = json.loads(mf.read_text(encoding="utf-8"))
                if not isinstance(doc, dict) or "id" not in doc or "name" not in doc:
                    raise ValueError("it has no id or name")
                found.append(VersionInfo.from_manifest(doc, path=str(d)))
            except (OSError, ValueError) as err:
                problems.append(
                    Problem(
                        file=str(mf),
                        message=f"this version's manifest is unreadable ({err}); the version is hidden, the others are not affected.",
                        fix="restore manifest.json from a backup, or delete the folder "
                        + str(d)
                        + " and import the run again.",
                    )
                )
        found.sort(key=lambda v: (v.created, v.name, v.version))
        return Listing(tuple(found), tuple(problems))

    def versions(self) -> list[VersionInfo]:
        return list(self.listing().versions)

    def get(self, version_id: str) -> VersionInfo:
        listing = self.listing()
        matches = [v for v in listing.versions if v.id == version_id or v.id.startswith(version_id)]
        if len(matches) != 1:
            known = ", ".join(f"{v.id[:8]} ({v.label})" for v in listing.versions) or "none"
            what = "no" if not matches else "more than one"
            raise KeyError(f"{what} dataset version with id {version_id!r} in {self.root}. Known versions: {known}.")
        return matches[0]

    def open_run(self, version_id: str) -> Run:
        info = self.get(version_id)
        return read_run_files(Path(info.path) / "files", name=f"version {info.label} ({info.id})")

    def add_version(
        self,
        run: Run,
        *,
        name: str,
        version: str,
        parents: Sequence[str] = (),
        metadata: Mapping[str, Any] | None = None,
        version_id: str | None = None,
        created: str | None = None,
    ) -> VersionInfo:
        """Store ``run`` as a new version; atomic (a temporary folder renamed into place)."""
        if not name or not str(name).strip():
            raise ValueError(
                "The 'name' parameter of add_version must be a non-empty string. Got an empty name instead."
            )
        if not version or not str(version).strip():
            raise ValueError(
                "The 'version' parameter of add_version must be a non-empty string such as '1.0.0'. Got an empty version instead."
            )
        listing = self.listing()
        known = listing.by_id()
        for p in parents:
            if p not in known:
                raise KeyError(
                    f"parent version {p!r} is not in the workspace {self.root}; pick one of: "
                    + (", ".join(f"{v.id[:8]} ({v.label})" for v in listing.versions) or "none")
                )
        if any(v.name == name and v.version == version for v in listing.versions):
            raise ValueError(
                f"a version {name} {version} already exists in {self.root}; versions are immutable, choose a new version number."
            )
        vid = version_id or uuid.uuid4().hex
        if vid in known:
            raise ValueError(f"a version with id {vid} already exists in {self.root}.")
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.versions_dir / f".tmp-{vid}"
        final = self.versions_dir / vid
        if tmp.exists():
            shutil.rmtree(tmp)
        try:
            files = write_run_files(run, tmp / "files")
            md = dict(run_metadata(run))
            md.update(metadata or {})
            md["files"] = files
            info = VersionInfo(
                id=vid,
                name=str(name).strip(),
                version=str(version).strip(),
                parents=tuple(parents),
                created=created or _now(),
                project=run.meta.project,
                metadata=md,
            )
            (tmp / "manifest.json").write_text(json.dumps(info.to_manifest(), indent=1, default=str), encoding="utf-8")
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return dataclasses.replace(info, path=str(final))

    # ---- ban review decisions (the one mutable thing, kept beside the immutable versions)

    def record_decision(
        self, version_id: str, worker_id: str, decision: str, reviewer: str, note: str = ""
    ) -> dict[str, Any]:
        """Append a reviewer's decision on an annotator's ban; the latest per annotator counts."""
        if decision not in DECISIONS:
            raise ValueError(f"The 'decision' parameter must be one of {DECISIONS}. Got {decision!r} instead.")
        if not reviewer or not reviewer.strip():
            raise ValueError("The 'reviewer' parameter must name who decided. Got an empty name instead.")
        self.get(version_id)
        row = {
            "worker_id": str(worker_id),
            "decision": decision,
            "reviewer": reviewer.strip(),
            "note": note,
            "decided_at": _now(),
        }
        path = self.root / "reviews" / f"{version_id}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
        return row

    def decisions(self, version_id: str) -> pd.DataFrame:
        """Every recorded decision, oldest first (columns worker_id, decision, reviewer, note, decided_at)."""
        path = self.root / "reviews" / f"{version_id}.jsonl"
        cols = ["worker_id", "decision", "reviewer", "note", "decided_at"]
        if not path.exists():
            return pd.DataFrame(columns=cols)
        rows = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue  # a torn last line (crash mid-write) loses one decision, not the file
        return pd.DataFrame(rows, columns=cols)


def run_metadata(run: Run) -> dict[str, Any]:
    """The metadata a version carries about its run (shown in listings without opening it)."""
    from analytics.metrics.cost import spend
    from analytics.report import headline_figures

    s = run.summary()
    cost = spend(run)
    return {
        "project": run.meta.project,
        "simulated": run.meta.simulated,
        "currency": run.pricing.currency,
        "language": run.meta.language,
        "instructions": run.meta.instructions,
        "labels": list(run.meta.labels),
        "pools": [p.to_dict() for p in run.meta.pools],
        "answers": s["answers"],
        "tasks": s["tasks"],
        "workers": s["workers"],
        "assignments": s["assignments"],
        "annotation_cost": None if cost.total is None else round(cost.total, 6),
        "annotation_cost_missing": cost.missing,
        "headline": headline_figures(run),
    }


def lineage_order(versions: Iterable[VersionInfo]) -> list[VersionInfo]:
    """Versions with every parent before its children (ties by creation time)."""
    vs = list(versions)
    by_id = {v.id: v for v in vs}
    out: list[VersionInfo] = []
    seen: set[str] = set()

    def visit(v: VersionInfo, stack: tuple[str, ...] = ()) -> None:
        if v.id in seen or v.id in stack:
            return
        for p in v.parents:
            if p in by_id:
                visit(by_id[p], stack + (v.id,))
        seen.add(v.id)
        out.append(v)

    for v in sorted(vs, key=lambda v: v.created):
        visit(v)
    return out
