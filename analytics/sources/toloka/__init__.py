"""Reader for the Toloka API via toloka-kit: pools, assignments, rules, restrictions and live state.

Toloka's API names (``assignment.user_id``, ``known_solutions``, collectors, conditions and
actions of quality-control rules) are known in this package and nowhere else. It only reads:
storing a run as a version is :func:`analytics.versions.toloka.import_from_toloka`, and what
live counts imply (finish time, spend with the fee) is :mod:`analytics.metrics.live`.

* :mod:`.client` — :func:`make_client`, retries, and errors in the user's words;
* :mod:`.pools` — :func:`read_pool`, :func:`read_project`, :func:`label_fields`;
* :mod:`.assignments` — assignments and tasks as canonical answer rows;
* :mod:`.rules` — :func:`pool_rules` (quality-control rules as replayable rules);
* :mod:`.restrictions` — the bans on a run's annotators;
* :mod:`.live` — :func:`read_live`, :func:`pool_progress`.

>>> from analytics.sources import toloka  # doctest: +SKIP
>>> run = toloka.read_project(toloka.make_client(), ["1234"], ["1233"])  # doctest: +SKIP
"""

from __future__ import annotations

from analytics.sources.toloka.assignments import ASSIGNMENT_BATCH, Progress
from analytics.sources.toloka.client import (
    RetryPolicy,
    TolokaAPIError,
    TolokaConfigError,
    call,
    iterate,
    make_client,
    where,
)
from analytics.sources.toloka.live import LiveSnapshot, PoolProgress, pool_progress, read_live
from analytics.sources.toloka.pools import (
    CURRENCY,
    DEFAULT_FEE_MINIMUM,
    DEFAULT_FEE_RATE,
    get_pool,
    label_fields,
    read_pool,
    read_project,
)
from analytics.sources.toloka.rules import pool_rules

__all__ = [
    "ASSIGNMENT_BATCH",
    "CURRENCY",
    "DEFAULT_FEE_MINIMUM",
    "DEFAULT_FEE_RATE",
    "LiveSnapshot",
    "PoolProgress",
    "Progress",
    "RetryPolicy",
    "TolokaAPIError",
    "TolokaConfigError",
    "call",
    "get_pool",
    "iterate",
    "label_fields",
    "make_client",
    "pool_progress",
    "pool_rules",
    "read_live",
    "read_pool",
    "read_project",
    "where",
]
