"""The endpoints of the ClearML stand-in server (tests/clearml_server.py): what it keeps and how it answers.

Each handler takes the :class:`State` and the request body (already checked against the SDK's
``*Request._schema``) and returns the ``data`` of the answer in the ``*Response._schema`` shape
of ``clearml.backend_api.services.v2_23``. Only what the SDK calls for ``clearml.Dataset`` (create,
add_files, upload, finalize, get, list_datasets, metadata, local copies) and its logger is served.
"""

from __future__ import annotations

import copy
import datetime as dt
import importlib
import json
import os
import re
import threading
import uuid
from pathlib import Path
from typing import Any, Callable

SERVICES_PACKAGE = "clearml.backend_api.services.v2_23"
HANDLERS: dict[str, Callable[["State", Any], dict]] = {}
TASK_STATUSES = ("created", "queued", "in_progress", "stopped", "published", "publishing", "closed", "failed")


class ApiError(Exception):
    """An error answer: HTTP status, the server's result subcode and message."""

    def __init__(self, status: int, subcode: int, message: str):
        super().__init__(message)
        self.status, self.subcode, self.message = status, subcode, message


def endpoint(name: str) -> Callable:
    def register(fn: Callable) -> Callable:
        HANDLERS[name] = fn
        return fn

    return register


# ---- the SDK's schemas


def request_class(name: str, *, batch: bool = False, response: bool = False) -> type | None:
    """The SDK's Request (or its Response) class of ``service.action``; for a batch, the batched item's."""
    service, _, action = name.partition(".")
    try:
        module = importlib.import_module(f"{SERVICES_PACKAGE}.{service}")
    except ImportError:
        return None
    for req, resp in getattr(module, "response_mapping", {}).items():
        if req._action == action:
            if response:
                return resp
            return getattr(req, "_batched_request_cls", req) if batch else req
    return None


_EVENT_SCHEMAS = {
    "log": "task_log_event",
    "training_stats_scalar": "metrics_scalar_event",
    "training_stats_vector": "metrics_vector_event",
    "training_debug_image": "metrics_image_event",
    "plot": "metrics_plot_event",
}


def validation_errors(cls: type | None, doc: Any) -> list[str]:
    """What in ``doc`` breaks ``cls._schema`` (the validator the SDK itself uses, lists may be tuples).

    An event (``events.AddRequest``: any of five kinds) is checked against the kind its ``type`` names."""
    if cls is None or not getattr(cls, "_schema", None):
        return []
    from clearml.backend_api.session.datamodel import _CustomValidator

    schema = cls._schema
    if "anyOf" in schema and isinstance(doc, dict) and doc.get("type") in _EVENT_SCHEMAS:
        definitions = schema["definitions"]
        schema = {**definitions[_EVENT_SCHEMAS[doc["type"]]], "definitions": definitions}
    validator = _CustomValidator(schema)
    return [f"{'.'.join(map(str, e.path)) or '(body)'}: {e.message[:200]}" for e in validator.iter_errors(doc)]


# ---- what the server keeps


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None).isoformat(timespec="milliseconds") + "+00:00"


