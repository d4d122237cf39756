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
``CLEARML_API_SECRET_KEY`` or ``~/clearml.conf``); this module never reads them except to say
which are missing, and never prints, logs or writes them.

Which local version became which ClearML dataset is recorded beside the versions, in
``<workspace>/clearml/<local id>.json``; a version's manifest is never edited.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import ssl
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Iterator, Mapping

import pandas as pd

from analytics.model import Problem, Run
from analytics.sources.workspace import FORMAT, RUN_FILES, Listing, VersionInfo, Workspace, read_run_files

SOURCE = "clearml"
DEFAULT_PROJECT = "crowdlens"
METADATA_NAME = "metadata"  # the manifest, as a dict (get_metadata()'s default name)
SUMMARY_NAME = "summary"  # a field/value table for the ClearML web UI
TAGS = ("crowdlens",)
CREDENTIAL_VARS = ("CLEARML_API_HOST", "CLEARML_API_ACCESS_KEY", "CLEARML_API_SECRET_KEY")
# values that must never appear in a message, even when an SDK error quotes them
_SECRET_VARS = (
    "CLEARML_API_ACCESS_KEY",
    "CLEARML_API_SECRET_KEY",
    "TRAINS_API_ACCESS_KEY",
    "TRAINS_API_SECRET_KEY",
    "CLEARML_AUTH_TOKEN",
)
_HOW_TO_CONFIGURE = (
    "Set CLEARML_API_HOST, CLEARML_API_ACCESS_KEY and CLEARML_API_SECRET_KEY in the environment "
    "(create the key pair in the ClearML web app: Settings > Workspace > Create new credentials), "
    "or put them as top-level keys in .streamlit/secrets.toml, which Streamlit exports as environment "
    "variables (never commit that file); `clearml-init` writing ~/clearml.conf works too."
)


class ClearMLError(RuntimeError):
    """A ClearML operation could not be done; the message says why and what to do."""


class ClearMLCredentialsError(ClearMLError):
    """ClearML credentials are missing or were rejected (the message names the variables to set)."""


class ClearMLUnavailableError(ClearMLError):
    """The ClearML API server cannot be reached."""


class MissingParentError(ClearMLError):
    """A version's parent is not on the other side yet (not published, or not pulled), so its lineage cannot be kept."""


