"""The local workspace: a folder of dataset versions shaped like ClearML Data versions (read and store only).

Layout (``root`` is the workspace)::

    root/versions/<id>/manifest.json     id, name, project, version, parents, created, metadata, files
    root/versions/<id>/files/            the run, as published to ClearML unchanged:
        answers.parquet tasks.parquet restrictions.parquet [truth.parquet] run.json
    root/clearml/<id>.json               which ClearML dataset a version was published as / pulled from
    root/.lock                           taken while a version is added (flock), so imports are exclusive

A version is written into a hidden ``versions/.tmp-*`` folder and renamed into place under the
workspace lock, so a failed or killed import leaves no version behind and two imports of one
name and version cannot both succeed. The temporary folder of a killed import is removed by
the next listing or import, which says so. A version whose manifest or files are damaged is
listed as damaged (:attr:`Listing.damaged`) and hides nothing else.

Figures (cost, agreement, ...) are not computed here: :func:`analytics.versions.import_run`
computes them and stores the run through :meth:`Workspace.add_version`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import json
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from analytics import settings
from analytics.model import Problem, Run
from analytics.sources.manifest import ID_RULE, is_id_prefix, is_version_id, manifest_errors, reason
from analytics.sources.run_files import (  # noqa: F401 (re-exported for old importers)
    RUN_FILES,
    TASK_ID,
    check_files,
    read_answers,
    read_run_files,
    repair_fix,
    write_answers,
    write_run_files,
)
from analytics.sources.store import (  # noqa: F401 (re-exported for old importers)
    FORMAT,
    DamagedVersion,
    DamagedVersionError,
    Listing,
    VersionInfo,
    VersionLookupError,
    describe_versions,
    lineage_order,
    resolve,
)

DEFAULT_WORKSPACE = settings.DEFAULT_WORKSPACE
TMP_PREFIX = ".tmp-"
WRITER_FILE = ".writer"  # inside a temporary folder: the pid of the import writing it, flock-ed while it runs
ORPHAN_AGE = 600.0  # seconds after which a temporary folder without a writer file is a leftover
REMOTES = ("clearml",)


def default_workspace() -> Path:
    """The workspace folder in the settings' order (``CROWDLENS_WORKSPACE``, secrets, ``./workspace``)."""
    return settings.workspace_root()


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _check_version_id(value: Any, what: str = "version_id", where: str = "add_version") -> str:
    if not is_version_id(value):
        raise ValueError(f"The {what!r} parameter of {where} must be {ID_RULE}. Got {str(value)[:80]!r} instead.")
    return value


