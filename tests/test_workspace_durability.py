"""A workspace one bad file cannot take down (issue #11): damaged versions, duplicate ids, exclusive imports.

Each damaged manifest or run file makes only its own version damaged, with the reason and the
file; the others stay usable. Concurrent imports of one name and version give one version;
the unfinished folder of a killed import is removed by the next listing or import, which says so.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analytics.sources.long_table import read_long_table
from analytics.sources.store import DamagedVersionError, VersionLookupError
from analytics.sources.workspace import Workspace
from analytics.versions import import_run

ROOT = Path(__file__).resolve().parents[1]
CSV = "task,worker,label,golden\nt1,w1,x,x\nt1,w2,y,x\nt2,w1,y,\nt2,w2,y,\n"


@pytest.fixture
def small_run(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text(CSV)
    return read_long_table(p)


@pytest.fixture
def two(tmp_path, small_run):
    """A workspace with a good version and a second one the test damages."""
    ws = Workspace(tmp_path / "ws")
    good = import_run(ws, small_run, name="toy", version="1", created="2024-01-01T00:00:00Z")
    bad = import_run(ws, small_run, name="toy", version="2", parents=[good.id], created="2024-01-02T00:00:00Z")
    return ws, good, bad


def _edit_manifest(ws: Workspace, vid: str, change) -> Path:
    path = ws.root / "versions" / vid / "manifest.json"
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))
    return path


def _assert_only_damaged(ws: Workspace, good, bad_id: str, *, file: str, reason: str):
    listing = ws.listing()
    assert [v.id for v in listing.versions] == [good.id]
    (d,) = listing.damaged
    assert d.id == bad_id and d.file.endswith(file) and reason in d.reason, d
    assert str(ws.root / "versions" / bad_id) in d.fix
    assert any(bad_id in p.message and reason in p.message for p in listing.problems)
    assert len(ws.open_run(good.id).answers) == 4  # the others stay usable
    return d


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda d: d.update(parents=5), "parents must be a list of version ids or null; it is the number 5"),
        (lambda d: d.update(metadata=5), "metadata must be an object or null; it is the number 5"),
        (lambda d: d.update(metadata=[1, 2]), "metadata must be an object or null; it is a list of 2 items"),
        (lambda d: d["metadata"].update(answers="many"), "metadata.answers must be a whole number >= 0 or null"),
        (lambda d: d["metadata"]["headline"].update(annotators="x"), "metadata.headline.annotators must be"),
        (lambda d: d.update(id="../../../tmp/x"), "id '../../../tmp/x' is not a lower-case hex id"),
        (lambda d: d.update(id="0" * 32), f"id {'0' * 32} is not the name of its folder"),
        (lambda d: d.update(name=None), "name must be text"),
        (lambda d: d["metadata"]["files"].update({"../x": {"bytes": 1, "sha256": "0" * 64}}), "not a plain file name"),
    ],
    ids=[
        "parents-5",
        "metadata-5",
        "metadata-list",
        "answers-many",
        "headline",
        "id-path",
        "id-folder",
        "name",
        "file",
    ],
)
def test_a_bad_manifest_damages_only_its_version(two, change, reason):
    ws, good, bad = two
    _edit_manifest(ws, bad.id, change)
    d = _assert_only_damaged(ws, good, bad.id, file="manifest.json", reason=reason)
    assert d.info is None
    with pytest.raises(DamagedVersionError, match="manifest.json") as err:
        ws.open_run(bad.id)
    assert err.value.damaged == d and isinstance(err.value, ValueError)
    with pytest.raises(DamagedVersionError):
        ws.get(bad.id[:8])  # a damaged version's prefix says it is damaged, not unknown


def test_an_id_is_never_used_as_a_path(two, tmp_path):
    ws, good, bad = two
    _edit_manifest(ws, bad.id, lambda d: d.update(id="../../../tmp/x"))
    for call in (ws.get, ws.open_run, ws.files_of):
        with pytest.raises(VersionLookupError, match="is not a version id"):
            call("../../../tmp/x")
    with pytest.raises(ValueError, match="lower-case hex id"):
        ws.record_remote("../../../tmp/x", "c" * 32)
    assert ws.remote_id("../../../tmp/x") is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "ws"]


def test_run_json_with_a_wrong_meta_is_damaged(two):
    ws, good, bad = two
    (ws.root / "versions" / bad.id / "files" / "run.json").write_text(json.dumps({"format": "x", "meta": 5}))
    # the manifest's size of run.json no longer matches either: drop it to see the run.json check itself
    _edit_manifest(ws, bad.id, lambda d: d["metadata"]["files"].pop("run.json"))
    d = _assert_only_damaged(ws, good, bad.id, file="run.json", reason="meta must be an object or null")
    assert d.info is not None and d.info.label == "toy 2"
    with pytest.raises(DamagedVersionError, match="run.json"):
        ws.open_run(bad.id)


@pytest.mark.parametrize("how", ["deleted", "truncated", "truncated-no-sizes"])
def test_a_missing_or_truncated_parquet_file_is_damaged(two, how):
    ws, good, bad = two
    path = ws.root / "versions" / bad.id / "files" / "answers.parquet"
    if how == "deleted":
        path.unlink()
        reason = "answers.parquet is missing"
    else:
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        reason = "cut short"
        if how == "truncated-no-sizes":  # an older manifest without sizes: the Parquet footer tells
            _edit_manifest(ws, bad.id, lambda d: d["metadata"].pop("files"))
            reason = "not a whole Parquet file"
    _assert_only_damaged(ws, good, bad.id, file="answers.parquet", reason=reason)
    with pytest.raises(DamagedVersionError, match="answers.parquet") as err:
        ws.open_run(bad.id)
    assert "import the run again" in str(err.value)


def test_a_changed_byte_is_caught_on_open_by_the_sha256(two):
    ws, good, bad = two
    path = ws.root / "versions" / bad.id / "files" / "tasks.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    assert len(ws.listing().versions) == 2  # the listing's checks are cheap: sizes and Parquet ends
    with pytest.raises(DamagedVersionError, match="tasks.parquet does not have the sha256"):
        ws.open_run(bad.id)


def test_two_folders_with_the_same_id_are_reported(two):
    ws, good, bad = two
    copy = "f" * 32
    shutil.copytree(ws.root / "versions" / good.id, ws.root / "versions" / copy)
    listing = ws.listing()
    assert sorted(v.id for v in listing.versions) == sorted([good.id, bad.id])
    (d,) = listing.damaged
    assert d.id == copy and f"a copy of version {good.id}" in d.reason
    assert len(listing.versions) + len(listing.damaged) == 3  # what a header should count
    assert ws.get(good.id[:8]).id == good.id


def test_two_versions_with_one_name_and_version_are_warned_about(two):
    ws, good, bad = two
    _edit_manifest(ws, bad.id, lambda d: d.update(version="1"))
    listing = ws.listing()
    assert len(listing.versions) == 2
    assert any("2 versions are called toy 1" in p.message and p.severity == "warning" for p in listing.problems)


# ---- exclusive, atomic imports

_IMPORT = """
import sys, time
from pathlib import Path
import analytics.sources.workspace as w
from analytics.sources.long_table import read_long_table
from analytics.sources.workspace import Workspace
from analytics.versions import import_run
root, csv, go = sys.argv[1:4]
run = read_long_table(csv)
real = w.write_run_files
def slow(run, folder):
    time.sleep(1.5)  # a large run: every import passes the first check before any renames its folder
    return real(run, folder)