class State:
    """Tasks, projects, models and events, kept as JSON under ``root/api`` (read back on start)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.lock = threading.RLock()
        self.docs: dict[str, dict[str, dict]] = {}
        for kind in ("tasks", "projects", "models"):
            folder = self.root / "api" / kind
            folder.mkdir(parents=True, exist_ok=True)
            self.docs[kind] = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in folder.glob("*.json")}
        (self.root / "api" / "events").mkdir(parents=True, exist_ok=True)
        (self.root / "files").mkdir(parents=True, exist_ok=True)

    @property
    def tasks(self) -> dict[str, dict]:
        return self.docs["tasks"]

    @property
    def projects(self) -> dict[str, dict]:
        return self.docs["projects"]

    def save(self, kind: str, doc: dict) -> None:
        with self.lock:
            self.docs[kind][doc["id"]] = doc
            path = self.root / "api" / kind / f"{doc['id']}.json"
            tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
            tmp.write_text(json.dumps(doc, indent=1, sort_keys=True), encoding="utf-8")
            os.replace(tmp, path)

    def task(self, task_id: Any) -> dict:
        doc = self.tasks.get(str(task_id))
        if doc is None:
            raise ApiError(400, 101, f"Invalid task id (id={task_id})")
        return doc

    def add_events(self, events: list[dict]) -> None:
        with self.lock:
            for ev in events:
                path = self.root / "api" / "events" / f"{ev.get('task')}.jsonl"
                with path.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(ev, sort_keys=True) + "\n")

    def task_events(self, task_id: str | None = None) -> list[dict]:
        folder = self.root / "api" / "events"
        paths = [folder / f"{task_id}.jsonl"] if task_id else sorted(folder.glob("*.jsonl"))
        out = []
        for p in paths:
            if p.is_file():
                out += [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
        return out

    def file_path(self, rel: str) -> Path | None:
        """Where the file server keeps ``rel``; None for a path that would leave ``root/files``."""
        base = (self.root / "files").resolve()
        target = (base / rel).resolve()
        return target if target == base or base in target.parents else None


# ---- queries


def _get(doc: dict, dotted: str) -> Any:
    cur: Any = doc
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def _project(doc: dict, only_fields: list[str] | None) -> dict:
    if not only_fields:
        return copy.deepcopy(doc)
    out: dict = {"id": doc["id"]}
    for dotted in only_fields:
        value = _get(doc, dotted)
        if value is None:
            continue
        cur = out
        parts = dotted.split(".")
        for part in parts[:-1]:
            cur = cur.setdefault(part, {})
        cur[parts[-1]] = copy.deepcopy(value)
    return out


def _tags_match(have: list[str], wanted: list[str]) -> bool:
    """ClearML's tag filter: any of the plain tags, none of the ``-`` ones (``__$all`` / ``__$not`` operators)."""
    mode, include, exclude, all_of = "any", [], [], []
    for t in wanted:
        if t in ("__$all", "__$and"):
            mode = "all"
        elif t in ("__$any", "__$or"):
            mode = "any"
        elif t == "__$not":
            mode = "not"
        elif t.startswith("-"):
            exclude.append(t[1:])
        elif mode == "not":
            exclude.append(t)
        elif mode == "all":
            all_of.append(t)
        else:
            include.append(t)
    if any(t in have for t in exclude) or not all(t in have for t in all_of):
        return False
    return not include or any(t in have for t in include)


def _hidden(doc: dict, kind: str) -> bool:
    if "hidden" in (doc.get("system_tags") or []):
        return True
    return kind == "projects" and any(p.startswith(".") for p in str(doc.get("name", "")).split("/"))


_QUERY_KEYS = {"only_fields", "order_by", "page", "page_size", "size", "scroll_id", "refresh_scroll", "search_hidden"}
_QUERY_KEYS |= {"include_subprojects", "check_own_contents", "shallow_search", "allow_public", "_allow_extra_fields_"}


def _matches(doc: dict, key: str, wanted: Any, kind: str) -> bool:
    value = _get(doc, key)
    if key in ("tags", "system_tags"):
        return _tags_match(list(value or []), list(wanted))
    if key == "name" and isinstance(wanted, str):
        return bool(re.search(wanted, str(value or "")))
    if key in ("id", "status", "type", "project", "parent", "user") and isinstance(wanted, list):
        return value in wanted
    if isinstance(wanted, list):
        return any(value == w or (isinstance(value, list) and w in value) for w in wanted)
    return value == wanted


