"""The real ``clearml`` SDK over HTTP: ``crowdlens clearml-publish / clearml-list / clearml-pull`` against
the loopback stand-in server (tests/clearml_server.py), the logger reports it receives, and the errors.

The server runs in a thread of this process, once per module; each command runs in a subprocess
(the SDK keeps a process-wide session) with ``CLEARML_CONFIG_FILE`` an empty file, ``HOME`` a temp
folder, and a socket guard (:data:`_GUARDED_CLI`) that refuses, and records, any connection not to
127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pandas as pd
import pytest

from analytics.report import build_report
from analytics.sources.workspace import Workspace, lineage_order
from analytics.versions import clearml_id_of

pytest.importorskip("clearml")
from clearml_server import ClearMLServer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PROJECT = "crowdlens-sdk-tests"
WRONG_SECRET = "wrong-s3cr3t-never-shown"

pytestmark = pytest.mark.usefixtures("loopback_only")

# ``crowdlens ARGS`` with every socket connection recorded, and refused unless to this machine
_GUARDED_CLI = """
import os, socket, sys
real_connect = socket.socket.connect
def connect(self, address):
    with open(os.environ["CROWDLENS_CONNECT_LOG"], "a") as f:
        f.write(":".join(map(str, address[:2])) + "\\n" if isinstance(address, tuple) else str(address) + "\\n")
    if isinstance(address, tuple) and address[0] not in ("127.0.0.1", "::1"):
        raise OSError(f"test guard: connection to {address!r} refused (tests reach 127.0.0.1 only)")
    return real_connect(self, address)
socket.socket.connect = connect
from analytics.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with ClearMLServer(tmp_path_factory.mktemp("clearml-server")) as s:
        yield s


def _crowdlens(tmp: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """``crowdlens ARGS`` in a subprocess with only the given ClearML settings; asserts loopback only."""
    home = tmp / "home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "empty-clearml.conf").touch()
    log = tmp / f"connections-{os.getpid()}-{len(list(tmp.glob('connections-*')))}.txt"
    full_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "PYTHONPATH": str(ROOT),
        "CLEARML_CONFIG_FILE": str(home / "empty-clearml.conf"),
        "CROWDLENS_CACHE": str(tmp / "crowdlens-cache"),
        "CROWDLENS_CONNECT_LOG": str(log),
        "TQDM_DISABLE": "1",
        **env,
    }
    proc = subprocess.run(
        [sys.executable, "-c", _GUARDED_CLI, *args],
        env=full_env,
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=180,
    )
    attempts = log.read_text().split() if log.exists() else []
    assert attempts, f"the connection guard did not run: {proc.stderr[-2000:]}"
    assert all(a.startswith(("127.0.0.1:", "::1:")) for a in attempts), attempts
    return proc


@pytest.fixture(scope="module")
def published(server, demo_workspace, tmp_path_factory):
    """The demo's three versions published through the real SDK (the newest with its parents)."""
    tmp = tmp_path_factory.mktemp("sdk-publish")
    ws = Workspace(tmp / "ws")
    shutil.copytree(demo_workspace.root, ws.root)
    newest = lineage_order(ws.versions())[-1]
    start = len(server.calls)
    proc = _crowdlens(
        tmp,
        "clearml-publish",
        newest.id,
        "--workspace",
        str(ws.root),
        "--project",
        PROJECT,
        "--with-parents",
        env=server.environment(),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"ws": ws, "tmp": tmp, "stdout": proc.stdout, "calls": server.calls[start:]}


def test_publish_list_pull_give_the_same_runs_and_reports(server, published, tmp_path):
    ws = published["ws"]
    local = lineage_order(ws.versions())
    ids = [clearml_id_of(ws, v.id) for v in local]
    assert all(ids) and len(set(ids)) == 3
    assert published["stdout"].count("published ") == 3
    assert server.violations == []  # every answer had the shape of the SDK's own Response schemas

    listed = _crowdlens(tmp_path, "clearml-list", "--project", PROJECT, "--format", "json", env=server.environment())
    assert listed.returncode == 0, listed.stderr[-3000:]
    rows = json.loads(listed.stdout)
    assert [r["id"] for r in rows] == ids
    assert [(r["name"], r["version"]) for r in rows] == [(v.name, v.version) for v in local]
    assert [r["parents"] for r in rows] == [[], [ids[0]], [ids[1]]]

    pulled_ws = Workspace(tmp_path / "pulled")
    pulled = _crowdlens(tmp_path, "clearml-pull", ids[-1], "--workspace", str(pulled_ws.root), env=server.environment())
    assert pulled.returncode == 0, pulled.stderr[-3000:]
    assert [v.id for v in lineage_order(pulled_ws.versions())] == ids  # the parents came too, same ids

    for v, cid in zip(local, ids, strict=True):
        mine, theirs = ws.open_run(v.id), pulled_ws.open_run(cid)
        pd.testing.assert_frame_equal(theirs.answers, mine.answers)
        pd.testing.assert_frame_equal(theirs.tasks, mine.tasks)
        assert theirs.meta == mine.meta
    # the same report (the newest version: the report is the slow part)
    mine, theirs = ws.open_run(local[-1].id), pulled_ws.open_run(ids[-1])
    assert json.dumps(build_report(theirs), sort_keys=True, default=str) == json.dumps(
        build_report(mine), sort_keys=True, default=str
    )
    assert server.violations == []