w.write_run_files = slow
while not Path(go).exists():
    time.sleep(0.01)
try:
    info = import_run(Workspace(root), run, name="same", version="1.0.0")
    print("OK", info.id)
except ValueError as err:
    print("REFUSED", err)
"""


def _python(script: str, *args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", script, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw
    )


def test_concurrent_imports_of_one_name_and_version_give_one_version(tmp_path):
    (tmp_path / "a.csv").write_text(CSV)
    root, go = tmp_path / "ws", tmp_path / "go"
    procs = [_python(_IMPORT, str(root), str(tmp_path / "a.csv"), str(go)) for _ in range(4)]
    time.sleep(0.5)
    go.touch()
    outs = [p.communicate(timeout=300) for p in procs]
    results = [out.strip() for out, _ in outs]
    assert all(p.returncode == 0 for p in procs), [err[-2000:] for _, err in outs]
    ok = [r for r in results if r.startswith("OK")]
    refused = [r for r in results if r.startswith("REFUSED")]
    assert len(ok) == 1 and len(refused) == 3, results
    assert all("a version same 1.0.0 already exists" in r and "choose a new version number" in r for r in refused)
    listing = Workspace(root).listing()
    assert [v.id for v in listing.versions] == [ok[0].split()[1]] and listing.damaged == ()
    assert [p.name for p in (root / "versions").iterdir()] == [ok[0].split()[1]]  # no temporary folder left


_KILLED = """
import sys, time
import analytics.sources.workspace as w
from analytics.sources.long_table import read_long_table
from analytics.versions import import_run
real = w.write_run_files
def slow(run, folder):
    files = real(run, folder)
    print("WRITTEN", flush=True)
    time.sleep(600)  # killed here, mid-import
    return files
w.write_run_files = slow
import_run(w.Workspace(sys.argv[1]), read_long_table(sys.argv[2]), name="toy", version="1")
"""


def test_a_killed_import_is_cleaned_up_by_the_next_listing(tmp_path, small_run):
    (tmp_path / "a.csv").write_text(CSV)
    root = tmp_path / "ws"
    child = _python(_KILLED, str(root), str(tmp_path / "a.csv"))
    try:
        assert child.stdout.readline().strip() == "WRITTEN", child.stderr.read()[-2000:]
        (tmp,) = (root / "versions").iterdir()
        assert tmp.name.startswith(".tmp-") and (tmp / ".writer").read_text() == str(child.pid)
        ws = Workspace(root)
        listing = ws.listing()  # the import is still running: its folder is not touched
        assert listing.versions == () and listing.problems == () and tmp.exists()
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=60)
    listing = ws.listing()
    assert not tmp.exists() and listing.versions == ()
    (notice,) = listing.problems
    assert notice.severity == "warning" and f"process {child.pid}" in notice.message and "removed" in notice.message
    assert ws.listing().problems == ()  # said once
    assert import_run(ws, small_run, name="toy", version="1").label == "toy 1"


def test_leftovers_of_dead_imports_are_removed_by_the_next_import(tmp_path, small_run):
    ws = Workspace(tmp_path / "ws")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    left = ws.versions_dir / ".tmp-abc-1"
    (left / "files").mkdir(parents=True)
    (left / ".writer").write_text(dead.stdout.strip())
    old = ws.versions_dir / ".tmp-old"  # an older crowdlens left no pid: removed once it is old
    old.mkdir()
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    fresh = ws.versions_dir / ".tmp-fresh"  # just created by an import that has not written its pid yet
    fresh.mkdir()
    info = import_run(ws, small_run, name="toy", version="1")
    assert sorted(p.name for p in ws.versions_dir.iterdir()) == sorted([".tmp-fresh", info.id])
    assert [v.id for v in ws.listing().versions] == [info.id]