class Workspace:
    """A folder of dataset versions (a :class:`~analytics.sources.store.RunStore`). Versions are immutable."""

    source = "local"

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root).expanduser() if root is not None else default_workspace()

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"

    @property
    def versions_dir(self) -> Path:
        return self.root / "versions"

    def exists(self) -> bool:
        return self.versions_dir.is_dir()

    # ---- reading (RunStore)

    def listing(self) -> Listing:
        """Every usable version (oldest first), the damaged ones, and the problems found.

        Leftovers of killed imports are removed first (when nothing else holds the workspace
        lock), and each removal is a warning in ``problems``.
        """
        notices = self._clean_leftovers(blocking=False)
        versions, damaged = self._scan()
        problems = notices + [d.as_problem() for d in damaged] + _same_label_warnings(versions)
        return Listing(tuple(versions), tuple(problems), tuple(damaged))

    def versions(self) -> list[VersionInfo]:
        return list(self.listing().versions)

    def get(self, version_id: str) -> VersionInfo:
        """The version with this id or unique prefix (VersionLookupError, or DamagedVersionError)."""
        if not is_id_prefix(version_id):
            raise VersionLookupError(
                f"{str(version_id)[:80]!r} is not a version id: ids are lower-case hex, such as the 8 characters "
                f"`crowdlens versions` prints. Known versions in {self.root}: {describe_versions(self.versions())}."
            )
        return resolve(self.listing(), version_id, where=f"the workspace {self.root}")

    def open_run(self, version_id: str) -> Run:
        """The version's run; DamagedVersionError naming the file and the fix when its files are damaged."""
        info = self.get(version_id)
        folder = self.versions_dir / info.id / "files"
        return read_run_files(
            folder, name=f"version {info.label} ({info.id})", version_id=info.id, expected=info.metadata.get("files")
        )

    def files_of(self, version_id: str) -> Path:
        """The folder holding a stored version's run files (what publishing uploads unchanged)."""
        return self.versions_dir / self.get(version_id).id / "files"

    # ---- storing

    def add_version(
        self,
        run: Run,
        *,
        name: str,
        version: str,
        parents: Sequence[str] = (),
        metadata: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
        version_id: str | None = None,
        created: str | None = None,
    ) -> VersionInfo:
        """Store ``run`` as a new version, as it is: atomic (a temporary folder renamed into place) and
        exclusive (the check that name + version and id are new and the rename are one step under the
        workspace lock). ``parents`` are full ids of versions in the workspace; ``metadata`` is kept as
        given, with ``files`` (name -> bytes, sha256) added; it may be a function giving it, called once
        the run files are written (so that figures can be computed while they are). Figures are the
        caller's: :func:`analytics.versions.import_run` adds them."""
        name, version = _check_label(name, version)
        vid = _check_version_id(version_id) if version_id is not None else uuid.uuid4().hex
        parents = tuple(_check_version_id(p, "parents") for p in parents)
        self._check_new(self._scan()[0], name, version, vid, parents)  # fail before writing anything
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        self._clean_leftovers(blocking=True)
        tmp = self.versions_dir / f"{TMP_PREFIX}{vid}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            with _writer(tmp):
                files = write_run_files(run, tmp / "files")
                md = dict((metadata() if callable(metadata) else metadata) or {})
                md["files"] = files
                info = VersionInfo(
                    id=vid,
                    name=name,
                    version=version,
                    parents=parents,
                    created=created or _now(),
                    project=run.meta.project,
                    metadata=md,
                )
                text = json.dumps(info.to_manifest(), indent=1, default=str)
                (tmp / "manifest.json").write_text(text, encoding="utf-8")
                with self._lock():
                    self._check_new(self._scan()[0], name, version, vid, parents)
                    (tmp / WRITER_FILE).unlink()
                    os.rename(tmp, self.versions_dir / vid)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return dataclasses.replace(info, metadata=json.loads(text)["metadata"], path=str(self.versions_dir / vid))

    def _check_new(
        self, versions: Sequence[VersionInfo], name: str, version: str, vid: str, parents: Sequence[str]
    ) -> None:
        known = {v.id for v in versions}
        for p in parents:
            if p not in known:
                raise VersionLookupError(
                    f"parent version {p!r} is not in the workspace {self.root}; pick one of: "
                    f"{describe_versions(versions)}."
                )
        if any(v.name == name and v.version == version for v in versions):
            raise ValueError(
                f"a version {name} {version} already exists in {self.root}; versions are immutable, "
                "choose a new version number."
            )
        if (self.versions_dir / vid).exists():
            raise ValueError(f"a version with id {vid} already exists in {self.root}.")

    # ---- which remote dataset a version is (kept beside the versions, never in a manifest)

    def remote_record_path(self, version_id: str, remote: str = "clearml") -> Path:
        """Where the record of a version's copy on ``remote`` is kept (``root/<remote>/<id>.json``)."""
        if remote not in REMOTES:
            raise ValueError(f"The 'remote' parameter must be one of {REMOTES}. Got {remote!r} instead.")
        return self.root / remote / f"{_check_version_id(version_id, where='remote_record_path')}.json"

    def record_remote(self, version_id: str, remote_id: str, *, remote: str = "clearml", **details: Any) -> Path:
        """Record that the local version ``version_id`` is ``remote_id`` on ``remote`` (with ``details``
        such as the project, and how: "published" or "pulled")."""
        path = self.remote_record_path(version_id, remote)
        doc = {"local_id": version_id, f"{remote}_id": str(remote_id), **details, "at": _now()}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
        tmp.write_text(json.dumps(doc, indent=1, default=str), encoding="utf-8")
        os.replace(tmp, path)
        return path

    def remote_id(self, version_id: str, remote: str = "clearml") -> str | None:
        """The id on ``remote`` a local version was published as (or pulled from), if recorded."""
        try:
            doc = json.loads(self.remote_record_path(version_id, remote).read_text(encoding="utf-8"))
            return str(doc[f"{remote}_id"]) or None
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def local_id(self, remote_id: str, remote: str = "clearml") -> str | None:
        """The local version recorded as ``remote_id`` on ``remote``, if any."""
        folder = self.root / remote
        if remote not in REMOTES or not folder.is_dir():
            return None
        for path in sorted(folder.glob("*.json")):
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(doc, dict) and doc.get(f"{remote}_id") == remote_id:
                local = str(doc.get("local_id") or path.stem)
                return local if is_version_id(local) else None
        return None

    # ---- internals

    def _scan(self) -> tuple[list[VersionInfo], list[DamagedVersion]]:
        found: list[VersionInfo] = []
        damaged: list[DamagedVersion] = []
        if not self.versions_dir.is_dir():
            return found, damaged
        folders = sorted(d for d in self.versions_dir.iterdir() if not d.name.startswith(".") and d.is_dir())
        names = {d.name for d in folders}
        for d in folders:
            got = _read_version(d, names)
            (found if isinstance(got, VersionInfo) else damaged).append(got)
        found.sort(key=lambda v: (v.created, v.name, v.version))
        return found, damaged

    @contextlib.contextmanager
    def _lock(self, blocking: bool = True) -> Iterator[bool]:
        """The workspace lock (flock on ``root/.lock``); yields False when not blocking and it is taken,
        or when the workspace cannot be written (then there is nothing to clean or add either)."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            if blocking:
                raise
            yield False
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)  # closing releases the lock

    def _clean_leftovers(self, *, blocking: bool) -> list[Problem]:
        """Remove the temporary folders of imports that were killed; a warning for each."""
        if not self.versions_dir.is_dir():
            return []
        leftovers = [d for d in self.versions_dir.iterdir() if d.name.startswith(TMP_PREFIX)]
        if not leftovers:
            return []
        notices: list[Problem] = []
        with self._lock(blocking) as locked:
            if not locked:
                return []
            for d in leftovers:
                pid = _abandoned(d)
                if pid is None:
                    continue
                shutil.rmtree(d, ignore_errors=True)
                who = f"process {pid}" if pid else "an older crowdlens"
                notices.append(
                    Problem(
                        file=str(d),
                        message=f"an import by {who} was stopped before it finished; its unfinished folder was removed "
                        "and no version was added.",
                        fix="import the run again if it is not among the versions.",
                        severity="warning",
                    )
                )
        return notices


def _check_label(name: Any, version: Any) -> tuple[str, str]:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"The 'name' parameter of add_version must be a non-empty string. Got {name!r} instead.")
    if not isinstance(version, str) or not version.strip():
        raise ValueError(
            "The 'version' parameter of add_version must be a non-empty string such as '1.0.0'. "
            f"Got {version!r} instead."
        )
    return name.strip(), version.strip()


@contextlib.contextmanager
def _writer(tmp: Path) -> Iterator[None]:
    """Mark ``tmp`` as being written by this process: a file with the pid, flock-ed until the block ends.
    A killed process loses its flock, which is how the next import or listing knows the folder is a leftover."""
    fd = os.open(tmp / WRITER_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)


def _abandoned(tmp: Path) -> int | None:
    """The pid (0 if unknown) of the dead import that left ``tmp``; None while its writer may still run.

    The writer flocks its file before writing its pid into it, so a pid in a file nobody holds
    means the writer is gone. A folder without a pid yet is a leftover only once it is old.
    """
    try:
        fd = os.open(tmp / WRITER_FILE, os.O_RDWR)
    except OSError:
        fd = None
    try:
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            text = os.pread(fd, 32, 0).decode(errors="replace").strip()
            if text.isdigit():
                return int(text)
        return 0 if time.time() - tmp.stat().st_mtime > ORPHAN_AGE else None
    except OSError:  # BlockingIOError: its writer holds it, alive
        return None
    finally:
        if fd is not None:
            os.close(fd)


def _read_version(folder: Path, folder_names: set[str]) -> VersionInfo | DamagedVersion:
    """The version stored in ``folder``, or what is damaged about it (manifest schema, then run files)."""
    mf = folder / "manifest.json"

    def damaged(file: Path, why: str, info: VersionInfo | None = None) -> DamagedVersion:
        return DamagedVersion(
            id=folder.name, folder=str(folder), file=str(file), reason=why, fix=repair_fix(folder), info=info
        )

    try:
        doc = json.loads(mf.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        return damaged(mf, f"its manifest cannot be read ({type(err).__name__}: {str(err)[:200]})")
    errors = manifest_errors(doc, folder.name)
    if errors:
        dup = doc.get("id") if isinstance(doc, dict) else None
        if isinstance(dup, str) and dup != folder.name and dup in folder_names:
            errors.insert(0, f"it is a copy of version {dup} (the same id in two folders)")
        return damaged(mf, "manifest.json: " + reason(errors))
    info = VersionInfo.from_manifest(doc, path=str(folder))
    bad = check_files(folder / "files", info.metadata.get("files"))
    if bad:
        return damaged(folder / "files" / bad[0], bad[1], info)
    return info


def _same_label_warnings(versions: Sequence[VersionInfo]) -> list[Problem]:
    """A warning for each name + version held by more than one version (left by an older crowdlens)."""
    by_label: dict[tuple[str, str], list[VersionInfo]] = {}
    for v in versions:
        by_label.setdefault((v.name, v.version), []).append(v)
    return [
        Problem(
            file=str(Path(vs[0].path or "").parent),
            message=f"{len(vs)} versions are called {vs[0].label}: {describe_versions(vs)}.",
            fix="open them by id; delete the folders of the copies you do not want.",
            severity="warning",
        )
        for vs in by_label.values()
        if len(vs) > 1
    ]
