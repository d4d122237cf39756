"""The ClearML adapter against a stand-in with the SDK's signatures, and the real SDK's errors offline.

Nothing here contacts a host other than 127.0.0.1: every test runs with non-loopback
connections refused, and the real-SDK tests run in a subprocess with the same guard.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import shutil
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from clearml_standin import (
    LIST_DATASETS_KEYS,
    USED_LOGGER_METHODS,
    USED_METHODS,
    USED_PROPERTIES,
    StandInDataset,
    StandInLogger,
    standin_dataset_class,
)

from analytics.sources.clearml_store import (
    ClearMLError,
    ClearMLStore,
    MissingParentError,
)
from analytics.sources.long_table import read_long_table
from analytics.sources.store import DamagedVersionError, VersionLookupError
from analytics.sources.workspace import Workspace, lineage_order
from analytics.versions import clearml_id_of, clearml_reports, import_run, publish, pull

ROOT = Path(__file__).resolve().parents[1]
SECRET = "s3cr3t-Value-never-shown"
ACCESS = "AKEY-never-shown"
PROJECT = "crowdlens-tests"


pytestmark = pytest.mark.usefixtures("loopback_only")


@pytest.fixture(autouse=True)
def _quick_reports(request, monkeypatch):
    """The version page's figures take seconds per version: the tests not about them report a summary only."""
    if "real_reports" in request.fixturenames:
        return
    monkeypatch.setattr(
        clearml_reports,
        "version_reports",
        lambda run, **kw: [clearml_reports.Report("table", "Summary", "figures", pd.DataFrame({"field": ["x"]}))],
    )


@pytest.fixture
def real_reports():
    """Marks a test that computes the version page's figures."""


@pytest.fixture
def ws(demo_workspace, tmp_path) -> Workspace:
    """A private copy of the demo workspace (publishing writes records beside its versions)."""
    root = tmp_path / "ws"
    shutil.copytree(demo_workspace.root, root)
    return Workspace(root)


@pytest.fixture
def Dataset(tmp_path):
    return standin_dataset_class(tmp_path / "server")


@pytest.fixture
def store(Dataset, tmp_path) -> ClearMLStore:
    return ClearMLStore(project=PROJECT, dataset_cls=Dataset, cache_dir=tmp_path / "cache")


def _chain(ws: Workspace):
    return lineage_order(ws.versions())


def _calls(Dataset, method):
    return [c for c in Dataset.server.calls if c[0] == method]


# ---- publish


def test_publish_sends_name_version_parents_files_and_metadata(ws, store, Dataset):
    v1, v2, v3 = _chain(ws)
    manifests_before = {v.id: (Path(v.path) / "manifest.json").read_bytes() for v in (v1, v2, v3)}
    ids = [publish(ws, store, v.id) for v in (v1, v2, v3)]

    creates = _calls(Dataset, "create")
    assert [c[2]["dataset_name"] for c in creates] == ["food-types"] * 3
    assert [c[2]["dataset_version"] for c in creates] == ["1.0.0", "1.1.0", "1.2.0"]
    assert [c[2]["dataset_project"] for c in creates] == [PROJECT] * 3
    assert [c[2]["parent_datasets"] for c in creates] == [[], [ids[0]], [ids[1]]]
    assert all("crowdlens" in c[2]["dataset_tags"] and "simulated" in c[2]["dataset_tags"] for c in creates)
    assert [c[2]["path"] for c in _calls(Dataset, "add_files")] == [str(Path(v.path) / "files") for v in (v1, v2, v3)]

    # per dataset: create -> add_files -> set_metadata -> upload -> finalize, in that order
    for cid in ids:
        seq = [
            c[0]
            for c in Dataset.server.calls
            if c[1] == cid and c[0] in ("add_files", "set_metadata", "upload", "report_table", "finalize")
        ]
        assert seq == ["add_files", "set_metadata", "set_metadata", "upload", "report_table", "finalize"]

    for v, cid in zip((v1, v2, v3), ids, strict=True):
        ds = Dataset.get(dataset_id=cid)
        assert ds.is_final() and ds.name == "food-types" and ds.version == v.version and ds.project == PROJECT
        assert ds.list_files() == sorted(v.metadata["files"])
        md = ds.get_metadata()
        assert md == json.loads(manifests_before[v.id])  # the manifest, unchanged
        for key in (
            "annotation_cost",
            "currency",
            "pools",
            "instructions",
            "language",
            "answers",
            "tasks",
            "workers",
            "assignments",
        ):
            assert md["metadata"][key] == v.metadata[key]
        summary = ds.get_metadata(metadata_name="summary").set_index("field")["value"]
        assert summary["annotation cost"] == f"{v.metadata['annotation_cost']:.4f} USD"
        assert ds.get_dependency_graph()[cid] == ([] if v is v1 else [ids[(v1, v2, v3).index(v) - 1]])
        assert clearml_id_of(ws, v.id) == cid
    # versions are immutable: publishing records ids beside them, never in a manifest
    assert {v.id: (Path(v.path) / "manifest.json").read_bytes() for v in (v1, v2, v3)} == manifests_before
    assert sorted(p.name for p in (ws.root / "clearml").iterdir()) == sorted(f"{v.id}.json" for v in (v1, v2, v3))


