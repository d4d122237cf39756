"""The dashboard on a ClearML project (dashboard/sources.py) through the real ``clearml`` SDK over HTTP.

The loopback stand-in server (tests/clearml_server.py) runs in a thread of this process; the demo's
three versions are published to it with analytics.versions.publish, then a small page using
``sources`` runs under AppTest, all in a subprocess (the SDK keeps a process-wide session) with a
socket guard that refuses any connection not to 127.0.0.1. The page lists the project's versions
with their lineage, opens one (the same answers as the local run), opens it again without a
download (cached by id, in the session and on disk), compares it with its parent, builds the web
links, and never shows the secret key.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from analytics.sources.store import VersionInfo
from analytics.sources.workspace import Workspace, lineage_order
from dashboard import sources

pytest.importorskip("clearml")
from clearml_server import DEFAULT_SECRET_KEY, ClearMLServer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PROJECT = "crowdlens-dashboard-tests"
WRONG_SECRET = "wrong-dashboard-s3cr3t"

pytestmark = pytest.mark.usefixtures("loopback_only")

# the page the subprocess runs under AppTest: what `sources` gives, kept in st.session_state["out"]
PAGE = """
import streamlit as st
from dashboard import sources

source = sources.source_picker()
ls = sources.listing()
for p in ls.problems:
    st.warning(p.message + " " + p.fix)
out = {
    "source": source.key,
    "params": source.params(),
    "url": dict(st.query_params.to_dict()),
    "versions": [[v.id, v.name, v.version, list(v.parents), v.source] for v in ls.versions],
    "links": {v.id: sources.clearml_link(v) for v in ls.versions},
    "problems": [p.message + " " + p.fix for p in ls.problems],
}
if ls.versions:
    newest = ls.versions[-1]
    run = sources.open_run(newest.id[:8])  # a prefix, as in a pasted link
    store = sources.current_store()
    out["same_object"] = sources.open_run(newest.id) is run and store.open_run(newest.id) is run
    out["store_get"] = store.get(newest.id[:8]).id
    out["run"] = {"answers": len(run.answers), "version_id": newest.id}
    run.answers.to_parquet(st.session_state["answers_file"])
    diff = sources.version_diff(newest.id, newest.parents[0])
    out["diff"] = {"parent": diff.parent_id, "answers_added": diff.answers_added, "labels": diff.labels_changed}
    figures = sources.lineage_figures("cost_per_label")
    out["figures"] = {i: [r["source"], r["text"]] for i, r in figures.iterrows()}
st.caption(sources.describe())
st.session_state["out"] = out
"""

# publish the demo (first argument: its workspace), then run PAGE three times; prints one JSON line
SCRIPT = """
import json, os, socket, sys
real_connect = socket.socket.connect
def connect(self, address):
    if isinstance(address, tuple) and address[0] not in ("127.0.0.1", "::1"):
        raise OSError(f"test guard: connection to {address!r} refused (tests reach 127.0.0.1 only)")
    return real_connect(self, address)
socket.socket.connect = connect

import streamlit as st
from streamlit.testing.v1 import AppTest
import clearml
from analytics.sources.clearml_store import ClearMLStore
from analytics.sources.workspace import Workspace, lineage_order
from analytics.versions import publish

ws_root, project, page, answers_file, do_publish = sys.argv[1:6]
if do_publish == "1":
    ws = Workspace(ws_root)
    publish(ws, ClearMLStore(project), lineage_order(ws.versions())[-1].id, with_parents=True, reports=False)

downloads = []
real_copy = clearml.Dataset.get_local_copy
def counting_copy(self, *args, **kwargs):
    downloads.append(self.id)
    return real_copy(self, *args, **kwargs)
clearml.Dataset.get_local_copy = counting_copy

def texts(at):
    parts = []
    for kind in ("markdown", "caption", "info", "warning", "error", "text", "exception"):
        parts += [str(e.value) for e in getattr(at, kind)]
    for w in list(at.text_input) + list(at.radio):
        parts += [str(w.label), str(w.value), str(getattr(w, "help", "") or "")]
    parts += [str(o) for r in at.radio for o in r.options]
    return "\\n".join(parts)

