"""A large version's task texts: read whole when first used, one task's row group alone before that."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pandas as pd
import pyarrow.parquet as pq

from analytics.model._deferred import Deferred
from analytics.sources._stream import READ_ERRORS
from analytics.sources.memory import release_memory


class TaskTexts(Deferred):
    """tasks.parquet of an opened version, not read yet (see run_files.read_run_files).

    ``read_all`` reads the whole file as the run's tasks frame; ``damaged`` turns a read error
    into the DamagedVersionError naming the file and the fix.
    """

    def __init__(
        self,
        path: Path,
        read_all: Callable[[], pd.DataFrame],
        damaged: Callable[[Exception], Exception],
    ) -> None:
        self.path, self._damaged = path, damaged
        super().__init__(self._guarded(read_all), f"the task texts of {path}")

    def _guarded(self, read: Callable):
        def load():
            try:
                value = read()
            except READ_ERRORS as err:
                raise self._damaged(err) from None
            release_memory()
            return value

        return load

    def part(self, code: int, task_id: str) -> dict[str, object] | None:
        """The input fields of the task stored at row ``code`` (an import stores the tasks in code
        order), reading only the row group holding it; None when that row is another task (a file
        in another order) or lies past the end: then the whole frame is the way."""
        try:
            stored = pq.ParquetFile(self.path)
            with stored:
                first = 0
                for group in range(stored.metadata.num_row_groups):
                    rows = stored.metadata.row_group(group).num_rows
                    if code < first + rows:
                        row = stored.read_row_group(group).slice(code - first, 1).to_pylist()[0]
                        break
                    first += rows
                else:
                    return None
        except READ_ERRORS as err:
            raise self._damaged(err) from None
        if str(row.pop("task_id", None)) != task_id:
            return None
        row.pop("__index_level_0__", None)
        return row
