"""A loopback stand-in for the ClearML API server and file server, for the real ``clearml`` SDK over HTTP.

One port serves both: ``/v2.23/<service>.<action>`` (or ``/<service>.<action>``) is the API,
every other path is the file server (``POST /<folder>`` with a multipart body stores each part
at ``<folder>/<part name>``, ``GET /<path>`` returns it, ``DELETE /<path>`` removes it), so
``CLEARML_API_HOST``, ``CLEARML_FILES_HOST`` and ``CLEARML_WEB_HOST`` all point at the same
``http://127.0.0.1:PORT``.

The API speaks the SDK's own service definitions (``clearml/backend_api/services/v2_23``): every
request body is validated against its ``*Request._schema`` (a violation is the server's 400/12
validation error) and every answer against its ``*Response._schema`` (a violation is kept in
``ClearMLServer.violations``, so a test can insist there is none). The envelope is the server's:
``{"meta": {id, trx, endpoint, result_code, result_subcode, result_msg, error_stack}, "data": ...}``.
``auth.login`` takes the key pair as HTTP basic auth and returns a signed JWT whose claims give the
API version (2.23) the SDK then uses; every other endpoint but ``debug.ping`` needs that token.

Everything it is sent is kept under ``--root DIR``: ``api/tasks/<id>.json``, ``api/projects/<id>.json``,
``api/events/<task id>.jsonl`` (the logger's reports), ``files/...`` (uploaded artifacts and
media) and ``requests.jsonl`` (one line per call: endpoint, status). A restarted server reads
them back. The endpoint handlers are in :mod:`clearml_standin_api`.

Run alone (serves until stopped with Ctrl-C)::

    python tests/clearml_server.py --port 8008 --root /tmp/clearml-root \
        [--access-key KEY --secret-key SECRET] [--fail tasks.get_all=500]

then ``CLEARML_API_HOST=CLEARML_FILES_HOST=CLEARML_WEB_HOST=http://127.0.0.1:8008`` and the key
pair in ``CLEARML_API_ACCESS_KEY`` / ``CLEARML_API_SECRET_KEY``.
"""

from __future__ import annotations

import argparse
import base64
import hmac
import http.server
import json
import os
import re
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from clearml_standin_api import HANDLERS, ApiError, State, request_class, validation_errors  # noqa: E402

API_VERSION = "2.23"
SERVER_VERSION = "1.17.1"
DEFAULT_ACCESS_KEY = "crowdlens-test-access-key"
DEFAULT_SECRET_KEY = "crowdlens-test-secret-key"
TRACE = int(os.environ.get("CLEARML_STANDIN_TRACE") or 0)  # print each request's first TRACE bytes to stderr
_API_PATH = re.compile(r"^/(?:v(?P<version>\d+\.\d+)/)?(?P<service>[a-z_]+)\.(?P<action>[a-z_]+)$")