results = []
for clear in (False, False, True):
    if clear:  # a new server process: nothing in memory, the files on disk by id
        st.cache_data.clear()
        st.cache_resource.clear()
    at = AppTest.from_string(page, default_timeout=120)
    at.query_params["source"] = "clearml"
    at.query_params["project"] = project
    at.session_state["answers_file"] = answers_file
    at.run()
    out = dict(at.session_state["out"]) if "out" in at.session_state else {}
    out["exceptions"] = [str(e.value) for e in at.exception]
    out["texts"] = texts(at)
    out["downloads"] = list(downloads)
    results.append(out)

# the real dashboard's Versions page on the ClearML source
app = AppTest.from_file(os.path.join(os.environ["PYTHONPATH"], "dashboard", "app.py"), default_timeout=120)
app.run()
app.switch_page("views/versions.py")
app.query_params["source"] = "clearml"
app.query_params["project"] = project
app.run()
versions_page = {
    "exceptions": [str(e.value) for e in app.exception],
    "texts": texts(app),
    "tables": [list(map(str, d.value.get("id", []))) for d in app.dataframe if "id" in d.value.columns],
    "links": [list(map(str, d.value["ClearML"])) for d in app.dataframe if "ClearML" in d.value.columns],
}
print(json.dumps({"pages": results, "versions_page": versions_page}, default=str))
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with ClearMLServer(tmp_path_factory.mktemp("clearml-dashboard-server")) as s:
        yield s


def _run(tmp: Path, ws: Workspace, env: dict[str, str], *, publish: bool, versions_page: bool = False):
    home = tmp / "home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "empty-clearml.conf").touch()
    full_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "PYTHONPATH": str(ROOT),
        "CLEARML_CONFIG_FILE": str(home / "empty-clearml.conf"),
        "CROWDLENS_CACHE": str(tmp / "crowdlens-cache"),
        "CROWDLENS_WORKSPACE": str(tmp / "no-local-workspace"),
        "TQDM_DISABLE": "1",
        **env,
    }
    args = [str(ws.root), PROJECT, PAGE, str(tmp / "answers.parquet"), "1" if publish else "0"]
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, *args], env=full_env, cwd=tmp, capture_output=True, text=True, timeout=420
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    done = json.loads(proc.stdout.strip().splitlines()[-1])
    return (done["pages"], done["versions_page"]) if versions_page else done["pages"]