def query(state: State, kind: str, body: dict) -> list[dict]:
    with state.lock:
        docs = list(state.docs[kind].values())
    found = [
        d
        for d in docs
        if (body.get("search_hidden") or body.get("id") or not _hidden(d, kind))
        and all(_matches(d, k, v, kind) for k, v in body.items() if k not in _QUERY_KEYS and v is not None)
    ]
    for key in reversed(body.get("order_by") or ["created"]):
        desc = key.startswith("-")
        name = key.lstrip("-+")
        found.sort(key=lambda d, n=name: str(_get(d, n) or ""), reverse=desc)
    size = body.get("page_size") or body.get("size")
    page = body.get("page")
    if size and page is not None:
        found = found[page * size : (page + 1) * size]
    elif size and body.get("scroll_id"):
        found = []  # one scroll: everything came on the first call
    return [_project(d, body.get("only_fields")) for d in found]


def new_id() -> str:
    return uuid.uuid4().hex


# ---- projects


def _ensure_project(state: State, name: str, **fields: Any) -> dict:
    """The project called ``name``, created (with its parents, as the server does) when absent."""
    with state.lock:
        for doc in state.projects.values():
            if doc["name"] == name:
                return doc
        if "/" in name:
            _ensure_project(state, name.rpartition("/")[0])
        doc = {
            "id": new_id(),
            "name": name,
            "basename": name.rpartition("/")[2],
            "description": fields.get("description") or "",
            "tags": list(fields.get("tags") or []),
            "system_tags": list(fields.get("system_tags") or []),
            "default_output_destination": fields.get("default_output_destination"),
            "created": now(),
            "last_update": now(),
            "user": "crowdlens-user",
            "company": "crowdlens",
        }
        state.save("projects", {k: v for k, v in doc.items() if v is not None})
        return state.projects[doc["id"]]


@endpoint("projects.create")
def projects_create(state: State, body: dict) -> dict:
    name = str(body["name"]).strip("/")
    if any(d["name"] == name for d in state.projects.values()):
        raise ApiError(400, 801, f"Project with the same name already exists (name={name})")
    return {"id": _ensure_project(state, name, **{k: v for k, v in body.items() if k != "name"})["id"]}


@endpoint("projects.get_all")
def projects_get_all(state: State, body: dict) -> dict:
    return {"projects": query(state, "projects", body)}


@endpoint("projects.get_by_id")
def projects_get_by_id(state: State, body: dict) -> dict:
    doc = state.projects.get(str(body["project"]))
    if doc is None:
        raise ApiError(400, 401, f"Invalid project id (id={body['project']})")
    return {"project": copy.deepcopy(doc)}


@endpoint("projects.update")
def projects_update(state: State, body: dict) -> dict:
    doc = copy.deepcopy(projects_get_by_id(state, body)["project"])
    fields = {k: v for k, v in body.items() if k != "project"}
    doc.update(fields, last_update=now())
    state.save("projects", doc)
    return {"updated": 1, "fields": fields}


# ---- tasks


@endpoint("tasks.create")
def tasks_create(state: State, body: dict) -> dict:
    stamp = now()
    doc = copy.deepcopy(body)
    doc.pop("output_dest", None)
    doc.update(
        id=new_id(),
        status="created",
        created=stamp,
        last_update=stamp,
        last_change=stamp,
        status_changed=stamp,
        user="crowdlens-user",
        company="crowdlens",
        tags=list(body.get("tags") or []),
        system_tags=list(body.get("system_tags") or []),
        output={"destination": body["output_dest"]} if body.get("output_dest") else {},
        last_iteration=0,
    )
    for key in ("script", "execution", "hyperparams", "configuration", "runtime", "models", "container"):
        doc.setdefault(key, {})
    if body.get("project") and str(body["project"]) not in state.projects:
        raise ApiError(400, 401, f"Invalid project id (id={body['project']})")
    state.save("tasks", doc)
    return {"id": doc["id"]}


@endpoint("tasks.get_by_id")
def tasks_get_by_id(state: State, body: dict) -> dict:
    return {"task": copy.deepcopy(state.task(body["task"]))}