class ClearMLServer:
    """The stand-in on ``127.0.0.1:port`` (0: a free port), its records under ``root``; start with ``with``.

    ``fail(endpoint, status)`` makes an endpoint answer with that HTTP status (``times`` calls, or
    always); ``calls`` lists ``(endpoint, status)`` per request; ``violations`` the answers or
    event lines that do not match the SDK's schemas.
    """

    def __init__(
        self,
        root: str | Path,
        port: int = 0,
        *,
        access_key: str = DEFAULT_ACCESS_KEY,
        secret_key: str = DEFAULT_SECRET_KEY,
    ):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.access_key, self.secret_key = access_key, secret_key
        self._signing_key = uuid.uuid4().hex
        self.state = State(self.root)
        self.failures: dict[str, list] = {}
        self.calls: list[tuple[str, int]] = []
        self.violations: list[str] = []
        self.errors: list[tuple[str, int, str]] = []
        self._lock = threading.Lock()
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), _handler_class(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self, access_key: str | None = None, secret_key: str | None = None) -> dict[str, str]:
        """The ``CLEARML_*`` variables that point the SDK here (this server's key pair unless given)."""
        return {
            "CLEARML_API_HOST": self.url,
            "CLEARML_FILES_HOST": self.url,
            "CLEARML_WEB_HOST": self.url,
            "CLEARML_API_ACCESS_KEY": access_key or self.access_key,
            "CLEARML_API_SECRET_KEY": secret_key or self.secret_key,
        }

    def fail(self, endpoint: str, status: int = 500, times: int | None = None) -> None:
        self.failures[endpoint] = [status, times]

    def clear_failures(self) -> None:
        self.failures.clear()

    def events(self, task_id: str | None = None) -> list[dict]:
        """The events (logger reports) the server was sent, for one task or all."""
        return self.state.task_events(task_id)

    def start(self) -> "ClearMLServer":
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="clearml-standin", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def __enter__(self) -> "ClearMLServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ---- called by the request handler

    def record(self, endpoint: str, status: int, message: str = "") -> None:
        with self._lock:
            self.calls.append((endpoint, status))
            if status != 200:
                self.errors.append((endpoint, status, message))
            line = {"time": time.time(), "endpoint": endpoint, "status": status, "message": message}
            with (self.root / "requests.jsonl").open("a", encoding="utf-8") as f:
                f.write(json.dumps(line) + "\n")

    def injected_failure(self, endpoint: str) -> int | None:
        with self._lock:
            rule = self.failures.get(endpoint)
            if not rule:
                return None
            status, times = rule
            if times is not None:
                if times <= 0:
                    return None
                rule[1] = times - 1
            return status

    def login(self, authorization: str, params: dict) -> dict:
        kind, _, value = (authorization or "").partition(" ")
        if kind.lower() == "basic":
            try:
                key, _, secret = base64.b64decode(value).decode().partition(":")
            except ValueError:
                key = secret = ""
            ok = hmac.compare_digest(key, self.access_key) and hmac.compare_digest(secret, self.secret_key)
        elif kind.lower() == "bearer":
            ok = self.identity(authorization) is not None
        else:
            raise ApiError(401, 20, "Unauthorized (missing credentials)")
        if not ok:
            raise ApiError(401, 21, "Unauthorized (invalid credentials) (failed to locate provided credentials)")
        return {"token": self._token(int(params.get("expiration_sec") or 0) or 30 * 24 * 3600)}

    def _token(self, expiration_sec: int) -> str:
        import jwt

        now = int(time.time())
        claims = {
            "identity": {"company": "crowdlens", "role": "user", "user": "crowdlens-user", "user_name": "crowdlens"},
            "api_version": API_VERSION,
            "server_version": SERVER_VERSION,
            "server_build": "standin",
            "feature_set": "basic",
            "iat": now,
            "exp": now + expiration_sec,
        }
        return jwt.encode(claims, self._signing_key, algorithm="HS256")

    def identity(self, authorization: str) -> dict | None:
        import jwt

        kind, _, token = (authorization or "").partition(" ")
        if kind.lower() != "bearer" or not token:
            return None
        try:
            return jwt.decode(token, self._signing_key, algorithms=["HS256"])
        except jwt.PyJWTError:
            return None


