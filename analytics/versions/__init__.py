"""The version use cases: import a run or files (merged with the parent), publish to and pull from ClearML,
manifest figures, a version against its parent (compare) and the lineage graph's figures.

>>> from analytics.versions import import_run, publish, pull, compare, lineage_figures  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from analytics.versions.clearml import clearml_id_of, publish, pull
from analytics.versions.compare import LINEAGE_FIGURES, compare, lineage_figures
from analytics.versions.figures import manifest_figures
from analytics.versions.files import import_files, import_run, merge_with_parent, read_plan


def __getattr__(name: str) -> Any:
    # analytics.versions.toloka is written by another part of the redesign, and imports toloka-kit:
    # loaded on first use, so this package imports without it
    if name == "import_from_toloka":
        from analytics.versions.toloka import import_from_toloka

        return import_from_toloka
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "LINEAGE_FIGURES",
    "clearml_id_of",
    "compare",
    "import_files",
    "import_from_toloka",
    "import_run",
    "lineage_figures",
    "manifest_figures",
    "merge_with_parent",
    "publish",
    "pull",
    "read_plan",
]
