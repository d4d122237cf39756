"""A workspace one bad file cannot take down, on the pages: damaged versions and killed decision writers."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time

import pytest
from pages_util import open_page, texts

from analytics import reviews
from analytics.sources.workspace import Workspace
from dashboard.nav import SPECS

RUN_PAGES = [s.file for s in SPECS if s.file not in ("versions.py", "import_run.py")]


@pytest.fixture
def copy_of_demo(demo_workspace, tmp_path):
    root = tmp_path / "ws"
    shutil.copytree(demo_workspace.root, root)
    ws = Workspace(root)
    return ws, sorted(ws.versions(), key=lambda v: v.version)


@pytest.mark.parametrize("page", RUN_PAGES)
def test_a_truncated_parquet_file_gives_a_message_on_every_page(copy_of_demo, page):
    ws, (v10, v11, v12) = copy_of_demo
    answers = ws.files_of(v11.id) / "answers.parquet"
    answers.write_bytes(answers.read_bytes()[:100])
    params = {"annotator": "w0001", "task": "t"} if page in ("annotator.py", "task.py") else {}
    at = open_page(ws.root, page, version=v11.id[:8], **params)
    assert not at.exception, [e.value for e in at.exception]
    shown = " ".join(str(e.value) for e in at.error)
    assert "answers.parquet" in shown and "damaged" in shown.lower(), shown
    # the other versions stay usable
    other = open_page(ws.root, page, version=v12.id, **params)
    assert not other.exception, [e.value for e in other.exception]


def test_a_manifest_of_the_wrong_shape_is_flagged_and_the_others_open(copy_of_demo):
    ws, (v10, v11, v12) = copy_of_demo
    manifest = ws.versions_dir / v10.id / "manifest.json"
    doc = json.loads(manifest.read_text())
    doc["parents"] = 5
    manifest.write_text(json.dumps(doc))
    listing = ws.listing()
    assert [d.id for d in listing.damaged] == [v10.id] and len(listing.versions) == 2
    at = open_page(ws.root, "versions.py")
    assert not at.exception, [e.value for e in at.exception]
    assert "damaged" in texts(at).lower()
    at = open_page(ws.root, "overview.py", version=v12.id)
    assert not at.exception and not at.error, [e.value for e in at.error]


def _write_until_killed(root, version_id: str) -> None:  # pragma: no cover - runs in a child
    for i in range(10**6):
        reviews.record_decision(root, version_id, f"w{i % 7:04d}", "uphold", "qa", "n" * 20000)


def test_the_annotators_page_renders_after_killed_writers(copy_of_demo):
    ws, (_, v11, _) = copy_of_demo
    reviews.record_decision(ws, v11.id, "w0001", "overturn", "ana", "before the kills")
    for delay in (0.05, 0.1, 0.15, 0.2, 0.3):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            try:
                _write_until_killed(ws.root, v11.id)
            finally:
                os._exit(1)
        time.sleep(delay)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    d = reviews.decisions(ws, v11.id)
    assert d.iloc[0]["note"] == "before the kills"
    at = open_page(ws.root, "annotators.py", version=v11.id)
    assert not at.exception and not at.error, [e.value for e in at.error]
