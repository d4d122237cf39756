"""Readers that turn files, services and the workspace into canonical runs.

:func:`read_files` is the one entry the CLI and the Import page use: it recognises a Toloka
results TSV by its header and anything else as a long table, reads exam pools beside the main
ones, and merges them into one validated run. Every file's problems are collected before one
ValidationError is raised, so a user sees all of them at once.

What the Toloka API import reads beside the answers can come from files too (``pool_config``,
``restrictions``, ``bonuses``: toloka-kit objects as ``to_json()`` writes them, see
:mod:`analytics.sources.toloka.files`), and ``exam_threshold`` gives the exam pass mark. The
platform fee defaults to :data:`Pricing.DEFAULT_FEE_RATE` (Toloka's 30 %), the one default of
every import path, marked on the run as assumed (``pricing.fee_assumed``, ``pricing.fee_note()``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Mapping, Sequence

import pandas as pd

from analytics.model import Pricing, Problem, Run, RunMeta, ValidationError, merge_runs
from analytics.model.scales import apply_scale
from analytics.sources._files import Source, open_source
from analytics.sources.long_table import COLUMN_KEYS, read_long_table, read_truth
from analytics.sources.toloka_tsv import is_toloka_header, output_fields, read_toloka_tsv

FORMATS = ("auto", "toloka", "long")


@dataclass
class ReadOptions:
    """How to read a set of files; every field is optional.

    ``reward_per_assignment`` (``--reward-per-suite``) is the reward of a task suite where the
    answers carry none; ``reward_per_answer`` (``--reward-per-answer``) prices a long table by
    answer (see :func:`read_long_table`). ``fee_rate`` None is :data:`Pricing.DEFAULT_FEE_RATE`,
    marked as assumed. ``pool_config``, ``restrictions`` and ``bonuses`` are files (paths,
    bytes or file objects) of toloka-kit ``Pool``, ``UserRestriction`` and ``UserBonus``
    objects; ``exam_threshold`` is the exam pass mark in percent (default: the main pool's
    skill filter in the pool config).
    """

    format: str = "auto"
    label_field: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)
    names: Sequence[str] | None = None
    labels: Sequence[str] | None = None
    dedupe: bool = False
    project: str = ""
    instructions: str | None = None
    language: str | None = None
    currency: str = "USD"
    reward_per_assignment: float | None = None
    reward_per_answer: float | None = None
    fee_rate: float | None = None
    fee_minimum: float = 0.0
    pool_config: Sequence[Source] = ()
    restrictions: Sequence[Source] = ()
    bonuses: Sequence[Source] = ()
    # the label scale (analytics.model.scales.SCALES); None: nominal, except that many numbers are refused
    scale: str | None = None
    exam_threshold: float | None = None

    def toloka_files(self) -> bool:
        """Whether anything beside the answers is to be read from Toloka files (or a pass mark given)."""
        return bool(self.pool_config or self.restrictions or self.bonuses) or self.exam_threshold is not None


def detect_format(source: Source, name: str | None = None) -> str:
    """``toloka`` for a results TSV (ASSIGNMENT:/OUTPUT: columns), else ``long``."""
    opened = open_source(source, name)
    return "toloka" if is_toloka_header(opened.first_line) else "long"


def read_one(
    source: Source,
    options: ReadOptions,
    *,
    pool_kind: str = "main",
    name: str | None = None,
    truth: pd.Series | None = None,
) -> Run:
    """Read one file (a path, bytes or a file object) as a Toloka TSV or a long table, by ``options.format``.

    A path is read where it lies (never loaded whole into memory first); ``name`` names bytes
    in messages. ``pool_kind`` ``exam`` needs a Toloka TSV.
    """
    if options.format not in FORMATS:
        raise ValueError(f"The 'format' option must be one of {FORMATS}. Got {options.format!r} instead.")
    if hasattr(source, "read"):
        source = source.read()  # bytes are readable twice: once to detect, once to read
        if isinstance(source, str):
            source = source.encode("utf-8")
    fmt = options.format if options.format != "auto" else detect_format(source, name)
    pricing = Pricing(
        currency=options.currency,
        reward_per_assignment=options.reward_per_assignment,
        **Pricing.fee(options.fee_rate, options.fee_minimum),
    )
    meta = RunMeta(project=options.project, instructions=options.instructions, language=options.language)
    if fmt == "toloka":
        if options.reward_per_answer is not None:
            raise ValueError(
                "--reward-per-answer prices a long table; a Toloka export is priced by its ASSIGNMENT:reward "
                "column, else by the pool's reward per suite (--reward-per-suite X, or --pool-config pool.json)."
            )
        return read_toloka_tsv(
            source,
            label_field=options.label_field,
            pool_kind=pool_kind,
            name=name,
            labels=options.labels,
            pricing=pricing,
            meta=meta,
            truth=truth,
        )
    if pool_kind == "exam":
        raise ValueError(
            "an exam pool must be a Toloka results TSV (with GOLDEN: answers); a long table cannot be read as an exam."
        )
    return read_long_table(
        source,
        columns=options.columns,
        names=options.names,
        name=name,
        labels=options.labels,
        truth=truth,
        pricing=pricing,
        meta=meta,
        dedupe=options.dedupe,
        reward_per_answer=options.reward_per_answer,
    )


def read_files(
    sources: Sequence[Source],
    options: ReadOptions | None = None,
    *,
    exam: Sequence[Source] = (),
    truth: Source | None = None,
    names: Sequence[str] | None = None,
    exam_names: Sequence[str] | None = None,
) -> Run:
    """Read main-pool files and exam-pool files into one run, reporting every file's problems.

    ``names`` / ``exam_names`` name uploaded sources in messages. Raises one ValidationError with
    the problems of all files together.
    """
    options = options or ReadOptions()
    if not sources:
        raise ValueError("no results file was given: name at least one Toloka TSV or long table.")
    truth_series = read_truth(truth) if truth is not None else None
    runs: list[Run] = []
    problems: list[Problem] = []
    toloka_files = None
    if options.toloka_files():
        from analytics.sources.toloka.files import read_toloka_files

        try:
            toloka_files = read_toloka_files(
                pool_config=_many(options.pool_config),
                restrictions=_many(options.restrictions),
                bonuses=_many(options.bonuses),
            )
        except ValidationError as err:
            problems += err.problems
    jobs = [(s, "main", (names or [None] * len(sources))[i]) for i, s in enumerate(sources)]
    jobs += [(s, "exam", (exam_names or [None] * len(exam))[i]) for i, s in enumerate(exam)]
    for src, kind, nm in jobs:
        try:
            runs.append(read_one(src, options, pool_kind=kind, name=nm, truth=truth_series if kind == "main" else None))
        except ValidationError as err:
            problems += err.problems
    if problems:
        raise ValidationError(problems)
    merged = merge_runs(runs, file=", ".join(str(n) for n in (names or sources)))
    if toloka_files is not None:
        from analytics.sources.toloka.files import apply_toloka_files

        merged = apply_toloka_files(merged, toloka_files, exam_threshold=options.exam_threshold)
    if options.project or options.instructions or options.language:
        merged = replace(
            merged,
            meta=replace(
                merged.meta,
                project=options.project or merged.meta.project,
                instructions=options.instructions or merged.meta.instructions,
                language=options.language or merged.meta.language,
            ),
        )
    return apply_scale(merged, options.scale, labels=options.labels)


def _many(sources: Sequence[Source] | Source | None) -> list[Source]:
    """One source or several as a list (a path or bytes is one source, not a sequence of them)."""
    if sources is None:
        return []
    if isinstance(sources, (str, bytes, os.PathLike)) or hasattr(sources, "read"):
        return [sources]
    return list(sources)


__all__ = [
    "COLUMN_KEYS",
    "FORMATS",
    "ReadOptions",
    "detect_format",
    "output_fields",
    "read_files",
    "read_long_table",
    "read_one",
    "read_toloka_tsv",
    "read_truth",
]