def test_publishing_a_child_before_its_parent_is_a_clear_error(ws, store, Dataset):
    v1, v2, _ = _chain(ws)
    with pytest.raises(MissingParentError) as err:
        publish(ws, store, v2.id)
    msg = str(err.value)
    assert (
        "food-types 1.0.0" in msg and v1.id in msg and "Publish the parent first" in msg and "with_parents=True" in msg
    )
    assert _calls(Dataset, "create") == []
    assert clearml_id_of(ws, v2.id) is None


def test_with_parents_publishes_the_chain_oldest_first(ws, store, Dataset):
    v1, v2, v3 = _chain(ws)
    cid = publish(ws, store, v3.id, with_parents=True)
    creates = _calls(Dataset, "create")
    assert [c[2]["dataset_version"] for c in creates] == ["1.0.0", "1.1.0", "1.2.0"]
    ids = [clearml_id_of(ws, v.id) for v in (v1, v2, v3)]
    assert ids[2] == cid
    assert [c[2]["parent_datasets"] for c in creates] == [[], [ids[0]], [ids[1]]]


def test_publishing_again_uploads_nothing(ws, store, Dataset):
    v1 = _chain(ws)[0]
    first = publish(ws, store, v1.id)
    n = len(Dataset.server.calls)
    assert publish(ws, store, v1.id) == first
    assert [c[0] for c in Dataset.server.calls[n:]] == ["get"]  # only a check that the dataset is still there
    assert len(_calls(Dataset, "create")) == 1 and len(_calls(Dataset, "upload")) == 1


def test_a_lost_record_is_recovered_not_duplicated(ws, store, Dataset):
    v1 = _chain(ws)[0]
    cid = publish(ws, store, v1.id)
    (ws.root / "clearml" / f"{v1.id}.json").unlink()
    assert publish(ws, store, v1.id) == cid
    assert len(_calls(Dataset, "create")) == 1
    assert clearml_id_of(ws, v1.id) == cid


def test_another_dataset_with_the_same_name_and_version_is_refused(ws, store, Dataset, tmp_path):
    v1 = _chain(ws)[0]
    other = Dataset.create(dataset_name="food-types", dataset_project=PROJECT, dataset_version="1.0.0")
    (tmp_path / "x.txt").write_text("x")
    other.add_files(str(tmp_path / "x.txt"))
    other.upload()
    other.finalize()
    with pytest.raises(ClearMLError, match="already has a dataset food-types 1.0.0"):
        publish(ws, store, v1.id)
    assert len(_calls(Dataset, "create")) == 1  # only the other one