@pytest.fixture(scope="module")
def published(server, demo_workspace, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dashboard-clearml")
    ws = Workspace(tmp / "ws")
    shutil.copytree(demo_workspace.root, ws.root)
    results, versions_page = _run(tmp, ws, server.environment(), publish=True, versions_page=True)
    return {"ws": ws, "tmp": tmp, "results": results, "versions_page": versions_page}


def test_the_versions_page_browses_the_clearml_project(published):
    """The real dashboard's Versions page with ?source=clearml&project=…: the project's versions,
    each linking to its ClearML page, no exception and no secret."""
    ws, page = published["ws"], published["versions_page"]
    assert page["exceptions"] == []
    shown = [i for table in page["tables"] for i in table]
    assert sorted(shown) == sorted(ws.remote_id(v.id) for v in ws.versions())
    links = [u for table in page["links"] for u in table]
    assert links and all("/datasets/simple/" in u for u in links)
    assert DEFAULT_SECRET_KEY not in page["texts"]


def test_the_project_is_listed_with_its_lineage(published):
    ws, first = published["ws"], published["results"][0]
    assert first["exceptions"] == [] and first["problems"] == []
    assert first["source"] == f"clearml:{PROJECT}" and first["url"]["source"] == "clearml"
    local = lineage_order(ws.versions())
    ids = [ws.remote_id(v.id) for v in local]
    assert [row[0] for row in first["versions"]] == ids
    assert [(row[1], row[2]) for row in first["versions"]] == [(v.name, v.version) for v in local]
    assert [row[3] for row in first["versions"]] == [[], [ids[0]], [ids[1]]]
    assert {row[4] for row in first["versions"]} == {"clearml"}
    assert f"ClearML project `{PROJECT}`" in first["texts"] and "3 version(s)" in first["texts"]


def test_a_version_opens_as_the_local_run(published):
    import pandas as pd

    ws, first = published["ws"], published["results"][0]
    newest = lineage_order(ws.versions())[-1]
    assert first["run"]["version_id"] == ws.remote_id(newest.id) == first["store_get"]
    pd.testing.assert_frame_equal(pd.read_parquet(published["tmp"] / "answers.parquet"), ws.open_run(newest.id).answers)
    # the lineage diff and the lineage figures work on the ClearML source too
    assert first["diff"]["parent"] == ws.remote_id(newest.parents[0]) and first["diff"]["answers_added"] == 90
    assert {src for src, _ in first["figures"].values()} == {"manifest"}  # nothing downloaded for the graph
    assert all(text.endswith("USD") for _, text in first["figures"].values())


def test_a_version_is_downloaded_once_and_then_cached_by_id(published):
    first, second, fresh = published["results"]
    # the first run downloads the newest version and its parent (for the diff): once each
    assert sorted(first["downloads"]) == sorted({first["run"]["version_id"], first["diff"]["parent"]})
    assert first["same_object"]  # the same Run every time in a session
    assert second["downloads"] == first["downloads"]  # the next rerun: from memory
    assert fresh["downloads"] == first["downloads"]  # caches cleared: from the files cached by id
    assert fresh["run"] == first["run"] and fresh["exceptions"] == []


def test_each_version_links_to_its_clearml_page(published, server):
    first = published["results"][0]
    for vid, link in first["links"].items():
        assert link == f"{server.url}/datasets/simple/*/experiments/{vid}"


def test_the_secret_key_is_never_shown(published, server, tmp_path):
    for out in published["results"]:
        assert DEFAULT_SECRET_KEY not in json.dumps(out)
    assert "never shown" in published["results"][0]["texts"]
    # refused credentials: the listing is a problem that says why, without the secret
    refused = _run(tmp_path, published["ws"], server.environment(secret_key=WRONG_SECRET), publish=False)[0]
    assert refused["exceptions"] == [] and refused["versions"] == []
    assert refused["problems"] and "credentials" in refused["problems"][0]
    assert WRONG_SECRET not in json.dumps(refused)


# ---- without a server


def test_the_web_host_comes_from_the_settings_or_the_api_host(monkeypatch):
    for var in ("CLEARML_WEB_HOST", "CLEARML_API_HOST"):
        monkeypatch.delenv(var, raising=False)
    assert sources.web_host() is None
    monkeypatch.setenv("CLEARML_API_HOST", "https://api.clear.ml")
    assert sources.web_host() == "https://app.clear.ml"
    monkeypatch.setenv("CLEARML_API_HOST", "http://clearml.internal:8008")
    assert sources.web_host() == "http://clearml.internal:8080"
    monkeypatch.setenv("CLEARML_WEB_HOST", "https://me:pw@clearml.example.org/")
    assert sources.web_host() == "https://clearml.example.org"  # never a password in a link
    info = VersionInfo(id="a" * 32, name="n", version="1", source="clearml")
    assert sources.clearml_link(info) == f"https://clearml.example.org/datasets/simple/*/experiments/{'a' * 32}"


def test_a_local_version_links_to_clearml_only_once_published(demo_workspace, monkeypatch):
    monkeypatch.setenv("CLEARML_WEB_HOST", "http://127.0.0.1:1")
    local = sources.Source(sources.LOCAL, str(demo_workspace.root))
    v = demo_workspace.versions()[0]
    assert sources.clearml_link(v, local) is None
    assert sources.of_key(local.key) == local and local.params() == {}
    assert sources.Source(sources.CLEARML, "p").params() == {"source": "clearml", "project": "p"}