def default_cache_dir() -> Path:
    """``$CROWDLENS_CACHE/clearml``, else ``$XDG_CACHE_HOME/crowdlens/clearml`` (``~/.cache`` by default)."""
    if os.environ.get("CROWDLENS_CACHE"):
        return Path(os.environ["CROWDLENS_CACHE"]).expanduser() / "clearml"
    return Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "crowdlens" / "clearml"


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
                "The 'project' parameter of ClearMLStore must be a non-empty ClearML project name. Got an empty name instead."
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
                        message=f"this dataset cannot be read ({_scrub(str(err))}); it is hidden, the others are not affected.",
                        fix="open it in the ClearML web app to check its state, or publish the run again as a new version.",
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
                        fix="publish runs with `ClearMLStore.publish` (or keep other datasets in another ClearML project).",
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
        """One version's description (cached for finalized versions)."""
        return self._cached_info(version_id) or self._describe(self._get_dataset(version_id))

    def open_run(self, version_id: str) -> Run:
        """The run of a finalized version; downloaded once, then read from the cache by id."""
        info, folder = self._local_files(version_id)
        return read_run_files(folder, name=f"ClearML version {info.label} ({info.id})")

    # ---- writing

    def publish(
        self, workspace: Workspace, version_id: str, *, project: str | None = None, with_parents: bool = False
    ) -> str:
        """Publish a workspace version unchanged as a finalized ClearML version; return its ClearML id.

        Its files are the version's ``files/`` folder, its metadata the manifest, its parents the
        ClearML ids of its local parents. A parent not published yet is an error, unless
        ``with_parents`` publishes the missing ancestors first (oldest first). Publishing a
        version already published returns the recorded id and uploads nothing.
        """
        project = str(project).strip() if project is not None else self.project
        if not project:
            raise ValueError(
                "The 'project' parameter of publish must be a non-empty ClearML project name. Got an empty name instead."
            )
        info = workspace.get(version_id)
        known = clearml_id_of(workspace, info.id)
        Dataset = self._datasets()
        if known:
            ds = self._get_recorded(workspace, info.id, info.label, known)
            if ds.is_final():
                return known
            raise ClearMLError(
                f"version {info.label} ({info.id}) was recorded as ClearML dataset {known}, but that dataset is not finalized. "
                f"Finalize or delete it in ClearML, then delete {_mapping_path(workspace, info.id)} and publish again."
            )
        local = workspace.listing().by_id()
        parents: list[str] = []
        for p in info.parents:
            cid = clearml_id_of(workspace, p)
            if cid is None and with_parents and p in local:
                cid = self.publish(workspace, p, project=project, with_parents=True)
            if cid is None:
                parent = local.get(p)
                what = f"{parent.label} ({p})" if parent else f"{p} (not in the workspace {workspace.root})"
                raise MissingParentError(
                    f"the parent version {what} of {info.label} is not published to ClearML yet, so the new version's "
                    "lineage could not point to it. Publish the parent first, or call publish(..., with_parents=True) "
                    "to publish the missing ancestors in order."
                )
            parent_ds = self._get_recorded(workspace, p, local[p].label if p in local else p, cid)
            if not parent_ds.is_final():
                raise ClearMLError(
                    f"the parent's ClearML dataset {cid} is not finalized; ClearML cannot derive a version from it. Finalize it first."
                )
            parents.append(cid)
        adopted = self._find_existing(Dataset, project, info)
        if adopted:
            _record(workspace, info, adopted, project, how="published")
            return adopted

        vdir = Path(info.path) if info.path else workspace.versions_dir / info.id
        files_dir = vdir / "files"
        manifest = json.loads((vdir / "manifest.json").read_text(encoding="utf-8"))
        local_files = _verify_files(
            files_dir, manifest.get("metadata", {}).get("files"), f"version {info.label} ({info.id})"
        )
        with self._sdk(f"publish version {info.label} to ClearML project {project!r}"):
            ds = Dataset.create(
                dataset_name=info.name,
                dataset_project=project,
                dataset_version=info.version,
                parent_datasets=parents,
                dataset_tags=list(TAGS) + (["simulated"] if info.simulated else []),
                output_uri=self.output_uri,
                description=str(info.metadata.get("description") or "") or None,
            )
            # a ClearML version inherits its parents' files; drop those this version does not have
            # (a parent's truth.parquet must not reappear in a child that has none)
            for stale in sorted(set(ds.list_files()) - set(local_files)):
                ds.remove_files(dataset_path=stale, recursive=False)
            ds.add_files(path=str(files_dir))
            if set(ds.list_files()) != set(local_files):
                raise ClearMLError(
                    f"the draft ClearML dataset {ds.id} holds {sorted(ds.list_files())}, not the version's files {sorted(local_files)}; "
                    "it was not finalized. Delete the draft in ClearML and publish again."
                )
            ds.set_metadata(manifest, metadata_name=METADATA_NAME, ui_visible=False)
            ds.set_metadata(_summary_table(manifest), metadata_name=SUMMARY_NAME, ui_visible=True)
            ds.upload(show_progress=False, output_url=self.output_uri)
            ds.finalize()
            new_id = str(ds.id)
        _record(workspace, info, new_id, project, how="published")
        return new_id

    def pull(self, version_id: str, workspace: Workspace, *, with_parents: bool = True) -> VersionInfo:
        """Copy a finalized ClearML version into ``workspace`` under the same id, to open it offline.

        Parents come first (``with_parents``), since a workspace version's parents must be in the
        workspace. A version the workspace already holds (published from it, or pulled before)
        is returned as it is.
        """
        here = _local_id_of(workspace, version_id)
        local = workspace.listing().by_id()
        if here and here in local:
            return local[here]
        info = self.get(version_id)
        original = str((info.metadata.get("clearml") or {}).get("local_id") or "")
        if original and original in local and local[original].label == info.label:
            _record(
                workspace,
                local[original],
                info.id,
                str((info.metadata.get("clearml") or {}).get("project") or self.project),
                how="published",
            )
            return local[original]
        parents: list[str] = []
        for p in info.parents:
            lp = _local_id_of(workspace, p)
            if not (lp and lp in local):
                if not with_parents:
                    raise MissingParentError(
                        f"the parent {p} of ClearML version {info.label} is not in the workspace {workspace.root}; "
                        "pull the parent first, or call pull(..., with_parents=True)."
                    )
                lp = self.pull(p, workspace, with_parents=True).id
                local = workspace.listing().by_id()
            parents.append(lp)
        run = self.open_run(info.id)
        md = {k: v for k, v in info.metadata.items() if k not in ("clearml", "files")}
        stored = workspace.add_version(
            run,
            name=info.name,
            version=info.version,
            parents=parents,
            metadata=md,
            version_id=info.id,
            created=info.created or None,
        )
        _record(
            workspace,
            stored,
            info.id,
            str((info.metadata.get("clearml") or {}).get("project") or self.project),
            how="pulled",
        )
        return stored

    # ---- internals

    def _datasets(self) -> type:
        if self._dataset_cls is None:
            _check_configured()
            try:
                from clearml import Dataset
            except ImportError as err:  # pragma: no cover - clearml is a dependency
                raise ClearMLError(
                    f"the clearml package is not installed ({err}); install crowdlens' dependencies (`make install`)."
                ) from None
            _check_reachable(_api_host(), self.timeout)
            self._dataset_cls = Dataset
        return self._dataset_cls

    @contextlib.contextmanager
    def _sdk(self, action: str) -> Iterator[None]:
        """Turn the SDK's configuration, login and connection errors into messages that say what to do."""
        try:
            yield
        except ClearMLError:
            raise
        except Exception as err:
            names = {c.__name__ for c in type(err).__mro__}
            text = _scrub(str(err))
            if "MissingConfigError" in names:
                raise ClearMLCredentialsError(
                    f"cannot {action}: ClearML credentials are missing. {_HOW_TO_CONFIGURE}"
                ) from None
            if "LoginError" in names:
                raise ClearMLCredentialsError(
                    f"cannot {action}: the ClearML server refused the credentials ({text}). Check that the key pair belongs to "
                    f"the server CLEARML_API_HOST names and was not revoked. {_HOW_TO_CONFIGURE}"
                ) from None
            if names & {"ConnectionError", "MaxRetryError", "NewConnectionError", "Timeout", "ConnectTimeout"}:
                raise ClearMLUnavailableError(
                    f"cannot {action}: the ClearML server cannot be reached ({text}). Check CLEARML_API_HOST and the network."
                ) from None
            raise

    def _get_dataset(self, version_id: str):
        Dataset = self._datasets()
        try:
            with self._sdk(f"open ClearML dataset {version_id}"):
                return Dataset.get(dataset_id=str(version_id))
        except ClearMLError:
            raise
        except Exception as err:
            raise KeyError(
                f"no ClearML dataset version with id {version_id!r} can be opened ({type(err).__name__}: {_scrub(str(err))})."
            ) from None

    def _get_recorded(self, workspace: Workspace, local_id: str, label: str, clearml_id: str):
        try:
            return self._get_dataset(clearml_id)
        except KeyError:
            raise ClearMLError(
                f"version {label} ({local_id}) was recorded as ClearML dataset {clearml_id}, which this ClearML server does not have. "
                f"If it was published to another server or deleted, delete {_mapping_path(workspace, local_id)} and publish again."
            ) from None

    def _find_existing(self, Dataset: type, project: str, info: VersionInfo) -> str | None:
        """A finalized dataset with this name and version: ours (adopt its id) or a clash (error)."""
        with self._sdk(f"look for {info.label} in ClearML project {project!r}"):
            rows = Dataset.list_datasets(
                dataset_project=project,
                partial_name=f"^{re.escape(info.name)}$",
                only_completed=True,
                include_archived=False,
            )
        for row in rows:
            if row.get("name") != info.name or str(row.get("version")) != info.version:
                continue
            other = self._describe(self._get_dataset(str(row["id"])), row)
            if (other.metadata.get("clearml") or {}).get("local_id") == info.id:
                return other.id  # published before, but the record of it was lost
            raise ClearMLError(
                f"ClearML project {project!r} already has a dataset {info.label} ({other.id}) that is not this version; "
                "versions are immutable: give the local version a new version number, or publish into another project."
            )
        return None

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
        if final:
            _write_json(self.cache_dir / vid / "version.json", info.to_manifest() | {"source": SOURCE})
        return info

    def _cached_info(self, version_id: str) -> VersionInfo | None:
        path = self.cache_dir / str(version_id) / "version.json"
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return dataclasses.replace(VersionInfo.from_manifest(doc), source=SOURCE)

    def _local_files(self, version_id: str) -> tuple[VersionInfo, Path]:
        """The version's files in the cache, downloading them on first use."""
        folder = self.cache_dir / str(version_id) / "files"
        info = self._cached_info(version_id)
        if info is not None and folder.is_dir():
            return info, folder
        ds = self._get_dataset(version_id)
        info = self._describe(ds)
        with self._sdk(f"download ClearML version {info.label} ({info.id})"):
            if not ds.is_final():
                raise ClearMLError(
                    f"ClearML version {info.label} ({info.id}) is not finalized; crowdlens opens finalized versions only "
                    "(a draft can still change). Finalize it in ClearML, or publish the run again."
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


# ---- the workspace's record of what was published (beside the versions, never in a manifest)


def clearml_id_of(workspace: Workspace, version_id: str) -> str | None:
    """The ClearML id a local version was published as (or pulled from), if recorded."""
    try:
        doc = json.loads(_mapping_path(workspace, version_id).read_text(encoding="utf-8"))
        return str(doc["clearml_id"]) or None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _local_id_of(workspace: Workspace, clearml_id: str) -> str | None:
    folder = workspace.root / "clearml"
    if folder.is_dir():
        for path in sorted(folder.glob("*.json")):
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(doc, dict) and doc.get("clearml_id") == clearml_id:
                return str(doc.get("local_id") or path.stem)
    return clearml_id if (workspace.versions_dir / clearml_id / "manifest.json").exists() else None


def _mapping_path(workspace: Workspace, version_id: str) -> Path:
    return workspace.root / "clearml" / f"{version_id}.json"


def _record(workspace: Workspace, info: VersionInfo, clearml_id: str, project: str, *, how: str) -> None:
    _write_json(
        _mapping_path(workspace, info.id),
        {
            "local_id": info.id,
            "clearml_id": clearml_id,
            "clearml_project": project,
            "name": info.name,
            "version": info.version,
            "how": how,
            "at": _now(),
        },
    )


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
            if (folder / n).stat().st_size != e.get("bytes") or _sha256(folder / n) != e.get("sha256"):
                bad.append(n)
    if bad:
        raise ClearMLError(
            f"the files of {label} do not match its manifest ({', '.join(sorted(set(bad)))} missing, extra or changed); "
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
        ("language", md.get("language")),
        ("instructions", md.get("instructions")),
        ("description", md.get("description")),
    ]
    return pd.DataFrame({"field": [k for k, _ in rows], "value": ["" if v is None else str(v) for _, v in rows]})


def _check_configured() -> None:
    """Fail before any network call when ClearML has neither credentials in the environment nor a config file.

    With a config file the SDK decides (it raises MissingConfigError, also before the network,
    when the file holds no key pair).
    """
    env = os.environ
    if env.get("CLEARML_AUTH_TOKEN"):
        return
    if (env.get("CLEARML_API_ACCESS_KEY") or env.get("TRAINS_API_ACCESS_KEY")) and (
        env.get("CLEARML_API_SECRET_KEY") or env.get("TRAINS_API_SECRET_KEY")
    ):
        return
    override = env.get("CLEARML_CONFIG_FILE") or env.get("TRAINS_CONFIG_FILE")
    candidates = [override] if override else []
    candidates += ["~/trains.conf", "~/clearml.conf"]
    if any(Path(os.path.expandvars(c)).expanduser().is_file() for c in candidates):
        return
    missing = [v for v in CREDENTIAL_VARS if not env.get(v)]
    raise ClearMLCredentialsError(
        f"ClearML is not configured: {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set and there is no ~/clearml.conf. {_HOW_TO_CONFIGURE}"
    )


def _api_host() -> str:
    host = os.environ.get("CLEARML_API_HOST") or os.environ.get("TRAINS_API_HOST")
    if host:
        return host.rstrip("/")
    try:
        from clearml.backend_api import Session

        return str(Session.get_api_server_host()).rstrip("/")
    except Exception:  # pragma: no cover - the SDK resolves its own default
        return ""


def _check_reachable(host: str, timeout: float) -> None:
    """Any answer from the API server will do (an HTTP error, a certificate the SDK may be told to
    accept); only a connection that fails or times out is an error."""
    if not host:
        return
    try:
        with urllib.request.urlopen(urllib.request.Request(host + "/debug.ping", method="GET"), timeout=timeout):
            pass
    except urllib.error.HTTPError:
        return
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        if isinstance(reason, ssl.SSLError) or isinstance(err, ssl.SSLError):
            return
        raise ClearMLUnavailableError(
            f"the ClearML API server at {host} cannot be reached ({_scrub(str(reason))}, waited {timeout:g} s). "
            "Check CLEARML_API_HOST (e.g. http://localhost:8008 for a local clearml-server) and the network. "
            + _HOW_TO_CONFIGURE
        ) from None


def _scrub(text: str) -> str:
    for var in _SECRET_VARS:
        value = os.environ.get(var)
        if value and len(value) >= 4:
            text = text.replace(value, "***")
    return text


def _write_json(path: Path, doc: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    tmp.write_text(json.dumps(doc, indent=1, default=str), encoding="utf-8")
    os.replace(tmp, path)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _iso(value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return str(value)


def _now() -> str:
    return _iso(dt.datetime.now(dt.timezone.utc))


__all__ = [
    "ClearMLCredentialsError",
    "ClearMLError",
    "ClearMLStore",
    "ClearMLUnavailableError",
    "MissingParentError",
    "clearml_id_of",
    "default_cache_dir",
]
