"""A local stand-in for the Toloka API on 127.0.0.1, answering what toloka-kit 1.2.3 asks.

Started on a free port in a thread; ``TolokaClient(token, url=stub.url)`` talks to it exactly as
to Toloka. Endpoints and shapes follow toloka-kit's own client code (toloka/client/__init__.py:
``get_pool``, ``get_project``, ``find_assignments`` / ``_find_all``, ``find_user_restrictions``,
``find_user_bonuses``, ``find_tasks``, ``get_analytics``, ``get_operation``) and its model classes:

* ``GET  /api/v1/pools/{id}``, ``/api/v1/projects/{id}``: the object, or 404 DOES_NOT_EXIST;
* ``GET  /api/v1/assignments``, ``/api/v1/user-restrictions``, ``/api/v1/user-bonuses``,
  ``/api/v1/tasks``: a search — equality filters (``pool_id``, ``project_id``, ``user_id``,
  ``assignment_id``, ``scope``, ``status`` as a comma
  list), range filters (``id_gt``/``gte``/``lt``/``lte``, ``created_*``, ``submitted_*``),
  ``sort`` (only ``id``, what ``_find_all`` sends), ``limit`` (default 50, capped at the API's
  maximum, or at ``max_limit`` to force many pages) → ``{"items": [...], "has_more": bool}``;
* ``POST /api/staging/analytics-2`` (a list of at most 10 pool analytics requests) → an
  ANALYTICS operation, PENDING; ``GET /api/v1/operations/{id}`` → the same operation, SUCCESS,
  with ``details.value`` = ``[{"result", "request", "finished"}]`` (the shape of toloka-kit's
  tests/test_analytics_request.py);
* ``PUT /api/v1/user-restrictions`` (``set_user_restriction``): the body is structured with
  toloka-kit's ``UserRestriction`` and refused (400 VALIDATION_ERROR) with an unknown or read-only
  field, a missing user_id / scope / pool_id / project_id, or scope SYSTEM; otherwise stored with
  a new ``id`` and ``created`` and answered; ``GET`` / ``DELETE /api/v1/user-restrictions/{id}``
  read and lift one (404 DOES_NOT_EXIST when there is none; the delete answers 204);
  every accepted restriction body is kept in ``restriction_bodies``;
* every request with a wrong ``Authorization`` header → 401 ``{"code": "AUTHENTICATION_ERROR"}``;
* :meth:`TolokaStub.answer_with` puts a canned answer (a 429 with ``Retry-After``, a 503, a 200
  with a body of the wrong shape or not JSON at all) before the stub's own, for the next
  ``times`` requests to a path; ``delay`` seconds before answering (longer than the client's
  timeout: a timeout), and ``status=None`` for the stub's own answer, the request processed
  first (a request that was carried out although its answer never arrived).

Every request is recorded (method, path, query, JSON body, whether it was authorised) so tests
can assert what was asked and how often. The token itself is not recorded.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

SEARCHES = {
    "/api/v1/assignments": ("assignments", 100_000),
    "/api/v1/user-restrictions": ("restrictions", 500),
    "/api/v1/user-bonuses": ("bonuses", 300),
    "/api/v1/tasks": ("tasks", 100_000),
}
RANGE_FIELDS = ("id", "created", "submitted", "accepted", "rejected", "skipped", "expired")
EQUALITY_FIELDS = ("pool_id", "project_id", "user_id", "assignment_id", "scope", "task_suite_id", "task_id")


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    authorised: bool


def _id_key(value: str):
    # numeric ids (restrictions, pools) compare as numbers, others (assignments) as text
    return (0, int(value), "") if str(value).isdigit() else (1, 0, str(value))


def _time(value: str) -> dt.datetime:
    t = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return t.replace(tzinfo=None) if t.tzinfo is None else t.astimezone(dt.timezone.utc).replace(tzinfo=None)


@dataclass
class Canned:
    """An answer given instead of the stub's own to the next ``times`` requests to ``path``
    (every one with ``times=None``). ``body`` is JSON-able, or bytes sent as they are."""

    path: str
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    times: int | None = 1
    method: str | None = None
    delay: float = 0.0


@dataclass
class TolokaStub:
    """The stand-in's data and server. Use as a context manager, or ``start()`` / ``stop()``."""

    token: str = "stub-token-0123456789"
    pools: dict[str, dict] = field(default_factory=dict)
    projects: dict[str, dict] = field(default_factory=dict)
    assignments: list[dict] = field(default_factory=list)
    restrictions: list[dict] = field(default_factory=list)
    bonuses: list[dict] = field(default_factory=list)
    tasks: list[dict] = field(default_factory=list)
    # pool id -> {analytics name: result}; names not given are computed from the data
    analytics: dict[str, dict[str, Any]] = field(default_factory=dict)
    # (HTTP status, error code) answered to analytics requests, to test the fallback
    analytics_error: tuple[int, str] | None = None
    max_limit: int | None = None
    requests: list[Recorded] = field(default_factory=list)
    operations: dict[str, dict] = field(default_factory=dict)
    canned: list[Canned] = field(default_factory=list)
    restriction_bodies: list[dict] = field(default_factory=list)

    def __post_init__(self):
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # ---- lifecycle

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the Toloka stub is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "TolokaStub":
        stub = self

        class Handler(_Handler):
            pass

        Handler.stub = stub
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="toloka-stub", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "TolokaStub":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- what tests ask

    def requests_to(self, path: str, method: str | None = None) -> list[Recorded]:
        return [r for r in self.requests if r.path == path and (method is None or r.method == method)]

    def answer_with(
        self,
        path: str,
        status: int | None,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        times: int | None = 1,
        method: str | None = None,
        delay: float = 0.0,
    ) -> Canned:
        """Answer the next ``times`` requests to ``path`` with ``status`` / ``body`` / ``headers``
        after ``delay`` seconds (``status`` None: the stub's own answer, the request carried out)."""
        canned = Canned(path, status, body, dict(headers or {}), times, method, delay)
        self.canned.append(canned)
        return canned

    def _take_canned(self, method: str, path: str) -> Canned | None:
        for c in self.canned:
            if c.path == path and c.method in (None, method) and (c.times is None or c.times > 0):
                if c.times is not None:
                    c.times -= 1
                return c
        return None

    # ---- answers

    def _search(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        collection, api_max = SEARCHES[path]
        items = list(getattr(self, collection))
        sort = query.get("sort")
        if sort not in (None, "id"):
            return 400, {"code": "VALIDATION_ERROR", "message": f"the stub sorts by id only, got sort={sort}"}
        for key in EQUALITY_FIELDS:
            if key in query:
                items = [x for x in items if str(x.get(key)) == query[key]]
        if "status" in query:
            wanted = set(query["status"].split(","))
            items = [x for x in items if x.get("status") in wanted]
        for f in RANGE_FIELDS:
            for op in ("gt", "gte", "lt", "lte"):
                raw = query.get(f"{f}_{op}")
                if raw is None:
                    continue
                if f == "id":
                    bound, key = _id_key(raw), lambda x: _id_key(x["id"])
                else:
                    bound, key = _time(raw), (lambda x, f=f: _time(x[f]) if x.get(f) else None)
                keep = []
                for x in items:
                    v = key(x)
                    if v is None:
                        continue
                    if (
                        (op == "gt" and v > bound)
                        or (op == "gte" and v >= bound)
                        or (op == "lt" and v < bound)
                        or (op == "lte" and v <= bound)
                    ):
                        keep.append(x)
                items = keep
        items.sort(key=lambda x: _id_key(x["id"]))
        limit = int(query.get("limit", 50))
        limit = min(limit, api_max, self.max_limit or api_max)
        page = items[:limit]
        return 200, {"items": page, "has_more": len(items) > limit}

    def _analytics_result(self, request: dict) -> Any:
        pid, name = str(request.get("subject_id")), request.get("name")
        given = self.analytics.get(pid, {})
        if name in given:
            return given[name]
        mine = [a for a in self.assignments if str(a.get("pool_id")) == pid]
        count = lambda *st: sum(1 for a in mine if a.get("status") in st)  # noqa: E731
        computed = {
            "submitted_assignments_count": count("SUBMITTED", "ACCEPTED", "REJECTED"),
            "approved_assignments_count": count("ACCEPTED"),
            "rejected_assignments_count": count("REJECTED"),
            "skipped_assignments_count": count("SKIPPED"),
            "unique_submitters_count": len(
                {a["user_id"] for a in mine if a.get("status") in ("SUBMITTED", "ACCEPTED", "REJECTED")}
            ),
            "unique_workers_count": len({a["user_id"] for a in mine}),
            "real_tasks_count": sum(
                1 for t in self.tasks if str(t.get("pool_id")) == pid and not t.get("known_solutions")
            ),
        }
        return computed.get(name)

    def _now(self) -> str:
        return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None).isoformat(timespec="milliseconds")

    def _set_restriction(self, body: Any) -> tuple[int, Any]:
        problem = restriction_problem(body)
        if problem:
            return 400, {"code": "VALIDATION_ERROR", "message": problem, "request_id": uuid.uuid4().hex}
        self.restriction_bodies.append(copy.deepcopy(body))
        new_id = str(1 + max([1000, *(int(r["id"]) for r in self.restrictions if str(r.get("id")).isdigit())]))
        stored = {**copy.deepcopy(body), "id": new_id, "created": self._now()}
        self.restrictions.append(stored)
        return 201, stored

    def _one_restriction(self, method: str, rid: str) -> tuple[int, Any]:
        found = [r for r in self.restrictions if str(r.get("id")) == rid]
        if not found:
            return 404, {"code": "DOES_NOT_EXIST", "message": f"User restriction {rid} does not exist"}
        if method == "DELETE":
            self.restrictions.remove(found[0])
            return 204, None
        return 200, found[0]

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        if path in SEARCHES and method == "GET":
            return self._search(path, query)
        if path == "/api/v1/user-restrictions" and method == "PUT":
            return self._set_restriction(body)
        parts = path.strip("/").split("/")
        if len(parts) == 4 and parts[:3] == ["api", "v1", "user-restrictions"] and method in ("GET", "DELETE"):
            return self._one_restriction(method, parts[3])
        if (
            method == "GET"
            and len(parts) == 4
            and parts[:2] == ["api", "v1"]
            and parts[2] in ("pools", "projects", "operations")
        ):
            store = {"pools": self.pools, "projects": self.projects, "operations": self.operations}[parts[2]]
            obj = store.get(parts[3])
            if obj is None:
                return 404, {
                    "code": "DOES_NOT_EXIST",
                    "message": f"{parts[2][:-1].capitalize()} {parts[3]} does not exist",
                    "request_id": uuid.uuid4().hex,
                }
            if parts[2] == "operations" and obj["status"] == "PENDING":
                # the operation finishes the first time it is looked at
                results = [
                    {"result": self._analytics_result(r), "request": r, "finished": self._now()}
                    for r in obj["parameters"]["value"]
                ]
                obj.update(
                    status="SUCCESS",
                    started=obj["submitted"],
                    finished=self._now(),
                    progress=100,
                    details={"value": results},
                )
            return 200, obj
        if method == "POST" and path == "/api/staging/analytics-2":
            if self.analytics_error is not None:
                status, code = self.analytics_error
                return status, {
                    "code": code,
                    "message": "analytics are not available to this account",
                    "request_id": uuid.uuid4().hex,
                }
            if not isinstance(body, list) or not 1 <= len(body) <= 10:
                return 400, {"code": "VALIDATION_ERROR", "message": "send 1 to 10 analytics requests"}
            for r in body:
                if r.get("subject") != "POOL" or not r.get("name") or not r.get("subject_id"):
                    return 400, {"code": "VALIDATION_ERROR", "message": f"bad analytics request {r}"}
            op = {
                "id": str(uuid.uuid4()),
                "type": "ANALYTICS",
                "status": "PENDING",
                "submitted": self._now(),
                "parameters": {"value": body},
                "progress": 0,
            }
            self.operations[op["id"]] = op
            return 202, op
        return 404, {"code": "DOES_NOT_EXIST", "message": f"no such endpoint in the stub: {method} {path}"}


