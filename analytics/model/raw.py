"""The answers frame as a check sees it: its file, its rows' line numbers and the source's column names."""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from analytics.model.categories import to_category
from analytics.model.problems import ProblemList


class RawAnswers:
    """Canonical-named answers as a reader hands them to :func:`analytics.model.build_run`.

    ``file`` names the input in messages; ``columns`` maps a canonical name to the source's own
    (``worker_id`` -> ``ASSIGNMENT:worker_id``); an optional ``_line`` column holds each row's line
    in ``file`` (else row i is line i + 2). Text columns are read once, as categoricals, so checks
    work on distinct values rather than rows.

    >>> raw = RawAnswers(pd.DataFrame({"worker_id": ["w1", None]}), "a.csv", {"worker_id": "worker"})
    >>> raw.src("worker_id"), raw.lines(raw.text("worker_id").isna()).tolist()
    ('worker', [3])
    """

    def __init__(
        self, frame: pd.DataFrame, file: str, columns: Mapping[str, str] | None = None, *, handed_over: bool = False
    ):
        self.frame = frame
        self.file = file
        self.names = dict(columns or {})
        self._text: dict[str, pd.Series] = {}
        self.handed_over = handed_over  # the reader keeps no use of ``frame``: its columns may be dropped

    def done_with(self, col: str) -> None:
        """``col`` is read and checked: where the frame was handed over, it is dropped from it (at 10^7
        answers a column of time text is 70 MB, held beside its parsed times otherwise)."""
        self._text.pop(col, None)
        if self.handed_over and col in self.frame.columns:
            del self.frame[col]

    def __len__(self) -> int:
        return len(self.frame)

    def has(self, col: str) -> bool:
        return col in self.frame.columns

    def src(self, col: str) -> str:
        """The source's name for a canonical column (the canonical name where it has none)."""
        return self.names.get(col, col)

    def text(self, col: str) -> pd.Series:
        """A column as a categorical of stripped strings (all missing when the column is absent)."""
        if col not in self._text:
            if self.has(col):
                self._text[col] = to_category(self.frame[col])
            else:
                codes = np.full(len(self.frame), -1, dtype=np.int32)
                empty = pd.Categorical.from_codes(codes, categories=pd.Index([], dtype="str"))
                self._text[col] = pd.Series(empty, index=self.frame.index)
        return self._text[col]

    def lines(self, mask: np.ndarray | pd.Series) -> np.ndarray:
        """File line numbers of the rows where ``mask`` holds."""
        return file_lines(self.frame, mask)

    def problems(self) -> ProblemList:
        """An empty list for one check's findings, reported under this input's file."""
        return ProblemList(self.file)


def file_lines(raw: pd.DataFrame, mask: np.ndarray | pd.Series) -> np.ndarray:
    """File line numbers (header = 1) of the rows of ``raw`` where ``mask`` holds.

    A ``_line`` column, when the reader kept one, gives each row's line; else row i is line i + 2.
    """
    mask = np.asarray(mask, dtype=bool)
    if "_line" in raw.columns:
        return raw["_line"].to_numpy()[mask]
    return np.flatnonzero(mask) + 2
