"""What a metric is: the declaration of a registered figure (name, function, parameters, needs, result, cost).

:mod:`analytics.metrics.registry` holds the declarations and computes them; this module only says
what a declaration holds and how its parameters bind.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from analytics.model import Run

# the kinds of result a metric gives
VALUE = "value"  # a small dataclass of figures
TABLE = "table"  # a DataFrame
LABELS = "labels"  # an aggregation.Aggregation
RESULTS = (VALUE, TABLE, LABELS)

# what a metric needs from the run (the invariant tests build runs without each)
NEEDS = {
    "pool": "answers in the labeling pool",
    "exam": "answers to an exam pool",
    "control": "control tasks with known answers",
    "times": "start and submit times of the task suites",
    "rules": "the pools' quality-control rules",
    "truth": "ground truth for the tasks",
    "any": "any answers",
}


@dataclass(frozen=True)
class Dependency:
    """A metric another one is computed from: ``metric`` with its parameters taken from the
    dependent's (``params``: the dependency's parameter -> the dependent's parameter)."""

    metric: str
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Metric:
    """A registered figure of a run.

    ``function(run, **params, **dependencies)``; ``params`` are its keyword parameters with their
    defaults (from the signature, plus ``forwarded``: parameters that only choose a dependency,
    such as the aggregation ``method`` agreement with the aggregate is measured against);
    ``required`` are parameters without a default (an annotator's or a task's id).
    """

    name: str
    function: Callable[..., Any]
    result: str
    about: str
    needs: str = "pool"
    depends: Mapping[str, Dependency] = field(default_factory=dict)
    forwarded: Mapping[str, Any] = field(default_factory=dict)
    # seconds it would take on this run with these parameters (None: fast enough not to ask)
    estimate: Callable[[Run, Mapping[str, Any]], float] | None = None
    kept: bool = True  # False: a cheap figure that depends on what else is cached, computed on every call

    def __post_init__(self) -> None:
        if self.result not in RESULTS:
            raise ValueError(f"The 'result' of metric {self.name!r} must be one of {RESULTS}. Got {self.result!r}.")
        if self.needs not in NEEDS:
            raise ValueError(f"The 'needs' of metric {self.name!r} must be one of {tuple(NEEDS)}. Got {self.needs!r}.")

    @property
    def _signature(self) -> list[inspect.Parameter]:
        params = list(inspect.signature(self.function).parameters.values())[1:]  # the run first
        return [p for p in params if p.name not in self.depends and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]

    @property
    def params(self) -> dict[str, Any]:
        """Every parameter with a default, and the default (the cache key's parts)."""
        out = {p.name: p.default for p in self._signature if p.default is not p.empty}
        out.update(self.forwarded)
        return out

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(p.name for p in self._signature if p.default is p.empty)

    def bind(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """``params`` checked against the declaration and completed with the defaults."""
        known = set(self.params) | set(self.required)
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(
                f"The metric {self.name!r} takes the parameters {sorted(known) or 'none'}. Got {unknown} instead."
            )
        missing = [p for p in self.required if p not in params]
        if missing:
            raise ValueError(f"The metric {self.name!r} needs the parameter(s) {missing}.")
        bound = {**self.params, **params}
        return {k: _hashable(v) for k, v in bound.items()}


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value
