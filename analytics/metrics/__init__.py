"""Metrics of a canonical run, one module per concern (see DESIGN.md); every one is declared in :mod:`.registry`.

``compute(run, name, **params)`` gives any registered figure, cached per run; a run that cannot
give it raises :class:`MetricUnavailable` with the reason in the users' words.
"""

from __future__ import annotations

from analytics.metrics._base import MetricUnavailable, position
from analytics.metrics.registry import REGISTRY, Metric, compute, outcome

__all__ = ["Metric", "REGISTRY", "compute", "outcome", "MetricUnavailable", "position"]
