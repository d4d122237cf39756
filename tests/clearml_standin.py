"""A stand-in for ``clearml.Dataset`` (clearml 2.1.12) backed by a folder, for tests without a server.

Same method names, parameters, defaults and return shapes as the SDK for what crowdlens uses
(``test_clearml_store.py`` checks them against the real class with ``inspect.signature``), and
the SDK's behaviour where the adapter depends on it:

* ``create`` inherits the parents' files (a child's local copy is parents' files + its own) and
  refuses parents that are not finalized; a name and version may be created twice;
* ``finalize`` refuses pending uploads, and prunes the dependency graph to the versions files
  come from, keeping only the dataset's own entry's direct parents intact;
* ``set_metadata`` stores a dict as JSON and a DataFrame as CSV, so ``get_metadata`` gives back
  what a round trip through the server gives (tuples become lists, dtypes are re-inferred);
* ``get_local_copy`` needs a finalized version and returns a folder of soft links (POSIX default);
* ``list_datasets`` returns dicts with the keys name, created, project, id, tags, version, status;
* ``get_logger`` gives a :class:`StandInLogger` recording the reports, refused once finalized.

The real SDK over HTTP is tested against ``clearml_server.py`` (``test_clearml_sdk.py``).

Every call is recorded in ``Dataset.server.calls`` as ``(method, dataset id or None, arguments)``.
"""

from __future__ import annotations

import copy
import io
import json
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

import pandas as pd
from clearml_standin_server import Record, Server, matches_any_wildcard, next_version, sha256

FINAL_STATUSES = ("stopped", "published", "completed", "closed")


def standin_dataset_class(root: Union[str, os.PathLike]) -> type:
    """A fresh stand-in ``Dataset`` class whose server lives in ``root`` (one per test)."""
    return type("Dataset", (StandInDataset,), {"server": Server(Path(root)), "__module__": __name__})


