"""The local workspace: versions, lineage, atomic writes, corrupt manifests, review decisions."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from analytics.sources.long_table import read_long_table
from analytics.sources.workspace import Workspace, lineage_order


@pytest.fixture
def small_run(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text("task,worker,label,golden\nt1,w1,x,x\nt1,w2,y,x\nt2,w1,y,\nt2,w2,y,\n")
    return read_long_table(p)


def test_add_open_roundtrip_keeps_dtypes(tmp_path, small_run):
    ws = Workspace(tmp_path / "ws")
    info = ws.add_version(small_run, name="toy", version="1")
    run = ws.open_run(info.id)
    pd.testing.assert_frame_equal(run.answers, small_run.answers)
    assert run.meta == small_run.meta
    assert (ws.root / "versions" / info.id / "files" / "answers.parquet").exists()
    assert info.metadata["answers"] == 4 and info.metadata["workers"] == 2


def test_lineage_and_prefix_lookup(tmp_path, small_run):
    ws = Workspace(tmp_path / "ws")
    a = ws.add_version(small_run, name="toy", version="1", created="2024-01-01T00:00:00Z")
    b = ws.add_version(small_run, name="toy", version="2", parents=[a.id], created="2024-01-02T00:00:00Z")
    listing = ws.listing()
    assert listing.lineage() == [(a.id, b.id)]
    assert [v.id for v in lineage_order(listing.versions)] == [a.id, b.id]
    assert ws.get(b.id[:8]).id == b.id


def test_bad_names_and_unknown_parent_write_nothing(tmp_path, small_run):
    ws = Workspace(tmp_path / "ws")
    with pytest.raises(KeyError, match="parent version"):
        ws.add_version(small_run, name="toy", version="1", parents=["nope"])
    with pytest.raises(ValueError, match="'version' parameter"):
        ws.add_version(small_run, name="toy", version=" ")
    ws.add_version(small_run, name="toy", version="1")
    with pytest.raises(ValueError, match="already exists"):
        ws.add_version(small_run, name="toy", version="1")
    assert len(ws.versions()) == 1
    assert not [p for p in (ws.root / "versions").iterdir() if p.name.startswith(".tmp")]


def test_a_failed_write_leaves_nothing(tmp_path, small_run, monkeypatch):
    ws = Workspace(tmp_path / "ws")
    import analytics.sources.workspace as w

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(w, "write_run_files", boom)
    with pytest.raises(OSError):
        ws.add_version(small_run, name="toy", version="1")
    assert ws.versions() == []
    assert list((ws.root / "versions").iterdir()) == []


def test_corrupt_manifest_hides_only_its_version(tmp_path, small_run):
    ws = Workspace(tmp_path / "ws")
    good = ws.add_version(small_run, name="toy", version="1")
    bad = ws.add_version(small_run, name="toy", version="2")
    (ws.root / "versions" / bad.id / "manifest.json").write_text("{ not json")
    listing = ws.listing()
    assert [v.id for v in listing.versions] == [good.id]
    assert len(listing.problems) == 1
    assert bad.id in listing.problems[0].fix and "manifest" in listing.problems[0].message
    assert len(ws.open_run(good.id).answers) == 4


def test_damaged_run_files_get_a_message(tmp_path, small_run):
    from analytics.model import ValidationError

    ws = Workspace(tmp_path / "ws")
    info = ws.add_version(small_run, name="toy", version="1")
    (ws.root / "versions" / info.id / "files" / "answers.parquet").unlink()
    with pytest.raises(ValidationError, match="missing answers.parquet"):
        ws.open_run(info.id)


def test_unknown_version_lists_the_known_ones(tmp_path, small_run):
    ws = Workspace(tmp_path / "ws")
    ws.add_version(small_run, name="toy", version="1")
    with pytest.raises(KeyError, match="toy 1"):
        ws.get("deadbeef")


def test_review_decisions_are_appended_and_read_back(tmp_path, small_run):
    ws = Workspace(tmp_path / "ws")
    info = ws.add_version(small_run, name="toy", version="1")
    ws.record_decision(info.id, "w1", "uphold", "ana", "<script>x</script> fast and wrong")
    ws.record_decision(info.id, "w1", "overturn", "bo", "")
    d = ws.decisions(info.id)
    assert list(d["decision"]) == ["uphold", "overturn"]
    assert d.loc[0, "note"] == "<script>x</script> fast and wrong"
    with pytest.raises(ValueError, match="'decision'"):
        ws.record_decision(info.id, "w1", "ban forever", "ana")
    # versions stay immutable: decisions live outside them
    manifest = json.loads((ws.root / "versions" / info.id / "manifest.json").read_text())
    assert "decision" not in json.dumps(manifest)


def test_default_workspace_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CROWDLENS_WORKSPACE", str(tmp_path / "elsewhere"))
    assert Workspace().root == tmp_path / "elsewhere"
