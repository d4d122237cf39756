"""ClearML Data as a source of runs: list, open (cached by id), publish and pull dataset versions.

A crowdlens version on ClearML is a dataset whose files are exactly the workspace version's
``files/`` folder (answers.parquet, tasks.parquet, restrictions.parquet, [truth.parquet],
run.json) and whose metadata artifact ``"metadata"`` is the version's manifest as a dict (name,
version, project, created, parents, metadata with cost, currency, pools, instructions, language,
counts and the files' sha256). A second artifact ``"summary"`` is a two-column table the ClearML
web UI can show (it only renders DataFrame metadata).

Only ``clearml.Dataset``'s public API is used (clearml 2.1.12): ``list_datasets``, ``get``,
``get_dependency_graph``, ``get_metadata``, ``list_files``, ``get_local_copy``, ``is_final`` to
read; ``create``, ``list_files``/``remove_files``, ``add_files``, ``set_metadata``, ``upload``,
``finalize`` to publish. Tests inject a stand-in class with the same signatures.

Credentials are ClearML's own (``CLEARML_API_HOST``, ``CLEARML_API_ACCESS_KEY``,
``CLEARML_API_SECRET_KEY`` from the environment, the secrets files read by
:mod:`analytics.settings`, or ``~/clearml.conf``); this module never prints, logs or writes them,
and every SDK message it quotes goes through :func:`analytics.settings.scrub`.

This is a store only: publishing a workspace version and pulling one into a workspace are the
use cases :func:`analytics.versions.publish` and :func:`analytics.versions.pull`, which use
:meth:`ClearMLStore.upload` and the :class:`~analytics.sources.store.RunStore` methods.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import pandas as pd

from analytics import settings
from analytics.model import Problem, Run
from analytics.sources.clearml_access import (  # noqa: F401 (the errors are re-exported)
    HOW_TO_CONFIGURE,
    ClearMLCredentialsError,
    ClearMLError,
    ClearMLUnavailableError,
    MissingParentError,
    api_host,
    check_configured,
    check_reachable,
    sdk_error,
)
from analytics.sources.manifest import is_id_prefix, is_version_id, manifest_errors, reason
from analytics.sources.run_files import RUN_FILES, read_run_files, sha256
from analytics.sources.store import FORMAT, Listing, VersionInfo, VersionLookupError, resolve

SOURCE = "clearml"
DEFAULT_PROJECT = "crowdlens"
METADATA_NAME = "metadata"  # the manifest, as a dict (get_metadata()'s default name)
SUMMARY_NAME = "summary"  # a field/value table for the ClearML web UI
TAGS = ("crowdlens",)
CLEARML_ID_LENGTH = 32  # ClearML dataset ids are uuid4().hex


def default_cache_dir() -> Path:
    """Where finalized ClearML versions are cached: ``clearml/`` in :func:`analytics.settings.cache_dir`."""
    return settings.cache_dir() / "clearml"


class ClearMLStore:
    """Dataset versions on a ClearML server, in the same :class:`Listing` / :class:`Run` shapes as the workspace.

    ``dataset_cls`` is ``clearml.Dataset`` unless given (tests pass a stand-in); it is imported on
    first use, so importing this module needs neither clearml's configuration nor a server.
    Finalized versions are immutable, so their description and files are cached under
    ``cache_dir`` by ClearML id: a version opened once opens again without the server.
    ``output_uri`` is where ``upload`` stores files (ClearML's file server when None).
    ``timeout`` bounds the reachability check made before the first real SDK call: the SDK
    itself retries an unreachable host for a very long time (240 retries, backoff up to 120 s).
    """

    source = SOURCE

    def __init__(
        self,
        project: str = DEFAULT_PROJECT,
        dataset_cls: type | None = None,
        cache_dir: str | os.PathLike | None = None,
        *,
        output_uri: str | None = None,
        timeout: float = 5.0,
    ):
        if not project or not str(project).strip():
            raise ValueError(
                "The 'project' parameter of ClearMLStore must be a non-empty ClearML project name. "
                "Got an empty name instead."
            )
        self.project = str(project).strip()
        self._dataset_cls = dataset_cls
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
        self.output_uri = output_uri
        self.timeout = timeout

    # ---- reading

    def listing(self, *, include_drafts: bool = False) -> Listing:
        """The project's versions (finalized only unless ``include_drafts``), oldest first.

        A dataset that is not a crowdlens run, or that cannot be read, becomes a problem; the
        others are listed. ``parents`` are the direct parents from the dependency graph.
        """
        Dataset = self._datasets()
        with self._sdk("list the datasets of project " + repr(self.project)):
            rows = Dataset.list_datasets(
                dataset_project=self.project, only_completed=not include_drafts, include_archived=False
            )
        found: list[VersionInfo] = []
        problems: list[Problem] = []
        for row in rows:
            vid = str(row["id"])
            try:
                info = self._cached_info(vid) or self._describe(self._get_dataset(vid), row)
            except (ClearMLCredentialsError, ClearMLUnavailableError):
                raise
            except (ClearMLError, KeyError, ValueError, OSError) as err:
                problems.append(
                    Problem(
                        file=f"ClearML dataset {row.get('name')} {row.get('version')} ({vid})",
                        message=f"this dataset cannot be read ({settings.scrub(str(err))}); it is hidden, "
                        "the others are not affected.",
                        fix="open it in the ClearML web app to check its state, "
                        "or publish the run again as a new version.",
                    )
                )
                continue
            if not _is_run(info):
                problems.append(
                    Problem(
                        file=f"ClearML dataset {info.label} ({vid})",
                        message="this dataset is not a crowdlens run (it has none of the run files "
                        + ", ".join(RUN_FILES)
                        + ").",
                        fix="publish runs with `crowdlens clearml-publish` "
                        "(or keep other datasets in another ClearML project).",
                        severity="warning",
                    )
                )
                continue
            found.append(info)
        found.sort(key=lambda v: (v.created, v.name, v.version))
        return Listing(tuple(found), tuple(problems))

    def versions(self) -> list[VersionInfo]:
        return list(self.listing().versions)

    def get(self, version_id: str) -> VersionInfo:
        """One version's description (cached for finalized versions); a prefix is matched against the listing."""
        vid = str(version_id).strip().lower()
        if len(vid) == CLEARML_ID_LENGTH and is_version_id(vid):
            return self._cached_info(vid) or self._describe(self._get_dataset(vid))
        if not is_id_prefix(vid):
            raise VersionLookupError(
                f"no ClearML dataset version with id {str(version_id)[:80]!r}: ClearML ids are {CLEARML_ID_LENGTH} "
                "lower-case hex characters (a unique prefix of one will do)."
            )
        return resolve(self.listing(), vid, where=f"ClearML project {self.project!r}")

    def open_run(self, version_id: str) -> Run:
        """The run of a finalized version; downloaded once, then read from the cache by id."""
        info, folder = self._local_files(self.get(version_id).id)
        return read_run_files(
            folder,
            name=f"ClearML version {info.label} ({info.id})",
            version_id=info.id,
            expected=info.metadata.get("files"),
        )

    def download(self, version_id: str) -> Path:
        """The folder (in the cache) holding a finalized version's run files, downloaded on first use."""
        return self._local_files(self.get(version_id).id)[1]

    def is_final(self, version_id: str) -> bool:
        """Whether the dataset is finalized, asked of the server (VersionLookupError if it has no such dataset)."""
        ds = self._get_dataset(version_id)
        with self._sdk(f"read ClearML dataset {version_id}"):
            return bool(ds.is_final())

    def find(self, name: str, version: str, project: str | None = None) -> list[VersionInfo]:
        """The finalized datasets called ``name`` ``version`` in ``project`` (this store's by default)."""
        project = project or self.project
        Dataset = self._datasets()
        with self._sdk(f"look for {name} {version} in ClearML project {project!r}"):
            rows = Dataset.list_datasets(
                dataset_project=project,
                partial_name=f"^{re.escape(name)}$",
                only_completed=True,
                include_archived=False,
            )
        return [
            self._describe(self._get_dataset(str(row["id"])), row)
            for row in rows
            if row.get("name") == name and str(row.get("version")) == version
        ]

    # ---- writing

    def upload(
        self,
        files: Path,
        manifest: Mapping[str, Any],
        *,
        parents: Sequence[str] = (),
        project: str | None = None,
        reports: Callable[[Any], None] | None = None,
    ) -> str:
        """Publish the run files in the folder ``files`` as a finalized ClearML version; return its id.

        ``manifest`` is the version's manifest (name, version, metadata with the files' sizes and
        sha256, which the folder must match); ``parents`` are finalized ClearML ids. The manifest is
        the dataset's ``metadata`` artifact, unchanged; a field/value table is its ``summary``.
        ``reports`` is called with the dataset's logger (``Dataset.get_logger()``) after the files are
        uploaded and before the version is finalized (finalizing flushes the logger's reports).
        """
        project = str(project).strip() if project is not None else self.project
        if not project:
            raise ValueError(
                "The 'project' parameter of upload must be a non-empty ClearML project name. Got an empty name instead."
            )
        files = Path(files)
        md = manifest.get("metadata") or {}
        label = f"version {manifest.get('name')} {manifest.get('version')} ({manifest.get('id')})"
        local_files = _verify_files(files, md.get("files"), label)
        Dataset = self._datasets()
        with self._sdk(f"publish {label} to ClearML project {project!r}"):
            ds = Dataset.create(
                dataset_name=str(manifest["name"]),
                dataset_project=project,
                dataset_version=str(manifest["version"]),
                parent_datasets=list(parents),
                dataset_tags=list(TAGS) + (["simulated"] if md.get("simulated") else []),
                output_uri=self.output_uri,
                description=str(md.get("description") or "") or None,
            )
            # a ClearML version inherits its parents' files; drop those this version does not have
            # (a parent's truth.parquet must not reappear in a child that has none)
            for stale in sorted(set(ds.list_files()) - set(local_files)):
                ds.remove_files(dataset_path=stale, recursive=False)
            ds.add_files(path=str(files))
            if set(ds.list_files()) != set(local_files):
                raise ClearMLError(
                    f"the draft ClearML dataset {ds.id} holds {sorted(ds.list_files())}, not the version's files "
                    f"{sorted(local_files)}; it was not finalized. Delete the draft in ClearML and publish again."
                )
            ds.set_metadata(dict(manifest), metadata_name=METADATA_NAME, ui_visible=False)
            ds.set_metadata(_summary_table(manifest), metadata_name=SUMMARY_NAME, ui_visible=True)
            ds.upload(show_progress=False, output_url=self.output_uri)
            if reports is not None:
                reports(ds.get_logger())
            ds.finalize()
            return str(ds.id)

    # ---- internals

    def _datasets(self) -> type:
        if self._dataset_cls is None:
            check_configured()
            try:
                from clearml import Dataset
            except ImportError as err:  # pragma: no cover - clearml is a dependency
                raise ClearMLError(
                    f"the clearml package is not installed ({err}); install crowdlens' dependencies (`make install`)."
                ) from None
            check_reachable(api_host(), self.timeout)
            self._dataset_cls = Dataset
        return self._dataset_cls

    @contextlib.contextmanager
    def _sdk(self, action: str) -> Iterator[None]:
        """Turn the SDK's configuration, login and connection errors into messages that say what to do.

        The SDK reads its settings from the environment: the secrets files' ClearML settings are
        put there while the block runs (:func:`analytics.settings.clearml_environment`)."""
        try:
            with settings.clearml_environment():
                yield
        except ClearMLError:
            raise
        except Exception as err:
            translated = sdk_error(action, err)
            if translated is None:
                raise
            raise translated from None

    def _get_dataset(self, version_id: str):
        Dataset = self._datasets()
        try:
            with self._sdk(f"open ClearML dataset {version_id}"):
                return Dataset.get(dataset_id=str(version_id))
        except ClearMLError:
            raise
        except Exception as err:
            raise VersionLookupError(
                f"no ClearML dataset version with id {version_id!r} can be opened "
                f"({type(err).__name__}: {settings.scrub(str(err))})."
            ) from None

    def _describe(self, ds: Any, row: Mapping[str, Any] | None = None) -> VersionInfo:
        with self._sdk(f"read ClearML dataset {getattr(ds, 'id', '?')}"):
            vid = str(ds.id)
            graph = ds.get_dependency_graph() or {}
            manifest = ds.get_metadata(metadata_name=METADATA_NAME)
            files = list(ds.list_files())
            final = bool(ds.is_final())
            name = str((row or {}).get("name") or ds.name)
            version = str((row or {}).get("version") or ds.version or "")
            project = str((row or {}).get("project") or ds.project or "")
            tags = list((row or {}).get("tags") or ds.tags or [])
        manifest = manifest if isinstance(manifest, Mapping) and manifest.get("format") == FORMAT else {}
        errors = manifest_errors(dict(manifest), str(manifest.get("id"))) if manifest else []
        if errors:
            raise ClearMLError(
                f"its crowdlens manifest (metadata artifact {METADATA_NAME!r}) is damaged: {reason(errors)}"
            )
        metadata = dict(manifest.get("metadata") or {})
        metadata["clearml"] = {
            "id": vid,
            "project": project,
            "status": (row or {}).get("status") or ("final" if final else "draft"),
            "tags": tags,
            "created": _iso((row or {}).get("created")),
            "local_id": manifest.get("id"),
            "files": sorted(files),
        }
        info = VersionInfo(
            id=vid,
            name=name,
            version=version,
            # the graph's other entries may be pruned by ClearML (ancestors no file comes from);
            # a version's own entry always keeps its direct parents
            parents=tuple(str(p) for p in graph.get(vid, []) or []),
            # when the run version was made (kept from the workspace), else when ClearML got it
            created=str(manifest.get("created") or _iso((row or {}).get("created"))),
            project=str(manifest.get("project") or project),
            metadata=metadata,
            source=SOURCE,
        )
        if final and is_version_id(vid):
            _write_json(self.cache_dir / vid / "version.json", info.to_manifest() | {"source": SOURCE})
        return info

    def _cached_info(self, version_id: str) -> VersionInfo | None:
        if not is_version_id(version_id):
            return None  # never a path from an id that is not one
        path = self.cache_dir / version_id / "version.json"
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return dataclasses.replace(VersionInfo.from_manifest(doc), source=SOURCE)

    def _local_files(self, version_id: str) -> tuple[VersionInfo, Path]:
        """The version's files in the cache, downloading them on first use."""
        if not is_version_id(version_id):
            raise VersionLookupError(f"{str(version_id)[:80]!r} is not a ClearML dataset id.")
        info = self._cached_info(version_id)
        folder = self.cache_dir / version_id / "files"
        if info is not None and folder.is_dir():
            return info, folder
        ds = self._get_dataset(version_id)
        info = self._describe(ds)
        with self._sdk(f"download ClearML version {info.label} ({info.id})"):
            if not ds.is_final():
                raise ClearMLError(
                    f"ClearML version {info.label} ({info.id}) is not finalized; crowdlens opens finalized "
                    "versions only (a draft can still change). Finalize it in ClearML, or publish the run again."
                )
            source = Path(ds.get_local_copy())
        tmp = folder.parent / f".tmp-{uuid.uuid4().hex}"
        try:
            # ClearML's copy is read-only and, on POSIX, soft links into its own cache: copy the files themselves
            shutil.copytree(source, tmp, symlinks=False)
            _verify_files(tmp, info.metadata.get("files"), f"ClearML version {info.label} ({info.id})")
            try:
                os.replace(tmp, folder)
            except OSError:
                if not folder.is_dir():
                    raise  # another process filled the cache first otherwise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return info, folder


def clearml_id_of(workspace, version_id: str) -> str | None:
    """Deprecated: ``workspace.remote_id(version_id)`` (or :func:`analytics.versions.clearml_id_of`)."""
    return workspace.remote_id(version_id, "clearml")


# ---- helpers


def _is_run(info: VersionInfo) -> bool:
    files = set((info.metadata.get("clearml") or {}).get("files") or ())
    return not (set(RUN_FILES) - files)


def _verify_files(folder: Path, expected: Mapping[str, Any] | None, label: str) -> list[str]:
    """The files under ``folder`` (relative, sorted); each must match the manifest's size and sha256."""
    names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    if not expected:
        return names
    bad = [n for n in expected if n not in names]
    bad += [n for n in names if n not in expected]
    for n in names:
        if n in expected:
            e = expected[n] or {}
            if (folder / n).stat().st_size != e.get("bytes") or sha256(folder / n) != e.get("sha256"):
                bad.append(n)
    if bad:
        raise ClearMLError(
            f"the files of {label} do not match its manifest "
            f"({', '.join(sorted(set(bad)))} missing, extra or changed); "
            "versions are immutable, so nothing was copied. Re-import the run as a new version."
        )
    return names


def _summary_table(manifest: Mapping[str, Any]) -> pd.DataFrame:
    """What the ClearML web UI shows beside the files: one row per field, values as text."""
    md = manifest.get("metadata") or {}
    cost = md.get("annotation_cost")
    rows = [
        ("name", manifest.get("name")),
        ("version", manifest.get("version")),
        ("project", manifest.get("project")),
        ("created", manifest.get("created")),
        ("simulated", md.get("simulated", False)),
        (
            "annotation cost",
            "missing: " + str(md.get("annotation_cost_missing"))
            if cost is None
            else f"{cost:.4f} {md.get('currency', '')}".strip(),
        ),
        ("answers", md.get("answers")),
        ("tasks", md.get("tasks")),
        ("annotators", md.get("workers")),
        ("assignments", md.get("assignments")),
        ("labels", ", ".join(map(str, md.get("labels") or []))),
        ("pools", ", ".join(f"{p.get('pool_id')} ({p.get('kind')})" for p in md.get("pools") or [])),
        ("overlap", ", ".join(str(p.get("overlap")) for p in md.get("pools") or [] if p.get("overlap"))),
        ("language", md.get("language")),
        ("instructions", md.get("instructions")),
        ("description", md.get("description")),
    ]
    return pd.DataFrame({"field": [k for k, _ in rows], "value": ["" if v is None else str(v) for _, v in rows]})


def _write_json(path: Path, doc: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    tmp.write_text(json.dumps(doc, indent=1, default=str), encoding="utf-8")
    os.replace(tmp, path)


def _iso(value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return str(value)


__all__ = [
    "ClearMLCredentialsError",
    "ClearMLError",
    "ClearMLStore",
    "ClearMLUnavailableError",
    "MissingParentError",
    "clearml_id_of",
    "default_cache_dir",
]
