"""analytics.sources.store: the one place that resolves an id prefix and works out lineage."""

from __future__ import annotations

import pytest

from analytics.sources.store import (
    Listing,
    VersionInfo,
    VersionLookupError,
    lineage_depth,
    lineage_order,
    lineage_roots,
    resolve,
)


def v(vid: str, name: str, version: str, created: str, *parents: str) -> VersionInfo:
    return VersionInfo(id=vid, name=name, version=version, created=created, parents=tuple(parents))


# two data sets: a (a1 -> a2 -> a3) and b (b1 -> b2), created interleaved
A1 = v("aa11" + "0" * 28, "duck", "1.0.0", "2026-01-01")
B1 = v("bb11" + "0" * 28, "rte", "1.0.0", "2026-01-02")
A2 = v("aa22" + "0" * 28, "duck", "1.1.0", "2026-01-03", A1.id)
B2 = v("bb22" + "0" * 28, "rte", "1.1.0", "2026-01-04", B1.id)
A3 = v("aa33" + "0" * 28, "duck", "1.2.0", "2026-01-05", A2.id)
LISTING = Listing((A1, B1, A2, B2, A3))


def test_a_unique_prefix_resolves_and_an_exact_id_wins():
    assert resolve(LISTING, "aa22") is A2
    assert resolve(LISTING, A3.id) is A3
    assert resolve(LISTING, "BB11") is B1  # ids are lower-case hex; a prefix in capitals still matches


def test_an_ambiguous_or_unknown_prefix_names_the_candidates():
    with pytest.raises(VersionLookupError, match="matches more than one") as err:
        resolve(LISTING, "aa")
    assert "aa110000 (duck 1.0.0)" in str(err.value) and "bb11" not in str(err.value)
    with pytest.raises(VersionLookupError, match="no dataset version with id 'cc'"):
        resolve(LISTING, "cc")
    with pytest.raises(VersionLookupError):
        resolve(LISTING, "")


def test_each_data_set_keeps_its_own_tree():
    roots = lineage_roots(LISTING.versions)
    assert roots == {A1.id: A1.id, A2.id: A1.id, A3.id: A1.id, B1.id: B1.id, B2.id: B1.id}
    assert lineage_depth(LISTING.versions) == {A1.id: 0, A2.id: 1, A3.id: 2, B1.id: 0, B2.id: 1}
    order = [x.id for x in lineage_order(LISTING.versions)]
    assert order.index(A1.id) < order.index(A2.id) < order.index(A3.id)


def test_a_cycle_or_a_missing_parent_does_not_hang():
    x = v("cc11" + "0" * 28, "x", "1", "2026-01-01", "dd11" + "0" * 28)
    y = v("dd11" + "0" * 28, "y", "1", "2026-01-02", x.id)
    assert set(lineage_depth([x, y])) == {x.id, y.id}
    orphan = v("ee11" + "0" * 28, "o", "1", "2026-01-01", "ff" * 16)
    assert lineage_depth([orphan]) == {orphan.id: 0} and lineage_roots([orphan]) == {orphan.id: orphan.id}
