"""ClearML's configuration, login and connection errors become crowdlens messages, never showing a secret.

These use the real ``clearml`` SDK offline: every test runs with non-loopback connections refused,
and the tests that start the SDK run it in a subprocess with the same guard.
"""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from analytics.sources.clearml_store import ClearMLCredentialsError, ClearMLStore, ClearMLUnavailableError

ROOT = Path(__file__).resolve().parents[1]
SECRET = "s3cr3t-Value-never-shown"
ACCESS = "AKEY-never-shown"

pytestmark = pytest.mark.usefixtures("loopback_only")


# ---- credentials: the real SDK, offline


def _clean_env(monkeypatch, tmp_path):
    for var in list(os.environ):
        if var.startswith(("CLEARML_", "TRAINS_")):
            monkeypatch.delenv(var)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def test_missing_credentials_say_what_to_set(monkeypatch, tmp_path):
    _clean_env(monkeypatch, tmp_path)
    monkeypatch.setenv("CLEARML_API_HOST", "http://127.0.0.1:9")
    monkeypatch.setenv("CLEARML_API_SECRET_KEY", SECRET)  # a secret alone is not enough, and is never shown
    store = ClearMLStore(cache_dir=tmp_path / "cache")
    with pytest.raises(ClearMLCredentialsError) as err:
        store.listing()
    msg = str(err.value)
    assert "CLEARML_API_ACCESS_KEY" in msg and "CLEARML_API_HOST" in msg and "CLEARML_API_SECRET_KEY" in msg
    assert ".streamlit/secrets.toml" in msg
    assert SECRET not in msg


def test_an_unreachable_server_fails_fast(monkeypatch, tmp_path):
    _clean_env(monkeypatch, tmp_path)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("CLEARML_API_HOST", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("CLEARML_API_ACCESS_KEY", ACCESS)
    monkeypatch.setenv("CLEARML_API_SECRET_KEY", SECRET)
    with pytest.raises(ClearMLUnavailableError) as err:
        ClearMLStore(cache_dir=tmp_path / "cache", timeout=2).listing()
    msg = str(err.value)
    assert f"127.0.0.1:{port}" in msg and "CLEARML_API_HOST" in msg
    assert SECRET not in msg and ACCESS not in msg


class _Api(http.server.BaseHTTPRequestHandler):
    """Answers every request as a ClearML server that rejects the credentials."""

    def _answer(self):
        body = json.dumps(
            {
                "meta": {
                    "result_code": 401,
                    "result_msg": "Unauthorized (invalid credentials) (failed to locate provided credentials)",
                },
                "data": {},
            }
        ).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def api_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


_SUBPROCESS = """
import json, socket
attempts = []
real_connect = socket.socket.connect
def connect(self, address):
    attempts.append(str(address))
    if isinstance(address, tuple) and address[0] not in ("127.0.0.1", "::1", "localhost"):
        raise OSError("test guard: non-loopback connection refused")
    return real_connect(self, address)
socket.socket.connect = connect
from analytics.sources.clearml_store import ClearMLStore, ClearMLError
try:
    ClearMLStore(cache_dir={cache!r}).listing()
    out = {{"error": None}}
except ClearMLError as err:
    out = {{"error": type(err).__name__, "message": str(err)}}
out["attempts"] = attempts
print("RESULT " + json.dumps(out))
"""


def _run_real_sdk(tmp_path, env_extra):
    pytest.importorskip("clearml")
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "PYTHONPATH": str(ROOT), **env_extra}
    proc = subprocess.run(
        [sys.executable, "-c", _SUBPROCESS.format(cache=str(tmp_path / "cache"))],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, f"no result (exit {proc.returncode}): {proc.stdout[-2000:]} {proc.stderr[-2000:]}"
    out = json.loads(lines[-1][len("RESULT ") :])
    assert all("127.0.0.1" in a or "::1" in a for a in out["attempts"]), out["attempts"]
    return out, proc


def test_the_sdks_missing_config_error_becomes_our_message(tmp_path, api_server):
    # a clearml.conf without a key pair: our check lets the SDK decide, and the SDK says "not configured"
    conf = tmp_path / "clearml.conf"
    conf.write_text("api { }\n")
    out, proc = _run_real_sdk(tmp_path, {"CLEARML_CONFIG_FILE": str(conf), "CLEARML_API_HOST": api_server})
    assert out["error"] == "ClearMLCredentialsError", out
    assert (
        "credentials are missing" in out["message"]
        and "CLEARML_API_ACCESS_KEY" in out["message"]
        and ".streamlit/secrets.toml" in out["message"]
    )


def test_rejected_credentials_get_our_message_without_the_secret(tmp_path, api_server):
    out, proc = _run_real_sdk(
        tmp_path,
        {
            "CLEARML_CONFIG_FILE": str(tmp_path / "absent.conf"),
            "CLEARML_API_HOST": api_server,
            "CLEARML_API_ACCESS_KEY": ACCESS,
            "CLEARML_API_SECRET_KEY": SECRET,
        },
    )
    assert out["error"] == "ClearMLCredentialsError", out
    assert "refused the credentials" in out["message"] and "CLEARML_API_SECRET_KEY" in out["message"]
    for text in (out["message"], proc.stdout, proc.stderr):
        assert SECRET not in text


def test_a_server_error_names_the_endpoint_and_a_4xx_is_left_to_the_caller():
    pytest.importorskip("clearml")
    from clearml.backend_api.session.callresult import CallResult
    from clearml.backend_api.session.response import ResponseMeta
    from clearml.backend_interface.session import SendError

    from analytics.sources.clearml_access import ClearMLUnavailableError, sdk_error

    def send_error(code: int) -> SendError:
        meta = ResponseMeta(
            id="1", trx="1", endpoint={"name": "tasks.get_all"}, result_code=code, result_msg=f"boom {SECRET}"
        )
        return SendError(CallResult(meta=meta), f"Action failed <{code}/0: tasks.get_all>")

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CLEARML_API_SECRET_KEY", SECRET)
        err = sdk_error("list the datasets", send_error(500))
    assert isinstance(err, ClearMLUnavailableError)
    assert "tasks.get_all" in str(err) and "HTTP 500" in str(err) and "server's error" in str(err)
    assert SECRET not in str(err)
    assert sdk_error("open a dataset", send_error(400)) is None  # e.g. an unknown id: the caller's lookup error