def _dataset_events(server, published) -> dict[str, list[dict]]:
    ws = published["ws"]
    return {v.version: server.events(clearml_id_of(ws, v.id)) for v in ws.versions()}


def test_the_logger_reports_arrive_with_their_titles(server, published):
    ws = published["ws"]
    for version, events in _dataset_events(server, published).items():
        plots = {(e["metric"], e["variant"]) for e in events if e["type"] == "plot"}
        assert {
            ("Summary", "figures"),
            ("Annotators", "per annotator"),
            ("Label distribution", "answers"),
            ("Agreement", "run"),
            ("Agreement", "per annotator"),
        } <= plots, (version, sorted(plots))
        assert any(m == "Cost-quality curve" for m, _ in plots), sorted(plots)
        summary = next(e for e in events if e["type"] == "plot" and e["metric"] == "Summary")
        cells = json.loads(summary["plot_str"])["data"][0]["cells"]["values"]
        fields = cells[0]
        assert any(f.startswith("total spend") for f in fields) and "accuracy vs golden" in fields
        # the demo has no ground truth: the figure is skipped, with the reason, not made up
        assert "skipped: accuracy vs truth" in fields
        images = [e for e in events if e["type"] == "training_debug_image" and e["metric"] == "Sample inputs"]
        if any((ws.root / "media").rglob("*.png")):
            assert images, f"no sample input reported for {version}"
            for e in images:
                stored = server.state.file_path(urllib.parse.unquote(e["url"].split("/", 3)[3]))
                assert stored is not None and stored.is_file() and stored.read_bytes()[:4] == b"\x89PNG"
        else:
            assert any(f == "skipped: sample inputs" for f in fields)


def test_the_metadata_keeps_cost_currency_pools_instructions_language_overlap(server, published):
    ws = published["ws"]
    for v in ws.versions():
        task = server.state.task(clearml_id_of(ws, v.id))
        artifacts = {a["key"]: a for a in task["execution"]["artifacts"]}
        assert {"metadata", "summary", "state"} <= set(artifacts)
        path = server.state.file_path(artifacts["metadata"]["uri"].split("/", 3)[3])
        md = json.loads(path.read_text())["metadata"]
        for key in ("annotation_cost", "currency", "pools", "instructions", "language"):
            assert md[key] == v.metadata[key], key
        assert [p.get("overlap") for p in md["pools"]] == [p.get("overlap") for p in v.metadata["pools"]]
        assert task["status"] == "completed" and "dataset" in task["system_tags"]


# ---- errors


def test_wrong_credentials_are_refused_with_our_message(server, tmp_path):
    env = server.environment(secret_key=WRONG_SECRET)
    proc = _crowdlens(tmp_path, "clearml-list", "--project", PROJECT, env=env)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "refused the credentials" in proc.stderr and "CLEARML_API_SECRET_KEY" in proc.stderr
    assert WRONG_SECRET not in proc.stderr + proc.stdout
    assert ("auth.login", 401) in server.calls


def test_a_server_error_is_a_clear_message(server, tmp_path):
    server.fail("tasks.get_all", 500)
    try:
        proc = _crowdlens(tmp_path, "clearml-list", "--project", PROJECT, env=server.environment())
    finally:
        server.clear_failures()
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "ClearML server" in proc.stderr and "500" in proc.stderr, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr


def test_an_unreachable_server_fails_fast_with_our_message(server, tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**server.environment(), "CLEARML_API_HOST": f"http://127.0.0.1:{port}"}
    proc = _crowdlens(tmp_path, "clearml-list", "--project", PROJECT, env=env)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "cannot be reached" in proc.stderr and f"127.0.0.1:{port}" in proc.stderr


# ---- the server alone


def test_the_server_runs_alone_and_keeps_what_it_is_sent(tmp_path):
    import urllib.request

    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("clearml_server.py")), "--port", "0", "--root", str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        line = proc.stdout.readline()
        url = line.split(" on ", 1)[1].split(" ", 1)[0]
        with urllib.request.urlopen(url + "/debug.ping", timeout=10) as answer:
            assert json.loads(answer.read())["meta"]["result_code"] == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert json.loads((tmp_path / "requests.jsonl").read_text().splitlines()[0])["endpoint"] == "debug.ping"
