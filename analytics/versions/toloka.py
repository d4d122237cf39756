"""Import Toloka pools as a new version of a store: checks first, then read, then store.

>>> import_from_toloka(ws, ["1234"], ["1233"], name="cats", version="1.0.0")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
from typing import Sequence

from analytics.sources import toloka
from analytics.sources.store import VersionInfo, VersionLookupError, resolve
from analytics.versions.files import import_run


def _where(store) -> str:
    root = getattr(store, "root", None)
    return f"the workspace {root}" if root is not None else "the store"


def _checked(store, name: str, version: str, parents: Sequence[str]) -> tuple[str, str, list[str]]:
    """The name, version and full parent ids, checked before anything is downloaded."""
    name, version = str(name or "").strip(), str(version or "").strip()
    if not name:
        raise ValueError(
            "The 'name' parameter of import_from_toloka must be a non-empty string. Got an empty name instead."
        )
    if not version:
        raise ValueError(
            "The 'version' parameter of import_from_toloka must be a non-empty string such as '1.0.0'. "
            "Got an empty version instead."
        )
    listing = store.listing()
    where = _where(store)
    if any(v.name == name and v.version == version for v in listing.versions):
        raise ValueError(
            f"a version {name} {version} already exists in {where}; versions are immutable, "
            "choose a new version number."
        )
    full = []
    for p in parents:
        try:
            full.append(resolve(listing, str(p), where=where).id)
        except VersionLookupError as err:
            raise VersionLookupError(f"parent version {p!r}: {err} Nothing was downloaded.") from None
    return name, version, full


def import_from_toloka(
    store,
    pool_ids: Sequence[str],
    exam_pool_ids: Sequence[str] = (),
    *,
    name: str,
    version: str,
    parents: Sequence[str] = (),
    client=None,
    token: str | None = None,
    url: str | None = None,
    environment: str | None = None,
    label_field: str | None = None,
    fee_rate: float | None = None,
    fee_minimum: float = toloka.DEFAULT_FEE_MINIMUM,
    labels: Sequence[str] | None = None,
    progress: toloka.Progress | None = None,
) -> VersionInfo:
    """Read pools from Toloka and store them as version ``name`` ``version`` of ``store``.

    Before anything is downloaded: the name and version must be non-empty and not taken, and
    every parent must be in the store (``parents`` may be unique id prefixes; a
    VersionLookupError names the candidates). ``client`` replaces ``token`` / ``url`` /
    ``environment`` (an already made client, see :func:`analytics.sources.toloka.make_client`);
    the other parameters are :func:`analytics.sources.toloka.read_project`'s. The version's
    metadata holds the run's figures (:func:`analytics.versions.import_run`) and the API, the
    pools and their statuses at import time — never the token.
    """
    name, version, full = _checked(store, name, version, parents)
    client = client or toloka.make_client(token=token, environment=environment, url=url)
    run = toloka.read_project(
        client,
        pool_ids,
        exam_pool_ids,
        label_field=label_field,
        fee_rate=fee_rate,
        fee_minimum=fee_minimum,
        labels=labels,
        progress=progress,
    )
    metadata = {
        "source": "Toloka API",
        "toloka_api": toloka.where(client),
        "pool_ids": [str(p) for p in pool_ids],
        "exam_pool_ids": [str(p) for p in exam_pool_ids],
        "pool_statuses": dict(run.meta.extra.get("toloka", {}).get("pools", {})),
        "imported_at": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
    }
    return import_run(store, run, name=name, version=version, parents=full, metadata=metadata)


__all__ = ["import_from_toloka"]
