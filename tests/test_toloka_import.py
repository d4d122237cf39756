"""Importing Toloka pools as a workspace version (analytics.versions.toloka) against the loopback stub."""

from __future__ import annotations

import pandas as pd
import pytest
import toloka_payloads as P

from analytics.sources.store import VersionLookupError
from analytics.sources.toloka import make_client, read_project
from analytics.sources.workspace import Workspace
from analytics.versions.toloka import import_from_toloka

pytestmark = pytest.mark.usefixtures("loopback_only")


def test_import_from_toloka_into_a_workspace(stub, tmp_path):
    ws = Workspace(tmp_path / "ws")
    info = import_from_toloka(
        ws, [P.POOL_ID], [P.EXAM_POOL_ID], name="cats", version="1.0.0", parents=(), token=P.TOKEN, url=stub.url
    )
    assert info.metadata["source"] == "Toloka API" and info.metadata["pool_ids"] == ["1234"]
    assert info.metadata["pool_statuses"] == {"1234": "CLOSED", "1233": "CLOSED"}
    assert P.TOKEN not in (tmp_path / "ws").joinpath("versions", info.id, "manifest.json").read_text()
    stored = ws.open_run(info.id)
    fresh = read_project(make_client(P.TOKEN, url=stub.url), [P.POOL_ID], [P.EXAM_POOL_ID])
    assert list(stored.answers.columns) == list(fresh.answers.columns)
    for c in stored.answers.columns:
        s, f = stored.answers[c], fresh.answers[c]
        assert s.dtype == f.dtype, c
        if isinstance(s.dtype, pd.CategoricalDtype):
            assert list(s.cat.categories) == list(f.cat.categories), c
        assert s.astype(object).where(s.notna(), None).tolist() == f.astype(object).where(f.notna(), None).tolist(), c
    pd.testing.assert_frame_equal(stored.restrictions, fresh.restrictions)
    assert stored.meta.pools == fresh.meta.pools
    assert stored.labels == ("cat", "dog")
    # a second import with the same name and version, or an unknown parent, is refused before
    # anything is downloaded
    asked = len(stub.requests)
    with pytest.raises(ValueError, match="already exists"):
        import_from_toloka(ws, [P.POOL_ID], [], name="cats", version="1.0.0", token=P.TOKEN, url=stub.url)
    # (a parent may be a unique id prefix; an unknown one is a VersionLookupError naming the candidates)
    with pytest.raises(VersionLookupError, match="parent version 'nope'.*Nothing was downloaded"):
        import_from_toloka(
            ws, [P.POOL_ID], [], name="cats", version="1.1.0", parents=["nope"], token=P.TOKEN, url=stub.url
        )
    assert len(stub.requests) == asked
    child = import_from_toloka(
        ws, [P.POOL_ID], [], name="cats", version="1.1.0", parents=[info.id[:8]], token=P.TOKEN, url=stub.url
    )
    assert child.parents == (info.id,) and ws.listing().lineage() == [(info.id, child.id)]
    with pytest.raises(ValueError, match="'version' parameter"):
        import_from_toloka(ws, [P.POOL_ID], [], name="cats", version=" ", token=P.TOKEN, url=stub.url)
