"""The report documents' content model: facts, tables, sections and the document, renderer-neutral."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import plotly.graph_objects as go


@dataclass(frozen=True)
class Fact:
    """A figure on the first page: what it is, the figure as shown, the data behind it, and the
    group it is shown in (the first page's rows: "cost", "quality", "run")."""

    label: str
    value: str
    detail: str
    known: bool = True
    group: str = "run"


@dataclass(frozen=True)
class Table:
    """A small table; ``numeric`` marks the columns drawn right-aligned."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[bool, ...] = ()


@dataclass(frozen=True)
class Section:
    """A part of the body: a title, what it found (paragraphs), a table, a chart (a key into
    Document.figures) and the small print (what the figures stand on, caveats)."""

    key: str
    title: str
    paragraphs: tuple[str, ...] = ()
    table: Table | None = None
    figure: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Document:
    """A report document's content, renderer-neutral (see the module docstring)."""

    title: str
    project: str
    simulated: bool
    summary: str
    answer: tuple[Fact, ...]
    run_facts: tuple[Fact, ...]
    provenance: tuple[tuple[str, str], ...]
    sections: tuple[Section, ...]
    unavailable: tuple[tuple[str, str], ...]
    figures: Mapping[str, go.Figure] = field(default_factory=dict)
    report: Mapping[str, Any] = field(default_factory=dict)


def groups(facts: tuple[Fact, ...]) -> list[tuple[Fact, ...]]:
    """The facts in their groups, in the order the groups first appear."""
    out: dict[str, list[Fact]] = {}
    for f in facts:
        out.setdefault(f.group, []).append(f)
    return [tuple(v) for v in out.values()]