@endpoint("tasks.get_all")
def tasks_get_all(state: State, body: dict) -> dict:
    found = query(state, "tasks", body)
    return (
        {"tasks": found, "scroll_id": new_id()}
        if body.get("scroll_id") is not None or body.get("size")
        else {"tasks": found}
    )


def _editable(state: State, body: dict) -> dict:
    doc = copy.deepcopy(state.task(body["task"]))
    if doc["status"] not in ("created", "in_progress") and not body.get("force"):
        raise ApiError(400, 110, f"Invalid task status (status={doc['status']}, expected=created or in_progress)")
    return doc


def _touch(state: State, doc: dict) -> None:
    doc["last_update"] = doc["last_change"] = now()
    state.save("tasks", doc)


@endpoint("tasks.edit")
def tasks_edit(state: State, body: dict) -> dict:
    doc = _editable(state, body)
    fields = {k: v for k, v in body.items() if k not in ("task", "force")}
    if "output_dest" in fields:
        doc.setdefault("output", {})["destination"] = fields.pop("output_dest")
    for key, value in fields.items():
        if isinstance(value, dict) and isinstance(doc.get(key), dict) and key not in ("hyperparams", "configuration"):
            doc[key] = {**doc[key], **value}
        else:
            doc[key] = value
    _touch(state, doc)
    return {"updated": 1, "fields": fields}


@endpoint("tasks.add_or_update_artifacts")
def tasks_add_or_update_artifacts(state: State, body: dict) -> dict:
    doc = _editable(state, body)
    artifacts = doc.setdefault("execution", {}).setdefault("artifacts", [])
    for new in body["artifacts"]:
        new = {"mode": "output", **new}
        artifacts[:] = [a for a in artifacts if (a["key"], a.get("mode", "output")) != (new["key"], new["mode"])]
        artifacts.append(new)
    _touch(state, doc)
    return {"updated": len(body["artifacts"])}


@endpoint("tasks.delete_artifacts")
def tasks_delete_artifacts(state: State, body: dict) -> dict:
    doc = _editable(state, body)
    artifacts = doc.setdefault("execution", {}).setdefault("artifacts", [])
    gone = {(a["key"], a.get("mode", "output")) for a in body["artifacts"]}
    kept = [a for a in artifacts if (a["key"], a.get("mode", "output")) not in gone]
    doc["execution"]["artifacts"] = kept
    _touch(state, doc)
    return {"deleted": len(artifacts) - len(kept)}


@endpoint("tasks.edit_configuration")
def tasks_edit_configuration(state: State, body: dict) -> dict:
    doc = _editable(state, body)
    conf = {} if body.get("replace_configuration") else doc.get("configuration") or {}
    for item in body["configuration"]:
        conf[item["name"]] = item
    doc["configuration"] = conf
    _touch(state, doc)
    return {"updated": 1}


@endpoint("tasks.get_configurations")
def tasks_get_configurations(state: State, body: dict) -> dict:
    out = []
    for tid in body["tasks"]:
        conf = state.task(tid).get("configuration") or {}
        names = body.get("names")
        out.append({"task": tid, "configuration": [v for k, v in conf.items() if not names or k in names]})
    return {"configurations": out}


@endpoint("tasks.get_configuration_names")
def tasks_get_configuration_names(state: State, body: dict) -> dict:
    return {
        "configurations": [
            {"task": t, "names": sorted(state.task(t).get("configuration") or {})} for t in body["tasks"]
        ]
    }


@endpoint("tasks.edit_hyper_params")
def tasks_edit_hyper_params(state: State, body: dict) -> dict:
    doc = _editable(state, body)
    params = {} if body.get("replace_hyperparams") == "all" else doc.get("hyperparams") or {}
    for item in body["hyperparams"]:
        section = item.get("section") or "General"
        if body.get("replace_hyperparams") == "section":
            params[section] = {}
        params.setdefault(section, {})[item["name"]] = {**item, "section": section}
    doc["hyperparams"] = params
    _touch(state, doc)
    return {"updated": 1}


