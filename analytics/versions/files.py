"""Import a run, or files read into one, as a new version of a store (figures computed here, once)."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from analytics.model import Run
from analytics.sources.store import VersionInfo, resolve
from analytics.versions.figures import manifest_figures


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
) -> VersionInfo:
    """Store ``run`` in ``store`` (a :class:`~analytics.sources.workspace.Workspace`) as ``name`` ``version``.

    ``parents`` may be unique id prefixes (the 8 characters ``crowdlens versions`` prints); they
    are resolved to full ids first (VersionLookupError naming the candidates otherwise). The
    manifest's metadata is :func:`manifest_figures` of the run, updated with ``metadata``.
    ``version_id`` and ``created`` are for a version that keeps an id made elsewhere (the demo,
    a pull); by default the store makes them.

    >>> import_run(ws, run, name="food-types", version="1.1.0", parents=["c00b4ca8"])  # doctest: +SKIP
    """
    listing = store.listing() if parents else None
    full = [resolve(listing, p, where=f"the workspace {getattr(store, 'root', store)}").id for p in parents]
    figures = manifest_figures(run)
    figures.update(metadata or {})
    return store.add_version(
        run, name=name, version=version, parents=full, metadata=figures, version_id=version_id, created=created
    )


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
) -> VersionInfo:
    """Read ``paths`` (and ``exam`` pools, a ``truth`` file) with :func:`analytics.sources.read_files`
    and import the run; a ValidationError with every file's problems stores nothing."""
    from analytics.sources import read_files

    run = read_files(list(paths), options, exam=list(exam), truth=truth)
    return import_run(store, run, name=name, version=version, parents=parents, metadata=metadata)
