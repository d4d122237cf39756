"""The canonical run — answers, tasks, restrictions, pricing, meta — its one validation (build_run) and merge_runs."""

from analytics.model.categories import category_values, drop_unused, map_categories, to_category
from analytics.model.merge import merge_runs
from analytics.model.problems import MAX_ROWS_PER_PROBLEM, Problem, ProblemList, ValidationError
from analytics.model.tables import (
    ANSWER_COLUMNS,
    KINDS,
    REQUIRED_ANSWER_COLUMNS,
    RESTRICTION_COLUMNS,
    RESTRICTION_SCOPES,
    STATUS_ALIASES,
    STATUSES,
    STATUSES_WITHOUT_ANSWER,
    UNNAMED_POOL_IDS,
    Codes,
    PoolInfo,
    Pricing,
    Run,
    RunMeta,
    empty_restrictions,
    restrictions_frame,
)
from analytics.model.times import parse_times
from analytics.model.validation import build_run

__all__ = [
    "ANSWER_COLUMNS",
    "UNNAMED_POOL_IDS",
    "KINDS",
    "MAX_ROWS_PER_PROBLEM",
    "REQUIRED_ANSWER_COLUMNS",
    "RESTRICTION_COLUMNS",
    "RESTRICTION_SCOPES",
    "STATUSES",
    "STATUSES_WITHOUT_ANSWER",
    "STATUS_ALIASES",
    "Codes",
    "PoolInfo",
    "Pricing",
    "Problem",
    "ProblemList",
    "Run",
    "RunMeta",
    "ValidationError",
    "build_run",
    "category_values",
    "drop_unused",
    "empty_restrictions",
    "map_categories",
    "merge_runs",
    "parse_times",
    "restrictions_frame",
    "to_category",
]