def test_a_childs_version_does_not_inherit_files_its_parent_alone_has(tmp_path, store, Dataset):
    p = tmp_path / "a.csv"
    p.write_text("task,worker,label\nt1,w1,x\nt1,w2,y\nt2,w1,y\nt2,w2,y\n")
    run = read_long_table(p)
    with_truth = dataclasses.replace(
        run, truth=pd.Series(["x", "y"], index=pd.Index(["t1", "t2"], name="task_id"), name="truth")
    )
    ws = Workspace(tmp_path / "small")
    a = import_run(ws, with_truth, name="toy", version="1", created="2024-01-01T00:00:00Z")
    b = import_run(ws, run, name="toy", version="2", parents=[a.id], created="2024-01-02T00:00:00Z")
    cb = publish(ws, store, b.id, with_parents=True)
    assert [c[2]["dataset_path"] for c in _calls(Dataset, "remove_files")] == ["truth.parquet"]
    assert "truth.parquet" not in Dataset.get(dataset_id=cb).list_files()
    assert store.open_run(cb).truth is None
    assert store.open_run(clearml_id_of(ws, a.id)).truth is not None


def test_changed_files_are_not_published(ws, store, Dataset):
    v1 = _chain(ws)[0]
    tasks = Path(v1.path) / "files" / "tasks.parquet"
    data = bytearray(tasks.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, so the listing's cheap checks pass; the sha256 does not
    tasks.write_bytes(bytes(data))
    with pytest.raises(ClearMLError, match="do not match its manifest .*tasks.parquet"):
        publish(ws, store, v1.id)
    (Path(v1.path) / "files" / "run.json").write_text("{}")
    with pytest.raises(DamagedVersionError, match="run.json"):
        publish(ws, store, v1.id)
    assert _calls(Dataset, "create") == []


# ---- listing and opening


def test_listing_matches_the_local_versions(ws, store, Dataset, tmp_path):
    local = _chain(ws)
    publish(ws, store, local[-1].id, with_parents=True)
    to_clearml = {v.id: clearml_id_of(ws, v.id) for v in local}
    draft = Dataset.create(
        dataset_name="food-types", dataset_project=PROJECT, dataset_version="9.9.9"
    )  # never finalized

    listing = store.listing()
    assert listing.problems == ()
    got = listing.versions
    assert [v.id for v in got] == [to_clearml[v.id] for v in local]
    assert draft.id not in {v.id for v in got}
    assert [(v.name, v.version, v.created, v.project) for v in got] == [
        (v.name, v.version, v.created, v.project) for v in local
    ]
    assert sorted(listing.lineage()) == sorted((to_clearml[p], to_clearml[c]) for p, c in ws.listing().lineage())
    assert all(v.source == "clearml" for v in got)
    for remote, mine in zip(got, local, strict=True):
        assert {k: x for k, x in remote.metadata.items() if k != "clearml"} == dict(mine.metadata)
        assert remote.metadata["clearml"]["local_id"] == mine.id and remote.metadata["clearml"]["status"] == "completed"


def test_listing_is_cached_for_finalized_versions(ws, store, Dataset, tmp_path):
    publish(ws, store, _chain(ws)[-1].id, with_parents=True)
    first = store.listing()
    n_get = len(_calls(Dataset, "get"))
    again = ClearMLStore(project=PROJECT, dataset_cls=Dataset, cache_dir=tmp_path / "cache").listing()
    assert again == first
    assert len(_calls(Dataset, "get")) == n_get  # only list_datasets was asked


def test_a_dataset_that_is_not_a_run_is_a_problem_not_a_version(store, Dataset, tmp_path):
    (tmp_path / "img.png").write_bytes(b"\x89PNG")
    other = Dataset.create(dataset_name="images", dataset_project=PROJECT)
    other.add_files(str(tmp_path / "img.png"))
    other.upload()
    other.finalize()
    listing = store.listing()
    assert listing.versions == ()
    assert len(listing.problems) == 1 and "not a crowdlens run" in listing.problems[0].message


def test_open_run_equals_the_local_run_and_is_cached_by_id(ws, store, Dataset, tmp_path):
    local = _chain(ws)
    publish(ws, store, local[-1].id, with_parents=True)
    for v in local:
        cid = clearml_id_of(ws, v.id)
        mine, theirs = ws.open_run(v.id), store.open_run(cid)
        pd.testing.assert_frame_equal(theirs.answers, mine.answers)
        pd.testing.assert_frame_equal(theirs.tasks, mine.tasks)
        pd.testing.assert_frame_equal(theirs.restrictions, mine.restrictions)
        assert theirs.meta == mine.meta and theirs.pricing.to_dict() == mine.pricing.to_dict()
    copies = len(_calls(Dataset, "get_local_copy"))
    assert copies == 3
    n = len(Dataset.server.calls)
    cid = clearml_id_of(ws, local[1].id)
    store.open_run(cid)
    ClearMLStore(project=PROJECT, dataset_cls=Dataset, cache_dir=tmp_path / "cache").open_run(cid)
    assert len(_calls(Dataset, "get_local_copy")) == copies
    assert len(Dataset.server.calls) == n  # a finalized version opens again without the server
    # the cache holds real files, not links into the SDK's cache
    assert not any(p.is_symlink() for p in (tmp_path / "cache" / cid / "files").iterdir())


def test_a_draft_is_not_opened(store, Dataset, tmp_path):
    draft = Dataset.create(dataset_name="food-types", dataset_project=PROJECT, dataset_version="1.0.0")
    with pytest.raises(ClearMLError, match="not finalized"):
        store.open_run(draft.id)
    assert _calls(Dataset, "get_local_copy") == []


def test_a_damaged_download_is_not_cached(ws, store, Dataset):
    v1 = _chain(ws)[0]
    cid = publish(ws, store, v1.id)
    (Dataset.server.storage(cid) / "answers.parquet").write_bytes(b"not parquet")
    with pytest.raises(ClearMLError, match="answers.parquet"):
        store.open_run(cid)
    assert not (store.cache_dir / cid / "files").exists()


def test_an_unknown_id_is_a_lookup_error(store):
    with pytest.raises(VersionLookupError, match="no ClearML dataset version with id 'nope'"):
        store.open_run("nope")
    with pytest.raises(VersionLookupError, match="no ClearML dataset version with id '../../x'"):
        store.open_run("../../x")
    with pytest.raises(VersionLookupError, match="no ClearML dataset version with id '" + "a" * 32):
        store.open_run("a" * 32)


# ---- pull


def test_pull_into_an_empty_workspace_opens_offline(ws, store, Dataset, tmp_path):
    local = _chain(ws)
    publish(ws, store, local[-1].id, with_parents=True)
    ids = [clearml_id_of(ws, v.id) for v in local]
    empty = Workspace(tmp_path / "empty")
    got = pull(store, ids[-1], empty)
    assert got.id == ids[-1] and got.label == local[-1].label
    pulled = empty.listing()
    assert [v.id for v in lineage_order(pulled.versions)] == ids  # the parents came too, same ids
    assert sorted(pulled.lineage()) == sorted([(ids[0], ids[1]), (ids[1], ids[2])])
    for v, cid in zip(local, ids, strict=True):
        pd.testing.assert_frame_equal(empty.open_run(cid).answers, ws.open_run(v.id).answers)
        assert empty.get(cid).created == v.created
        assert {k: x for k, x in empty.get(cid).metadata.items() if k != "files"} == {
            k: x for k, x in v.metadata.items() if k != "files"
        }
        assert clearml_id_of(empty, cid) == cid
    n = len(Workspace(empty.root).versions())
    assert pull(store, ids[-1], empty).id == ids[-1] and len(empty.versions()) == n


def test_pull_without_parents_says_what_to_do(ws, store, tmp_path):
    local = _chain(ws)
    publish(ws, store, local[1].id, with_parents=True)
    with pytest.raises(MissingParentError, match="pull the parent first"):
        pull(store, clearml_id_of(ws, local[1].id), Workspace(tmp_path / "empty"), with_parents=False)


def test_pull_into_the_workspace_it_came_from_changes_nothing(ws, store):
    v1 = _chain(ws)[0]
    cid = publish(ws, store, v1.id)
    n = len(ws.versions())
    assert pull(store, cid, ws).id == v1.id
    assert len(ws.versions()) == n


# ---- the stand-in cannot drift from the SDK


def test_standin_signatures_match_clearml_dataset():
    clearml = pytest.importorskip("clearml")
    Real = clearml.Dataset

    def shape(cls, name):
        raw = inspect.getattr_static(cls, name)
        sig = inspect.signature(getattr(cls, name))
        params = [(p.name, p.kind, p.default) for p in sig.parameters.values()]
        return isinstance(raw, classmethod), isinstance(raw, staticmethod), params

    for name in USED_METHODS:
        assert shape(StandInDataset, name) == shape(Real, name), (
            f"Dataset.{name} differs from clearml {clearml.__version__}"
        )
    for name in USED_LOGGER_METHODS:
        assert shape(StandInLogger, name) == shape(clearml.Logger, name), f"Logger.{name} differs"
    for name in USED_PROPERTIES:
        assert isinstance(inspect.getattr_static(Real, name), property), name
        assert isinstance(inspect.getattr_static(StandInDataset, name), property), name

    # list_datasets' rows: the keys of the dict the SDK builds in its return statement
    tree = ast.parse(textwrap.dedent(inspect.getsource(Real.list_datasets)))
    returns = [n.value for n in ast.walk(tree) if isinstance(n, ast.Return) and isinstance(n.value, ast.ListComp)]
    assert len(returns) == 1 and isinstance(returns[0].elt, ast.Dict)
    assert tuple(k.value for k in returns[0].elt.keys) == LIST_DATASETS_KEYS


def test_standin_list_datasets_rows_have_the_sdk_keys(Dataset, tmp_path):
    (tmp_path / "f.txt").write_text("x")
    ds = Dataset.create(dataset_name="n", dataset_project="p")
    ds.add_files(str(tmp_path / "f.txt"))
    ds.upload()
    assert ds.finalize() is True
    (row,) = Dataset.list_datasets(dataset_project="p")
    assert tuple(row) == LIST_DATASETS_KEYS and row["version"] == "1.0.0" and row["status"] == "completed"


# ---- what the version page shows (the real SDK's reports: test_clearml_sdk.py)


def test_publishing_reports_tables_histogram_charts_and_samples(ws, store, Dataset, real_reports):
    v1 = _chain(ws)[0]
    cid = publish(ws, store, v1.id)
    reports = [c for c in Dataset.server.calls if c[0].startswith("report_") and c[1] == cid]
    titles = [(c[0], c[2]["title"], c[2]["series"]) for c in reports]
    assert titles[0] == ("report_table", "Summary", "figures")
    assert ("report_table", "Annotators", "per annotator") in titles
    assert ("report_histogram", "Label distribution", "answers") in titles
    assert ("report_plotly", "Cost-quality curve", "accuracy vs golden") in titles
    assert {("report_plotly", "Agreement", "run"), ("report_plotly", "Agreement", "per annotator")} <= set(titles)
    summary = reports[0][2]["table_plot"].set_index("field")["value"]
    assert summary["total spend (USD)"] == f"{v1.metadata['annotation_cost']:.4f}"
    assert "skipped: accuracy vs truth" in summary.index  # the demo has no ground truth: said, not made up
    media = [c[2]["local_path"] for c in reports if c[0] == "report_media"]
    if (ws.root / "media").is_dir():
        assert 0 < len(media) <= 6 and all(Path(p).is_file() for p in media)


def test_unavailable_figures_are_skipped_with_the_reason(tmp_path, real_reports):
    p = tmp_path / "a.csv"
    p.write_text("task,worker,label\nt1,w1,x\nt1,w2,y\nt2,w1,y\nt2,w2,y\n")
    run = read_long_table(p)
    images = tmp_path / "img"
    images.mkdir()
    (images / "t1.png").write_bytes(b"\x89PNG\r\n")
    run = dataclasses.replace(
        run, tasks=pd.DataFrame({"image": ["img/t1.png", "https://example.org/t2.png"]}, index=run.tasks.index)
    )
    reports = clearml_reports.version_reports(run, media_root=tmp_path)
    summary = reports[0].payload.set_index("field")["value"]
    assert "skipped: cost-quality curve" in summary.index and "skipped: accuracy vs golden" in summary.index
    assert "control" in summary["skipped: cost-quality curve"]  # the reason, in the source's words
    assert not any(r.title == clearml_reports.CURVE for r in reports)
    assert [(r.series, Path(r.payload).name) for r in reports if r.kind == "media"] == [("t1", "t1.png")]
    assert "skipped: sample inputs" in clearml_reports.summary_table(run, [("sample inputs", "none")])["field"].tolist()
