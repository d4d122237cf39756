"""The version use cases: import a run or files, publish to and pull from ClearML, manifest figures.

>>> from analytics.versions import import_run, publish, pull  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from analytics.versions.clearml import clearml_id_of, publish, pull
from analytics.versions.figures import manifest_figures
from analytics.versions.files import import_files, import_run


def __getattr__(name: str) -> Any:
    # analytics.versions.toloka is written by another part of the redesign, and imports toloka-kit:
    # loaded on first use, so this package imports without it
    if name == "import_from_toloka":
        from analytics.versions.toloka import import_from_toloka

        return import_from_toloka
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "clearml_id_of",
    "import_files",
    "import_from_toloka",
    "import_run",
    "manifest_figures",
    "publish",
    "pull",
]
