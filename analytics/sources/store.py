"""What every store of dataset versions shares: VersionInfo, Listing, the RunStore protocol, prefixes, lineage.

The local workspace (:mod:`analytics.sources.workspace`) and ClearML (:mod:`analytics.sources.clearml_store`)
both implement :class:`RunStore`; the use cases (:mod:`analytics.versions`), the CLI and the
dashboard talk to a store only through it. A version id can always be given as a unique prefix
(the 8 characters ``crowdlens versions`` prints): :func:`resolve` is the one place that matches it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Protocol, runtime_checkable

from analytics.model import Problem, Run, ValidationError

FORMAT = "crowdlens-run/1"
SHORT_ID = 8  # how many characters of an id listings print


class VersionLookupError(ValueError):
    """No version, or more than one, matches an id or prefix; the message names the candidates."""


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
class DamagedVersion:
    """A version a store holds but cannot use: which file is wrong, why, and how to fix it.

    ``id`` is the id the version is stored under (its folder's name in a workspace); ``info`` is
    what its manifest says when the manifest itself could be read (its run files are the damage).
    """

    id: str
    folder: str
    file: str
    reason: str
    fix: str
    info: VersionInfo | None = None

    @property
    def label(self) -> str:
        return f"{self.info.label} ({self.id})" if self.info is not None else self.id

    def as_problem(self) -> Problem:
        return Problem(
            file=self.file,
            message=f"version {self.label} is damaged: {self.reason}; it cannot be opened, the others can.",
            fix=self.fix,
        )


class DamagedVersionError(ValidationError):
    """A version's manifest or run files are damaged (``.damaged`` says which file, why, the fix)."""

    def __init__(self, damaged: DamagedVersion):
        self.damaged = damaged
        super().__init__([damaged.as_problem()])

    def _text(self) -> str:
        d = self.damaged
        return f"version {d.label} cannot be opened: {d.file}: {d.reason}. Fix: {d.fix}"


@dataclass(frozen=True)
class Listing:
    """The versions that could be read, oldest first, and the problems with those that could not.

    ``damaged`` are the versions whose manifest or run files are wrong (each also appears in
    ``problems``, so a listing that shows only problems still warns); they are not in ``versions``.
    """

    versions: tuple[VersionInfo, ...]
    problems: tuple[Problem, ...] = ()
    damaged: tuple[DamagedVersion, ...] = ()

    def by_id(self) -> dict[str, VersionInfo]:
        return {v.id: v for v in self.versions}

    def lineage(self) -> list[tuple[str, str]]:
        """(parent id, child id) edges; parents missing from the workspace are kept as ids."""
        return [(p, v.id) for v in self.versions for p in v.parents]


@runtime_checkable
class RunStore(Protocol):
    """A place that holds dataset versions: the local workspace, a ClearML project."""

    def listing(self) -> Listing:
        """Every readable version, oldest first, and the problems with those that are not."""
        ...

    def get(self, version_id: str) -> VersionInfo:
        """The version with this id or unique prefix; VersionLookupError otherwise."""
        ...

    def open_run(self, version_id: str) -> Run:
        """The run of the version with this id or unique prefix."""
        ...


def short_id(version_id: str) -> str:
    return version_id[:SHORT_ID]


def describe_versions(versions: Iterable[VersionInfo]) -> str:
    """``"c00b4ca8 (food-types 1.0.0), ..."`` for a message that lists the choices."""
    return ", ".join(f"{short_id(v.id)} ({v.label})" for v in versions) or "none"


def matching(versions: Iterable[VersionInfo], id_or_prefix: str) -> list[VersionInfo]:
    """The versions whose id is ``id_or_prefix`` or starts with it (an exact id always wins)."""
    wanted = str(id_or_prefix).strip().lower()
    if not wanted:
        return []
    vs = list(versions)
    exact = [v for v in vs if v.id == wanted]
    return exact or [v for v in vs if v.id.startswith(wanted)]


def resolve(listing: Listing, id_or_prefix: str, *, where: str = "the workspace") -> VersionInfo:
    """The one version whose id is ``id_or_prefix`` or starts with it; VersionLookupError naming
    the candidates when none or several match."""
    found = matching(listing.versions, id_or_prefix)
    if len(found) == 1:
        return found[0]
    wanted = str(id_or_prefix).strip().lower()
    damaged = [d for d in listing.damaged if wanted and d.id.startswith(wanted)]
    if not found and len(damaged) == 1:
        raise DamagedVersionError(damaged[0])
    if not found:
        raise VersionLookupError(
            f"no dataset version with id {id_or_prefix!r} in {where}. "
            f"Known versions: {describe_versions(listing.versions)}."
        )
    raise VersionLookupError(
        f"the id {id_or_prefix!r} matches more than one dataset version in {where}: {describe_versions(found)}; "
        "give more characters of the id."
    )


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


def lineage_depth(versions: Iterable[VersionInfo]) -> dict[str, int]:
    """How many generations of known parents each version has (0 for a root; a cycle counts once)."""
    by_id = {v.id: v for v in versions}
    depth: dict[str, int] = {}

    def of(vid: str, stack: frozenset[str]) -> int:
        if vid in depth:
            return depth[vid]
        parents = [p for p in by_id[vid].parents if p in by_id and p not in stack]
        d = 0 if not parents else 1 + max(of(p, stack | {vid}) for p in parents)
        depth[vid] = d
        return d

    for vid in by_id:
        of(vid, frozenset())
    return depth


def lineage_roots(versions: Iterable[VersionInfo]) -> dict[str, str]:
    """Each version's data set: the id of the oldest known ancestor it descends from (its own id for
    a root), so a listing can group and draw each data set's own tree."""
    vs = lineage_order(versions)
    by_id = {v.id: v for v in vs}
    root: dict[str, str] = {}
    for v in vs:  # parents come first
        known = [root[p] for p in v.parents if p in by_id and p in root]
        root[v.id] = min(known, key=lambda r: (by_id[r].created, r)) if known else v.id
    return root