def restriction_problem(body: Any) -> str:
    """What is wrong with a set_user_restriction body, read with toloka-kit's own model ("" if nothing)."""
    from toloka.client import structure
    from toloka.client.user_restriction import UserRestriction

    if not isinstance(body, dict):
        return "the body must be a JSON object"
    readonly = sorted({"id", "created"} & set(body))
    if readonly:
        return f"read-only fields in the body: {readonly}"
    try:
        obj = structure(copy.deepcopy(body), UserRestriction)
    except Exception as err:  # noqa: BLE001 - any structuring failure is a refused body
        return f"toloka-kit cannot read the body as a UserRestriction: {type(err).__name__}: {err}"
    extra = sorted(getattr(obj, "_unexpected", None) or {})
    if extra:
        return f"unknown fields for {type(obj).__name__}: {extra}"
    scope = str(getattr(obj.scope, "value", obj.scope))
    needed = ["user_id", "private_comment"] + {"POOL": ["pool_id"], "PROJECT": ["project_id"]}.get(scope, [])
    missing = [f for f in needed if not getattr(obj, f, None)]
    if missing:
        return f"missing fields for scope {scope}: {missing}"
    if scope == "SYSTEM":
        return "a requester cannot set a SYSTEM restriction"
    return ""


class _Handler(BaseHTTPRequestHandler):
    stub: TolokaStub
    protocol_version = "HTTP/1.1"
    # one write per response (headers and body together): no 40 ms delayed-ACK stall per request
    wbufsize = -1
    disable_nagle_algorithm = True

    def log_message(self, format, *args):  # noqa: A002 - keep test output quiet
        pass

    def _answer(self, method: str) -> None:
        parsed = urlparse(self.path)
        query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        auth = self.headers.get("Authorization", "")
        stub = self.stub
        authorised = auth in (f"OAuth {stub.token}", f"ApiKey {stub.token}")
        headers: dict[str, str] = {}
        with stub._lock:
            stub.requests.append(Recorded(method, parsed.path, query, body, authorised))
            canned = stub._take_canned(method, parsed.path) if authorised else None
            if canned is not None and canned.status is None:
                status, payload = stub.handle(method, parsed.path, query, body)
            elif canned is not None:
                status, payload, headers = canned.status, canned.body, canned.headers
            elif not authorised:
                status, payload = (
                    401,
                    {
                        "code": "AUTHENTICATION_ERROR",
                        "message": "Authentication failed",
                        "request_id": uuid.uuid4().hex,
                    },
                )
            else:
                status, payload = stub.handle(method, parsed.path, query, body)
        if canned is not None and canned.delay:
            time.sleep(canned.delay)  # outside the lock: other requests are answered meanwhile
        raw_body = isinstance(payload, bytes)
        data = b"" if status == 204 else payload if raw_body else json.dumps(payload).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "text/html" if raw_body else "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a timeout test)

    def do_GET(self):  # noqa: N802
        self._answer("GET")

    def do_PUT(self):  # noqa: N802
        self._answer("PUT")

    def do_DELETE(self):  # noqa: N802
        self._answer("DELETE")

    def do_POST(self):  # noqa: N802
        self._answer("POST")
