"""The local workspace: versions, lineage, atomic writes, corrupt manifests, the ClearML id record."""

from __future__ import annotations

import pandas as pd
import pytest

from analytics.sources.long_table import read_long_table
from analytics.sources.store import DamagedVersionError, VersionLookupError
from analytics.sources.workspace import Workspace, lineage_order
from analytics.versions import import_run


@pytest.fixture
def small_run(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text("task,worker,label,golden\nt1,w1,x,x\nt1,w2,y,x\nt2,w1,y,\nt2,w2,y,\n")
    return read_long_table(p)


def test_add_open_roundtrip_keeps_dtypes(tmp_path, small_run):
    ws = Workspace(tmp_path / "ws")
    info = import_run(ws, small_run, name="toy", version="1")
    run = ws.open_run(info.id)
    pd.testing.assert_frame_equal(run.answers, small_run.answers)
    assert run.meta == small_run.meta
    assert (ws.root / "versions" / info.id / "files" / "answers.parquet").exists()
    assert info.metadata["answers"] == 4 and info.metadata["workers"] == 2
    assert ws.get(info.id).metadata == info.metadata


def test_add_version_stores_only_what_it_is_given(tmp_path, small_run):
    ws = Workspace(tmp_path / "ws")
    info = ws.add_version(small_run, name="toy", version="1", metadata={"description": "d"})
    assert set(info.metadata) == {"description", "files"}
    assert set(info.metadata["files"]) == {"answers.parquet", "tasks.parquet", "restrictions.parquet", "run.json"}


def test_import_run_resolves_parent_prefixes(tmp_path, small_run):
    ws = Workspace(tmp_path / "ws")
    a = import_run(ws, small_run, name="toy", version="1")
    b = import_run(ws, small_run, name="toy", version="2", parents=[a.id[:8]])
    assert b.parents == (a.id,)
    with pytest.raises(VersionLookupError, match="no dataset version with id 'ffff'"):
        import_run(ws, small_run, name="toy", version="3", parents=["ffff"])


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
    with pytest.raises(ValueError, match="'parents' parameter of add_version must be a lower-case hex id"):
        ws.add_version(small_run, name="toy", version="1", parents=["nope"])
    with pytest.raises(VersionLookupError, match="parent version"):
        ws.add_version(small_run, name="toy", version="1", parents=["ab" * 16])
    with pytest.raises(ValueError, match="'version_id' parameter"):
        ws.add_version(small_run, name="toy", version="1", version_id="../../../tmp/x")
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
    assert len(listing.problems) == 1 and len(listing.damaged) == 1
    assert bad.id in listing.problems[0].fix and "manifest" in listing.problems[0].message
    assert listing.damaged[0].id == bad.id and listing.damaged[0].file.endswith("manifest.json")
    assert len(ws.open_run(good.id).answers) == 4
    with pytest.raises(DamagedVersionError, match="manifest cannot be read"):
        ws.open_run(bad.id)


def test_damaged_run_files_get_a_message(tmp_path, small_run):
    from analytics.model import ValidationError

    ws = Workspace(tmp_path / "ws")
    info = ws.add_version(small_run, name="toy", version="1")
    (ws.root / "versions" / info.id / "files" / "answers.parquet").unlink()
    with pytest.raises(ValidationError, match="answers.parquet is missing"):
        ws.open_run(info.id)


def test_unknown_version_lists_the_known_ones(tmp_path, small_run):
    ws = Workspace(tmp_path / "ws")
    ws.add_version(small_run, name="toy", version="1")
    with pytest.raises(VersionLookupError, match="toy 1"):
        ws.get("deadbeef")
    with pytest.raises(VersionLookupError, match="is not a version id"):
        ws.get("../x")


def test_the_clearml_id_record_lives_beside_the_versions(tmp_path, small_run):
    ws = Workspace(tmp_path / "ws")
    info = ws.add_version(small_run, name="toy", version="1")
    manifest = (ws.root / "versions" / info.id / "manifest.json").read_bytes()
    cid = "c" * 32
    path = ws.record_remote(info.id, cid, clearml_project="p", how="published")
    assert path == ws.root / "clearml" / f"{info.id}.json" == ws.remote_record_path(info.id)
    assert ws.remote_id(info.id) == cid and ws.local_id(cid) == info.id
    assert ws.remote_id("d" * 32) is None and ws.local_id("d" * 32) is None
    assert (ws.root / "versions" / info.id / "manifest.json").read_bytes() == manifest  # versions stay immutable
    assert ws.files_of(info.id[:8]) == ws.root / "versions" / info.id / "files"
    with pytest.raises(ValueError, match="lower-case hex id"):
        ws.record_remote("../../x", cid)


def test_default_workspace_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CROWDLENS_WORKSPACE", str(tmp_path / "elsewhere"))
    assert Workspace().root == tmp_path / "elsewhere"


def test_tasks_keep_their_task_id_index_through_a_round_trip(tmp_path):
    import dataclasses

    from toloka_fixtures import write_tsv

    from analytics.sources.toloka_tsv import read_toloka_tsv

    run = read_toloka_tsv(write_tsv(tmp_path / "r.tsv"))
    assert run.tasks.index.name == "task_id"
    ws = Workspace(tmp_path / "ws")
    back = ws.open_run(import_run(ws, run, name="toy", version="1").id)
    assert back.tasks.index.name == "task_id" and back.tasks.index.dtype == "str"
    pd.testing.assert_frame_equal(back.tasks, run.tasks)
    # a run whose tasks index lost its name in memory (e.g. after a user's reset/set_index)
    # is still stored under task_id and comes back named
    unnamed = dataclasses.replace(run, tasks=run.tasks.rename_axis(None))
    back = ws.open_run(import_run(ws, unnamed, name="toy", version="2").id)
    assert back.tasks.index.name == "task_id"
    assert list(back.tasks.index) == list(run.tasks.index) and back.tasks.loc["t1", "image"] == "http://img/1.jpg"


def test_a_tasks_file_with_task_id_as_pandas_index_is_read(tmp_path, small_run):
    from analytics.sources.workspace import read_run_files, write_run_files

    folder = tmp_path / "files"
    write_run_files(small_run, folder)
    # written by pandas with the index kept (task_id as the index in the file's metadata)
    pd.DataFrame({"image": ["a", "b"]}, index=pd.Index(["t1", "t2"], name="task_id")).to_parquet(
        folder / "tasks.parquet"
    )
    tasks = read_run_files(folder).tasks
    assert tasks.index.name == "task_id" and list(tasks.index) == ["t1", "t2"]


def test_merged_runs_keep_the_label_field_they_agree_on(tmp_path):
    import dataclasses

    from toloka_fixtures import write_tsv

    from analytics.model import merge_runs
    from analytics.sources.toloka_tsv import read_toloka_tsv

    a = read_toloka_tsv(write_tsv(tmp_path / "main.tsv"))
    assert a.meta.label_field == "result"
    # the same answers as another pool's
    renamed = {c: a.answers[c].cat.rename_categories(lambda x: x + "-b") for c in ("pool_id", "assignment_id")}
    b = dataclasses.replace(a, answers=a.answers.assign(**renamed))
    merged = merge_runs([a, b])
    assert merged.meta.label_field == "result"
    # a meta given without a label field does not drop the inputs' one
    assert merge_runs([a, b], meta=dataclasses.replace(a.meta, label_field=None)).meta.label_field == "result"
    # runs answering different output fields: no single label field
    other = dataclasses.replace(b, meta=dataclasses.replace(b.meta, label_field="comment"))
    assert merge_runs([a, other]).meta.label_field is None
    ws = Workspace(tmp_path / "ws")
    assert ws.open_run(import_run(ws, merged, name="toy", version="1").id).meta.label_field == "result"
