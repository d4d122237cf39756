"""Problems found in an input: one Problem each, collected in a ProblemList, raised as one ValidationError."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

# How many affected rows a problem keeps; the count beside it is always exact.
MAX_ROWS_PER_PROBLEM = 1000


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth knowing) about an input, with where and how to fix it.

    ``rows`` are line numbers in ``file`` (the header is line 1), at most
    :data:`MAX_ROWS_PER_PROBLEM` of them; ``count`` is the exact number of affected rows.
    """

    file: str
    message: str
    fix: str
    column: str | None = None
    rows: tuple[int, ...] = ()
    count: int = 0
    values: tuple[str, ...] = ()
    severity: str = "error"  # "error" stops the import; "warning" is kept as a note on the run

    def where(self) -> str:
        parts = [self.file]
        if self.rows:
            shown = ", ".join(f"{r:,}" for r in self.rows[:8])
            more = self.count - min(len(self.rows), 8)
            label = "line" if self.count == 1 else "lines"
            parts.append(f"{label} {shown}" + (f" and {more:,} more" if more > 0 else ""))
        if self.column:
            parts.append(f"column {self.column}")
        return ", ".join(parts)

    def __str__(self) -> str:
        found = ""
        if self.values:
            shown = ", ".join(repr(v) for v in self.values[:5])
            found = f" Found {shown}{' …' if len(self.values) > 5 else ''}."
        return f"{self.where()}: {self.message}{found} Fix: {self.fix}"

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["rows"] = list(self.rows)
        d["values"] = list(self.values)
        return d


class ValidationError(ValueError):
    """Raised with every problem found in an input at once (``.problems``)."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = [p for p in problems if p.severity == "error"] or list(problems)
        super().__init__(self._text())

    def _text(self) -> str:
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} found; nothing was imported."
        return "\n".join([head] + [f"- {p}" for p in self.problems])

    def table(self) -> pd.DataFrame:
        """One row per problem, for showing in a page or a CSV."""
        return pd.DataFrame(
            [
                {
                    "file": p.file,
                    "column": p.column or "",
                    "lines": ", ".join(str(r) for r in p.rows[:50]) + (" …" if p.count > 50 else ""),
                    "rows affected": p.count,
                    "problem": p.message,
                    "fix": p.fix,
                }
                for p in self.problems
            ]
        )


class ProblemList:
    """Collects problems while a reader or :func:`analytics.model.build_run` walks an input."""

    def __init__(self, file: str):
        self.file = file
        self.items: list[Problem] = []

    def add(
        self,
        message: str,
        fix: str,
        *,
        column: str | None = None,
        lines: Iterable[int] | np.ndarray | None = None,
        values: Iterable[Any] = (),
        severity: str = "error",
        count: int | None = None,
    ) -> None:
        rows = np.asarray([] if lines is None else lines, dtype=np.int64)
        n = int(count if count is not None else len(rows))
        vals = tuple(dict.fromkeys(str(v) for v in list(values)[:20]))
        self.items.append(
            Problem(
                file=self.file,
                message=message,
                fix=fix,
                column=column,
                rows=tuple(int(r) for r in rows[:MAX_ROWS_PER_PROBLEM]),
                count=n,
                values=vals,
                severity=severity,
            )
        )

    def extend(self, problems: Iterable[Problem]) -> None:
        """Add problems a check returned (they keep their own file)."""
        self.items.extend(problems)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.items if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.items if p.severity == "warning"]

    def raise_if_errors(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)