class StandInDataset:
    """``clearml.Dataset``'s public surface used by crowdlens; build one with :func:`standin_dataset_class`."""

    server: Server  # set per class by standin_dataset_class

    def __init__(self, record: Record):
        self._record = record
        self._pending: Dict[str, Path] = {}  # relative path -> local file waiting for upload()
        self._dirty = False

    # ---- properties

    @property
    def id(self) -> str:
        return self._record.id

    @property
    def project(self) -> str:
        return self._record.project

    @property
    def name(self) -> str:
        return self._record.name

    @property
    def version(self) -> Optional[str]:
        return self._record.version

    @property
    def tags(self) -> List[str]:
        return list(self._record.tags or [])

    @tags.setter
    def tags(self, values: List[str]) -> None:
        self._record.tags = list(values or [])

    # ---- lookup

    @classmethod
    def list_datasets(
        cls,
        dataset_project: Optional[str] = None,
        partial_name: Optional[str] = None,
        tags: Optional[Sequence[str]] = None,
        ids: Optional[Sequence[str]] = None,
        only_completed: bool = True,
        recursive_project_search: bool = True,
        include_archived: bool = True,
    ) -> List[dict]:
        cls.server.log(
            "list_datasets",
            None,
            dataset_project=dataset_project,
            partial_name=partial_name,
            tags=tags,
            ids=ids,
            only_completed=only_completed,
            recursive_project_search=recursive_project_search,
            include_archived=include_archived,
        )
        out = []
        for r in cls.server.records.values():
            if dataset_project and not (
                r.project == dataset_project
                or (recursive_project_search and r.project.startswith(dataset_project + "/"))
            ):
                continue
            if partial_name and not re.search(partial_name, r.name):
                continue
            if tags and not set(tags) & set(r.tags):
                continue
            if ids and r.id not in ids:
                continue
            if only_completed and r.status not in FINAL_STATUSES:
                continue
            if r.archived and not include_archived:
                continue
            out.append(
                {
                    "name": r.name,
                    "created": r.created,
                    "project": r.project,
                    "id": r.id,
                    "tags": list(r.tags),
                    "version": r.version,
                    "status": r.status,
                }
            )
        return out

    @classmethod
    def get(
        cls,
        dataset_id: Optional[str] = None,
        dataset_project: Optional[str] = None,
        dataset_name: Optional[str] = None,
        dataset_tags: Optional[Sequence[str]] = None,
        only_completed: bool = False,
        only_published: bool = False,
        include_archived: bool = False,
        auto_create: bool = False,
        writable_copy: bool = False,
        dataset_version: Optional[str] = None,
        alias: Optional[str] = None,
        overridable: bool = False,
        shallow_search: bool = False,
        silence_alias_warnings: bool = False,
        **kwargs: Any,
    ) -> "StandInDataset":
        cls.server.log(
            "get",
            dataset_id,
            dataset_project=dataset_project,
            dataset_name=dataset_name,
            dataset_version=dataset_version,
        )
        if not any([dataset_id, dataset_project, dataset_name, dataset_tags]):
            raise ValueError("Dataset selection criteria not met. Didn't provide id/name/project/tags correctly.")
        if dataset_id and (dataset_project or dataset_name):
            raise ValueError("dataset_id is mutually exclusive with dataset_project and dataset_name")
        if auto_create or writable_copy:
            raise NotImplementedError("the stand-in does not implement auto_create or writable_copy")
        if dataset_id:
            record = cls.server.records.get(dataset_id)
            if record is None:
                raise ValueError(f"Could not find Dataset id {dataset_id}")
        else:
            candidates = [
                r
                for r in cls.server.records.values()
                if (not dataset_project or r.project == dataset_project)
                and (not dataset_name or r.name == dataset_name)
                and (not dataset_version or r.version == dataset_version)
                and (not dataset_tags or set(dataset_tags) <= set(r.tags))
                and (include_archived or not r.archived)
                and (
                    r.status == "published"
                    if only_published
                    else (r.status in FINAL_STATUSES if only_completed else True)
                )
            ]
            if not candidates:
                raise ValueError(
                    f"Could not find Dataset project/name/version {(dataset_project, dataset_name, dataset_version)}"
                )
            record = max(
                candidates, key=lambda r: ([int(x) if x.isdigit() else 0 for x in r.version.split(".")], r.created)
            )
        if record.status == "created":
            raise ValueError(f"Dataset id={record.id} is in draft mode, delete and recreate it")
        return cls(record)

    # ---- writing

    @classmethod
    def create(
        cls,
        dataset_name: Optional[str] = None,
        dataset_project: Optional[str] = None,
        dataset_tags: Optional[Sequence[str]] = None,
        parent_datasets: Optional[Sequence[Union[str, "StandInDataset"]]] = None,
        use_current_task: bool = False,
        dataset_version: Optional[str] = None,
        output_uri: Optional[str] = None,
        description: Optional[str] = None,
    ) -> "StandInDataset":
        cls.server.log(
            "create",
            None,
            dataset_name=dataset_name,
            dataset_project=dataset_project,
            dataset_tags=list(dataset_tags or []),
            parent_datasets=[p if isinstance(p, str) else p.id for p in parent_datasets or []],
            dataset_version=dataset_version,
            output_uri=output_uri,
            description=description,
        )
        if use_current_task:
            raise NotImplementedError("the stand-in has no current Task")
        parents = [cls.get(dataset_id=p) if not isinstance(p, StandInDataset) else p for p in (parent_datasets or [])]
        if any(not p.is_final() for p in parents):
            raise ValueError("Cannot inherit from a parent that was not finalized/closed")
        if dataset_name == "":
            raise ValueError("`dataset_name` cannot be an empty string")
        if not dataset_project:
            if not parents:
                raise ValueError("Missing dataset project name. Could not infer project name from parent dataset.")
            dataset_project = parents[-1].project
        version = str(dataset_version).strip() if dataset_version else None
        if not version:
            same = [
                r.version
                for r in cls.server.records.values()
                if r.project == dataset_project and r.name == dataset_name and r.version
            ]
            version = (
                next_version(max(same, key=lambda v: [int(x) if x.isdigit() else 0 for x in v.split(".")]))
                if same
                else "1.0.0"
            )
        record = Record(
            id=uuid.uuid4().hex,
            name=dataset_name or "",
            project=dataset_project,
            version=version,
            tags=list(dataset_tags or []),
            description=description,
        )
        for p in parents:
            record.files.update(copy.deepcopy(p._record.files))
            record.graph.update(copy.deepcopy(p._record.graph))
        record.graph[record.id] = [p.id for p in parents]
        cls.server.records[record.id] = record
        return cls(record)

    def add_files(
        self,
        path: Union[str, Path],
        wildcard: Optional[Union[str, Sequence[str]]] = None,
        local_base_folder: Optional[str] = None,
        dataset_path: Optional[str] = None,
        recursive: bool = True,
        verbose: bool = False,
        max_workers: Optional[int] = None,
    ) -> int:
        self.server.log(
            "add_files", self.id, path=str(path), wildcard=wildcard, dataset_path=dataset_path, recursive=recursive
        )
        self._require_mutable()
        self._dirty = True
        path = Path(path)
        base = Path(local_base_folder or path)
        patterns = [wildcard] if isinstance(wildcard, str) else list(wildcard or ["*"])
        if path.is_file():
            base = base if base.is_dir() else base.parent
            found = [path]
        elif path.is_dir():
            found = sorted({f for w in patterns for f in (path.rglob(w) if recursive else path.glob(w)) if f.is_file()})
        else:
            raise ValueError("Could not find file/folder '{}'", path.as_posix())
        added = 0
        for f in found:
            rel = (Path(dataset_path.lstrip("/") if dataset_path else ".") / f.relative_to(base)).as_posix()
            digest = sha256(f)
            current = self._record.files.get(rel)
            if current is not None and current[1] == digest:
                continue  # unchanged: the parent's stored copy is reused, nothing to upload
            if current is None:
                added += 1
            self._record.files[rel] = (self.id, digest)
            self._pending[rel] = f.absolute()
        return added  # the SDK does not count modified files as added

    def remove_files(self, dataset_path: Optional[str] = None, recursive: bool = True, verbose: bool = False) -> int:
        self.server.log("remove_files", self.id, dataset_path=dataset_path, recursive=recursive)
        self._require_mutable()
        if dataset_path and dataset_path.startswith("/"):
            dataset_path = dataset_path[1:]
        gone = [k for k in self._record.files if matches_any_wildcard(k, dataset_path, recursive=recursive)]
        for k in gone:
            del self._record.files[k]
            self._pending.pop(k, None)
        return len(gone)

    def set_metadata(self, metadata: Any, metadata_name: str = "metadata", ui_visible: bool = True) -> None:
        self.server.log(
            "set_metadata",
            self.id,
            metadata=copy.deepcopy(metadata),
            metadata_name=metadata_name,
            ui_visible=ui_visible,
        )
        if metadata_name.startswith("data_"):
            raise ValueError("metadata_name can not start with 'data_'")
        if isinstance(metadata, pd.DataFrame):
            self._record.metadata[metadata_name] = ("csv", metadata.to_csv(index=False))
        elif isinstance(metadata, dict):
            # the SDK uploads a dict as a JSON artifact (json.dumps without a default: only JSON types)
            self._record.metadata[metadata_name] = ("json", json.dumps(metadata, sort_keys=True, indent=4))
        else:
            self._record.metadata[metadata_name] = ("object", copy.deepcopy(metadata))

    def get_metadata(self, metadata_name: str = "metadata") -> Any:
        self.server.log("get_metadata", self.id, metadata_name=metadata_name)
        stored = self._record.metadata.get(metadata_name)
        if stored is None:
            return None
        kind, value = stored
        if kind == "csv":
            return pd.read_csv(io.StringIO(value))
        if kind == "json":
            return json.loads(value)
        return copy.deepcopy(value)

    def upload(
        self,
        show_progress: bool = True,
        verbose: bool = False,
        output_url: Optional[str] = None,
        compression: Optional[str] = None,
        chunk_size: int = None,
        max_workers: Optional[int] = None,
        retries: int = 3,
        preview: bool = True,
        upload_as_external_links: bool = False,
    ) -> Optional[bool]:
        self.server.log("upload", self.id, show_progress=show_progress, output_url=output_url)
        store = self.server.storage(self.id)
        for rel, local in self._pending.items():
            (store / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(local, store / rel)
        self._pending.clear()
        self._dirty = False
        return None

    def finalize(self, verbose: bool = False, raise_on_error: bool = True, auto_upload: bool = False) -> bool:
        self.server.log("finalize", self.id, auto_upload=auto_upload)
        if self._dirty:
            if auto_upload:
                self.upload()
            elif raise_on_error:
                raise ValueError("Cannot finalize dataset, pending uploads. Call Dataset.upload(...)")
            else:
                return False
        if self._record.status not in ("in_progress", "created"):
            raise ValueError(f"Cannot finalize dataset, status '{self._record.status}' is not valid")
        # the SDK drops versions no file comes from, except this dataset's own direct parents
        used = {owner for owner, _ in self._record.files.values()} | {self.id}
        own = self._record.graph.get(self.id, [])
        self._record.graph = {k: [p for p in v if p in used] for k, v in self._record.graph.items() if k in used}
        self._record.graph[self.id] = own
        self._record.status = "completed"
        return True

    # ---- reading

    def is_final(self) -> bool:
        return self._record.status not in ("in_progress", "created", "failed")

    def get_local_copy(
        self,
        use_soft_links: bool = None,
        part: Optional[int] = None,
        num_parts: Optional[int] = None,
        raise_on_error: bool = True,
        max_workers: Optional[int] = None,
        files: Optional[List[str]] = None,
    ) -> str:
        self.server.log("get_local_copy", self.id, use_soft_links=use_soft_links, files=files)
        if not self.is_final():
            raise ValueError("Cannot get a local copy of a dataset that was not finalized/closed")
        soft = (os.name != "nt") if use_soft_links is None else use_soft_links
        target = self.server.root / "cache" / f"ds_{self.id}"
        if target.exists():
            shutil.rmtree(target)
        for rel, (owner, _) in self._record.files.items():
            if files is not None and rel not in files:
                continue
            src = self.server.storage(owner) / rel
            dst = target / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            if soft:
                os.symlink(src, dst)
            else:
                shutil.copyfile(src, dst)
        target.mkdir(parents=True, exist_ok=True)
        return target.as_posix()

    def list_files(
        self, dataset_path: Optional[str] = None, recursive: bool = True, dataset_id: Optional[str] = None
    ) -> List[str]:
        self.server.log("list_files", self.id, dataset_path=dataset_path, dataset_id=dataset_id)
        files = [k for k, (owner, _) in self._record.files.items() if not dataset_id or owner == dataset_id]
        if not dataset_path:
            return sorted(set(files))
        dataset_path = dataset_path[1:] if dataset_path.startswith("/") else dataset_path
        return sorted(f for f in set(files) if matches_any_wildcard(f, dataset_path, recursive=recursive))

    def get_dependency_graph(self) -> Dict[str, List[str]]:
        self.server.log("get_dependency_graph", self.id)
        return copy.deepcopy(self._record.graph)

    def get_logger(self) -> "StandInLogger":
        self.server.log("get_logger", self.id)
        return StandInLogger(self)

    # ---- helpers

    def _require_mutable(self) -> None:
        if self.is_final():
            # the SDK has no such check everywhere; a finalized version must never be written here
            raise ValueError(f"Dataset {self.id} is finalized and cannot be changed")


class StandInLogger:
    """``clearml.Logger``'s reports crowdlens makes, recorded as ``("report_*", dataset id, arguments)``."""

    def __init__(self, dataset: StandInDataset):
        self._dataset = dataset

    def _log(self, method: str, **kwargs: Any) -> None:
        if self._dataset.is_final():
            raise ValueError(f"Dataset {self._dataset.id} is finalized: its logger takes no more reports")
        self._dataset.server.log(method, self._dataset.id, **copy.deepcopy(kwargs))

    def report_table(
        self,
        title: str,
        series: str,
        iteration: Optional[int] = None,
        table_plot: Optional[Any] = None,
        csv: Optional[str] = None,
        url: Optional[str] = None,
        extra_layout: Optional[dict] = None,
        extra_data: Optional[dict] = None,
    ) -> None:
        if sum(x is not None for x in (table_plot, csv, url)) != 1:
            raise ValueError("Exactly one of `table_plot`, `csv` or `url` must be provided")
        self._log("report_table", title=title, series=series, iteration=iteration, table_plot=table_plot)

    def report_histogram(
        self,
        title: str,
        series: str,
        values: Sequence[Union[int, float]],
        iteration: Optional[int] = None,
        labels: Optional[List[str]] = None,
        xlabels: Optional[List[str]] = None,
        xaxis: Optional[str] = None,
        yaxis: Optional[str] = None,
        mode: Optional[str] = None,
        data_args: Optional[dict] = None,
        extra_layout: Optional[dict] = None,
    ) -> None:
        self._log("report_histogram", title=title, series=series, values=list(values), xlabels=xlabels)

    def report_plotly(self, title: str, series: str, figure: Any, iteration: Optional[int] = None) -> None:
        figure = figure.to_plotly_json() if hasattr(figure, "to_plotly_json") else figure
        json.dumps(figure, default=str)  # the SDK sends it as JSON
        self._log("report_plotly", title=title, series=series, figure=figure, iteration=iteration)

    def report_media(
        self,
        title: str,
        series: str,
        iteration: Optional[int] = None,
        local_path: Optional[str] = None,
        stream: Optional[Any] = None,
        file_extension: Optional[str] = None,
        max_history: Optional[int] = None,
        delete_after_upload: bool = False,
        url: Optional[str] = None,
    ) -> None:
        if local_path is not None and not Path(local_path).is_file():
            raise ValueError(f"report_media: no file {local_path}")
        self._log("report_media", title=title, series=series, iteration=iteration, local_path=local_path)


# the methods and properties crowdlens calls, checked against clearml.Dataset by the tests
USED_METHODS = (
    "list_datasets",
    "get",
    "create",
    "add_files",
    "remove_files",
    "set_metadata",
    "get_metadata",
    "upload",
    "finalize",
    "is_final",
    "get_local_copy",
    "list_files",
    "get_dependency_graph",
    "get_logger",
)
USED_LOGGER_METHODS = ("report_table", "report_histogram", "report_plotly", "report_media")
USED_PROPERTIES = ("id", "name", "version", "project", "tags")
LIST_DATASETS_KEYS = ("name", "created", "project", "id", "tags", "version", "status")
