"""The delivered labels' ``votes`` text, written once per distinct vote row, equals one join per task."""

from __future__ import annotations

import numpy as np

from analytics.metrics import registry
from analytics.metrics.aggregation import pool_vote_counts
from analytics.metrics.delivery import _votes_text


def _joined(counts, names):
    return [";".join(f"{names[j]}={int(v)}" for j, v in enumerate(row) if v > 0) for row in counts.astype(np.int64)]


def test_votes_text_equals_a_join_per_row_on_seeded_counts():
    rng = np.random.default_rng(16)
    names = ["cat", "dog", "bird", "x=y"]
    counts = rng.poisson([2.0, 1.0, 0.3, 0.1], size=(5_000, 4)).astype(np.int64)
    assert _votes_text(counts, names) == _joined(counts, names)
    assert _votes_text(counts[:0], names) == []
    assert _votes_text(np.zeros((3, 0), dtype=np.int64), []) == ["", "", ""]
    huge = np.array([[2**40, 1, 0, 3]], dtype=np.int64)  # no one-integer key: row by row, same text
    assert _votes_text(huge, names) == _joined(huge, names)


def test_the_demos_delivered_votes_equal_a_join_per_task(demo_run):
    agg = registry.compute(demo_run, "aggregate", method="mv")
    delivered = registry.compute(demo_run, "delivered_labels", method="mv")
    counts = pool_vote_counts(demo_run)[np.flatnonzero(agg.codes >= 0)]
    assert list(delivered["votes"]) == _joined(counts, list(demo_run.labels))
    assert delivered["votes"].str.contains("=").all()