@endpoint("tasks.get_hyper_params")
def tasks_get_hyper_params(state: State, body: dict) -> dict:
    out = []
    for tid in body["tasks"]:
        params = state.task(tid).get("hyperparams") or {}
        out.append({"task": tid, "hyperparams": [p for section in params.values() for p in section.values()]})
    return {"params": out}


@endpoint("tasks.delete_hyper_params")
def tasks_delete_hyper_params(state: State, body: dict) -> dict:
    doc = _editable(state, body)
    params = doc.get("hyperparams") or {}
    deleted = 0
    for item in body["hyperparams"]:
        section = params.get(item.get("section") or "General", {})
        if item.get("name") in section:
            del section[item["name"]]
            deleted += 1
    _touch(state, doc)
    return {"deleted": deleted}


@endpoint("tasks.set_requirements")
def tasks_set_requirements(state: State, body: dict) -> dict:
    doc = _editable(state, body)
    doc.setdefault("script", {})["requirements"] = body.get("requirements") or {}
    _touch(state, doc)
    return {"updated": 1, "fields": {}}


@endpoint("tasks.ping")
def tasks_ping(state: State, body: dict) -> dict:
    state.task(body["task"])
    return {}


_TRANSITIONS = {
    # endpoint: (statuses it may leave, the new status, the time field it sets)
    "started": (("created", "queued", "in_progress", "stopped", "failed"), "in_progress", "started"),
    "stopped": (("in_progress", "queued", "created"), "stopped", None),
    "close": (("in_progress", "stopped", "created"), "closed", None),
    "completed": (("in_progress", "stopped", "closed", "created"), "completed", "completed"),
    "failed": (("in_progress", "stopped", "created", "queued"), "failed", None),
    "publish": (("stopped", "completed", "closed"), "published", "published"),
}


def _transition(action: str) -> Callable[[State, dict], dict]:
    allowed, status, stamp_field = _TRANSITIONS[action]

    def handler(state: State, body: dict) -> dict:
        doc = copy.deepcopy(state.task(body["task"]))
        if doc["status"] not in allowed and not body.get("force"):
            raise ApiError(400, 110, f"Invalid task status (status={doc['status']}, cannot {action})")
        stamp = now()
        fields = {"status": status, "status_changed": stamp, "last_update": stamp}
        fields.update({k: body[k] for k in ("status_reason", "status_message") if body.get(k)})
        if stamp_field:
            fields[stamp_field] = stamp
        if action == "completed" and body.get("publish"):
            fields.update(status="published", published=stamp)
        doc.update(fields)
        state.save("tasks", doc)
        answer = {"updated": 1, "fields": fields}
        if action == "started":
            answer["started"] = 1
        if action == "completed":
            answer["published"] = 1 if body.get("publish") else 0
        return answer

    return handler


for _action in _TRANSITIONS:
    HANDLERS[f"tasks.{_action}"] = _transition(_action)


@endpoint("tasks.reset")
def tasks_reset(state: State, body: dict) -> dict:
    doc = copy.deepcopy(state.task(body["task"]))
    doc.update(status="created", status_changed=now())
    state.save("tasks", doc)
    return {"updated": 1, "fields": {"status": "created"}}


# ---- models (Dataset uses none; the SDK may look)


@endpoint("models.get_all")
def models_get_all(state: State, body: dict) -> dict:
    return {"models": query(state, "models", body)}


# ---- events: the logger's reports


@endpoint("events.add_batch")
def events_add_batch(state: State, body: list) -> dict:
    for ev in body:
        state.task(ev.get("task"))
        ev.setdefault("timestamp", dt.datetime.now(dt.timezone.utc).timestamp() * 1000)
    state.add_events(body)
    return {"added": len(body), "errors": 0, "errors_info": {}}


@endpoint("events.add")
def events_add(state: State, body: dict) -> dict:
    events_add_batch(state, [body])
    return {}