def _handler_class(server: ClearMLServer) -> type:
    class Handler(_Handler):
        standin = server

    return Handler


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    standin: ClearMLServer

    def log_message(self, *args: Any) -> None:
        pass

    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, status: int, payload: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _route(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        match = _API_PATH.match(path)
        if match and (match["service"], match["action"]) != ("", ""):
            self._api(match["service"], match["action"], match["version"] or API_VERSION)
        else:
            self._files(path)

    do_GET = do_POST = do_PUT = do_DELETE = _route

    # ---- the API

    def _api(self, service: str, action: str, version: str) -> None:
        endpoint = f"{service}.{action}"
        body = self._body()
        if TRACE:
            print(
                f"[clearml-standin] {self.command} {endpoint} {body[:TRACE].decode(errors='replace')}", file=sys.stderr
            )
        status, result = 200, {}
        try:
            injected = self.standin.injected_failure(endpoint)
            if injected:
                raise ApiError(injected, 0, f"injected failure of {endpoint} (HTTP {injected})")
            result = self._call(endpoint, body)
        except ApiError as err:
            status, result = err.status, err
        except Exception as err:  # a bug in a handler is the server's 500, with the trace for the test's log
            traceback.print_exc()
            status, result = 500, ApiError(500, 0, f"General data error ({type(err).__name__}: {err})")
        self.standin.record(endpoint, status, result.message if isinstance(result, ApiError) else "")
        self._answer(endpoint, version, status, result)

    def _call(self, endpoint: str, body: bytes) -> dict:
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
        if endpoint == "debug.ping":
            return {"msg": "ClearML server"}
        if endpoint == "auth.login":
            return self.standin.login(self.headers.get("Authorization", ""), query)
        if self.standin.identity(self.headers.get("Authorization", "")) is None:
            raise ApiError(401, 20, "Unauthorized (missing or invalid token)")
        handler = HANDLERS.get(endpoint)
        if handler is None:
            raise ApiError(400, 0, f"Invalid endpoint (endpoint not found: {endpoint})")
        if self.headers.get("Content-Type", "").startswith("application/json-lines"):
            payload: Any = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
            cls = request_class(endpoint, batch=True)
            for item in payload:
                item.pop("method", None)
                if isinstance(item.get("level"), str):
                    item["level"] = item["level"].lower()  # the SDK sends logging's names (INFO); the server takes them
            errors = [e for item in payload for e in validation_errors(cls, item)]
        else:
            payload = json.loads(body) if body.strip() else {}
            cls = request_class(endpoint)
            errors = validation_errors(cls, payload)
            if cls is not None and "method" not in cls._schema.get("properties", {}):
                payload.pop("method", None)  # the SDK's Request.to_dict() includes its HTTP method
        if errors:
            raise ApiError(400, 12, f"Validation error ({endpoint}: {'; '.join(errors[:3])})")
        data = handler(self.standin.state, payload)
        bad = validation_errors(request_class(endpoint, response=True), data)
        if bad:
            self.standin.violations.append(f"{endpoint} answer: {'; '.join(bad[:3])}")
        return data

    def _answer(self, endpoint: str, version: str, status: int, result: Any) -> None:
        is_error = isinstance(result, ApiError)
        meta = {
            "id": uuid.uuid4().hex,
            "trx": uuid.uuid4().hex,
            "endpoint": {"name": endpoint, "requested_version": version, "actual_version": API_VERSION},
            "result_code": status,
            "result_subcode": result.subcode if is_error else 0,
            "result_msg": result.message if is_error else "OK",
            "error_stack": "",
            "error_data": {},
        }
        self._send(status, json.dumps({"meta": meta, "data": {} if is_error else result}).encode())

    # ---- the file server

    def _files(self, path: str) -> None:
        rel = urllib.parse.unquote(path).strip("/")
        if TRACE:
            print(f"[clearml-standin] {self.command} file {rel}", file=sys.stderr)
        target = self.standin.state.file_path(rel)
        method = self.command
        status = 200
        if target is None:
            status, payload = 400, b'{"error": "bad path"}'
        elif method == "POST":
            saved = []
            for name, data in _multipart(self.headers.get("Content-Type", ""), self._body()):
                name = name.lstrip("/")  # as the real file server does
                dest = self.standin.state.file_path(f"{rel}/{name}" if rel else name)
                if dest is None:
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(data)
                saved.append(name)
            payload = json.dumps(saved).encode()
        elif method == "GET":
            self._body()
            if target.is_file():
                payload = target.read_bytes()
            else:
                status, payload = 404, b"Not Found"
        elif method == "DELETE":
            self._body()
            if target.is_file():
                target.unlink()
                payload = b"{}"
            else:
                status, payload = 404, b"Not Found"
        else:
            status, payload = 405, b"Method Not Allowed"
        self.standin.record(f"files {method}", status)
        self._send(status, payload, "application/octet-stream" if method == "GET" else "application/json")


def _multipart(content_type: str, body: bytes) -> list[tuple[str, bytes]]:
    """The (field name, bytes) parts of a multipart/form-data body (what requests-toolbelt sends)."""
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    if not m:
        return []
    delimiter = b"--" + m.group(1).encode()
    parts = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, data = chunk.partition(b"\r\n\r\n")
        name = re.search(rb'name="([^"]*)"', head)
        if name:
            parts.append((name.group(1).decode(), data[:-2] if data.endswith(b"\r\n") else data))
    return parts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8008, help="the port for the API and the files (0: a free one)")
    parser.add_argument("--root", required=True, help="the folder that keeps what the server is sent")
    parser.add_argument("--access-key", default=DEFAULT_ACCESS_KEY)
    parser.add_argument("--secret-key", default=DEFAULT_SECRET_KEY)
    parser.add_argument("--fail", action="append", default=[], metavar="ENDPOINT=STATUS", help="e.g. tasks.get_all=500")
    args = parser.parse_args(argv)
    server = ClearMLServer(args.root, args.port, access_key=args.access_key, secret_key=args.secret_key)
    for rule in args.fail:
        endpoint, _, status = rule.partition("=")
        server.fail(endpoint, int(status or 500))
    print(f"ClearML stand-in on {server.url} (API and files), keeping what it is sent in {server.root}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server._httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
