"""Publish a workspace version to ClearML unchanged, and pull a ClearML version into a workspace.

``store`` is a :class:`~analytics.sources.workspace.Workspace`: read through the RunStore methods,
written through ``add_version``, its files found with ``files_of`` and the local <-> ClearML ids
kept with ``record_remote`` / ``remote_id`` / ``local_id`` (beside the versions, never in a
manifest). ``clearml`` is a :class:`~analytics.sources.clearml_store.ClearMLStore`.
"""

from __future__ import annotations

from analytics.sources.clearml_store import ClearMLError, MissingParentError
from analytics.sources.store import VersionInfo, VersionLookupError

REMOTE = "clearml"


def clearml_id_of(store, version_id: str) -> str | None:
    """The ClearML id a local version was published as (or pulled from), if recorded."""
    return store.remote_id(version_id, REMOTE)


def publish(
    store, clearml, version_id: str, *, project: str | None = None, with_parents: bool = False, reports: bool = True
) -> str:
    """Publish a workspace version unchanged as a finalized ClearML version; return its ClearML id.

    Its files are the version's files folder, its metadata the manifest, its parents the ClearML
    ids of its local parents. Unless ``reports`` is False, the version's ClearML page gets its
    summary and per-annotator tables, label distribution, cost-quality and agreement charts and
    sample inputs through the dataset's logger (:mod:`analytics.versions.clearml_reports`). A
    parent not published yet is a MissingParentError, unless ``with_parents`` publishes the
    missing ancestors first (oldest first). Publishing a version
    already published returns the recorded id and uploads nothing.

    >>> publish(Workspace(), ClearMLStore("crowdlens"), "c00b4ca8", with_parents=True)  # doctest: +SKIP
    """
    project = str(project).strip() if project is not None else clearml.project
    if not project:
        raise ValueError(
            "The 'project' parameter of publish must be a non-empty ClearML project name. Got an empty name instead."
        )
    info = store.get(version_id)
    known = clearml_id_of(store, info.id)
    if known:
        if _is_final(store, clearml, info.id, info.label, known):
            return known
        raise ClearMLError(
            f"version {info.label} ({info.id}) was recorded as ClearML dataset {known}, but that dataset is not "
            f"finalized. Finalize or delete it in ClearML, then delete {store.remote_record_path(info.id, REMOTE)} "
            "and publish again."
        )
    parents = [_published_parent(store, clearml, info, p, project, with_parents) for p in info.parents]
    cid = _adopted(clearml, project, info) or clearml.upload(
        store.files_of(info.id),
        info.to_manifest(),
        parents=parents,
        project=project,
        reports=_reporter(store, info) if reports else None,
    )
    _record(store, info, cid, project, how="published")
    return cid


def _reporter(store, info: VersionInfo):
    """What publishing reports through the dataset's logger: the version's figures, from its run."""

    def report(logger) -> None:
        from analytics.versions import clearml_reports

        run = store.open_run(info.id)
        clearml_reports.send(logger, clearml_reports.version_reports(run, media_root=getattr(store, "root", None)))

    return report


def _published_parent(store, clearml, child: VersionInfo, parent_id: str, project: str, with_parents: bool) -> str:
    local = store.listing().by_id()
    cid = clearml_id_of(store, parent_id)
    if cid is None and with_parents and parent_id in local:
        cid = publish(store, clearml, parent_id, project=project, with_parents=True)
    if cid is None:
        parent = local.get(parent_id)
        what = f"{parent.label} ({parent_id})" if parent else f"{parent_id} (not in the workspace {store.root})"
        raise MissingParentError(
            f"the parent version {what} of {child.label} is not published to ClearML yet, so the new version's "
            "lineage could not point to it. Publish the parent first, or call publish(..., with_parents=True) "
            "to publish the missing ancestors in order."
        )
    label = local[parent_id].label if parent_id in local else parent_id
    if not _is_final(store, clearml, parent_id, label, cid):
        raise ClearMLError(
            f"the parent's ClearML dataset {cid} is not finalized; ClearML cannot derive a version from it. "
            "Finalize it first."
        )
    return cid


def _is_final(store, clearml, local_id: str, label: str, clearml_id: str) -> bool:
    try:
        return clearml.is_final(clearml_id)
    except VersionLookupError:
        raise ClearMLError(
            f"version {label} ({local_id}) was recorded as ClearML dataset {clearml_id}, which this ClearML server "
            "does not have. If it was published to another server or deleted, delete "
            f"{store.remote_record_path(local_id, REMOTE)} and publish again."
        ) from None


def _adopted(clearml, project: str, info: VersionInfo) -> str | None:
    """A finalized dataset with this name and version: ours (adopt its id) or a clash (error)."""
    for other in clearml.find(info.name, info.version, project):
        if (other.metadata.get("clearml") or {}).get("local_id") == info.id:
            return other.id  # published before, but the record of it was lost
        raise ClearMLError(
            f"ClearML project {project!r} already has a dataset {info.label} ({other.id}) that is not this version; "
            "versions are immutable: give the local version a new version number, or publish into another project."
        )
    return None


def pull(clearml, version_id: str, store, *, with_parents: bool = True) -> VersionInfo:
    """Copy a finalized ClearML version into the workspace ``store`` under the same id, to open it offline.

    Parents come first (``with_parents``), since a workspace version's parents must be in the
    workspace. A version the workspace already holds (published from it, or pulled before) is
    returned as it is; the manifest's figures are kept as published, not computed again.
    """
    local = store.listing().by_id()
    here = _local_of(store, str(version_id), local)
    if here:
        return local[here]
    info = clearml.get(version_id)
    here = _local_of(store, info.id, local)
    if here:
        return local[here]
    published = info.metadata.get("clearml") or {}
    project = str(published.get("project") or clearml.project)
    original = str(published.get("local_id") or "")
    if original and original in local and local[original].label == info.label:
        _record(store, local[original], info.id, project, how="published")
        return local[original]
    parents: list[str] = []
    for p in info.parents:
        lp = _local_of(store, p, local)
        if not lp:
            if not with_parents:
                raise MissingParentError(
                    f"the parent {p} of ClearML version {info.label} is not in the workspace {store.root}; "
                    "pull the parent first, or call pull(..., with_parents=True)."
                )
            lp = pull(clearml, p, store, with_parents=True).id
            local = store.listing().by_id()
        parents.append(lp)
    run = clearml.open_run(info.id)
    md = {k: v for k, v in info.metadata.items() if k not in ("clearml", "files")}
    stored = store.add_version(
        run,
        name=info.name,
        version=info.version,
        parents=parents,
        metadata=md,
        version_id=info.id,
        created=info.created or None,
    )
    _record(store, stored, info.id, project, how="pulled")
    return stored


def _local_of(store, clearml_id: str, local: dict[str, VersionInfo]) -> str | None:
    """The local version that is ``clearml_id``: recorded, or pulled under the same id."""
    lid = store.local_id(clearml_id, REMOTE)
    if lid and lid in local:
        return lid
    return clearml_id if clearml_id in local else None


def _record(store, info: VersionInfo, clearml_id: str, project: str, *, how: str) -> None:
    store.record_remote(
        info.id, clearml_id, remote=REMOTE, clearml_project=project, name=info.name, version=info.version, how=how
    )
