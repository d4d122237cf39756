"""QA tables of the people pages, built on the metric registry: a row per annotator, one annotator's or task's answers.

These functions join figures the other metric modules compute (control accuracy, agreement with
the aggregate, speed, exam score, replayed and recorded bans) rather than computing new rates,
so every number a reviewer sees on a people page is the number of its own metric. Each figure's
inputs come from :func:`analytics.metrics.registry.compute` (cached per run, so the pages and
these tables share one computation) unless passed in; a figure the run cannot support is left
empty and its reason is kept in ``attrs["unavailable"]`` instead of failing the whole table.
The tables are registered in the same registry (see the end of this module). The package's
modules: ``table`` (annotator_table and its filters), ``answers`` (one annotator's, task's or exam
item's answers; the exam items' verdicts) and ``speed`` (speed_vs_pool).
"""

from __future__ import annotations

from analytics.metrics import registry
from analytics.metrics.registry import TABLE, VALUE, Metric
from analytics.people.answers import (
    VERDICTS,
    annotator_answers,
    exam_item_answers,
    exam_item_verdicts,
    item_verdicts,
    task_answers,
    task_inputs,
)
from analytics.people.speed import SPEED_BINS, SPEED_TOP_QUANTILE, SpeedComparison, speed_vs_pool
from analytics.people.table import annotator_table, attach_decisions, filter_annotators

__all__ = [
    "VERDICTS",
    "annotator_table",
    "attach_decisions",
    "filter_annotators",
    "annotator_answers",
    "task_answers",
    "task_inputs",
    "exam_item_answers",
    "item_verdicts",
    "SpeedComparison",
    "speed_vs_pool",
    "SPEED_BINS",
    "SPEED_TOP_QUANTILE",
]

QA_TABLES: tuple[Metric, ...] = (
    Metric("annotator_table", annotator_table, TABLE, "one row per annotator with the figures QA judges by", "any"),
    Metric("annotator_answers", annotator_answers, TABLE, "every answer one annotator gave", "any"),
    Metric("task_answers", task_answers, TABLE, "every answer one task got", "any"),
    Metric("exam_item_answers", exam_item_answers, TABLE, "the exam answers to one item", "exam"),
    Metric("exam_item_verdicts", exam_item_verdicts, TABLE, "each exam item's verdict in short words", "exam"),
    Metric("speed_vs_pool", speed_vs_pool, VALUE, "one annotator's speed against the pools'", "times"),
)
for _table in QA_TABLES:
    registry.register(_table)
