"""What the ClearML stand-in's server holds (records, stored files, a call log) and the SDK's helpers it mimics."""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Union


@dataclass
class Record:
    id: str
    name: str
    project: str
    version: str
    tags: list
    status: str = "in_progress"
    created: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    description: Optional[str] = None
    archived: bool = False
    # relative path -> (id of the dataset whose storage holds it, sha256)
    files: Dict[str, tuple] = field(default_factory=dict)
    graph: Dict[str, List[str]] = field(default_factory=dict)
    metadata: Dict[str, tuple] = field(default_factory=dict)  # name -> (kind, serialized)


class Server:
    """What the ClearML server and file server hold: records, stored files, and a call log."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.records: Dict[str, Record] = {}
        self.calls: List[tuple] = []
        self.fail_on: Dict[str, BaseException] = {}

    def storage(self, dataset_id: str) -> Path:
        return self.root / "storage" / dataset_id

    def count(self, method: str) -> int:
        return sum(1 for c in self.calls if c[0] == method)

    def log(self, method: str, _dataset_id: Optional[str], **kwargs: Any) -> None:
        self.calls.append((method, _dataset_id, kwargs))
        if method in self.fail_on:
            raise self.fail_on[method]


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def matches_any_wildcard(path: str, wildcards: Union[str, list, None], recursive: bool = True) -> bool:
    # clearml.utilities.matching.matches_any_wildcard, which remove_files and list_files use
    path = Path(path).as_posix()
    if wildcards is None:
        wildcards = ["*"]
    if not isinstance(wildcards, list):
        wildcards = [wildcards]
    parts = path.split("/")
    for w in (str(x) for x in wildcards):
        if not recursive:
            ws = w.split("/")
            if len(ws) == len(parts) and all(fnmatch.fnmatch(p, s) for p, s in zip(parts, ws, strict=True)):
                return True
        else:
            w_file = w.split("/")[-1]
            w_dir = w[: -len(w_file)] + "*"
            if fnmatch.fnmatch(path, w_dir) and fnmatch.fnmatch("/" + path, "*/" + w_file):
                return True
    return False


def next_version(version: str) -> str:
    parts = version.split(".")
    try:
        parts[-1] = str(int(parts[-1]) + 1)
    except ValueError:
        return version + ".1"
    return ".".join(parts)
