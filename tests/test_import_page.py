"""The Import page: uploads are staged to temporary files, checked, stored, and never kept in the session."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import streamlit as st
from pages_util import open_page, texts
from toloka_fixtures import HEADER, ROWS, col

from analytics.sources import ReadOptions
from analytics.sources.workspace import Workspace
from dashboard.views import import_run as page


class Upload(io.BytesIO):
    """What st.file_uploader returns: bytes with a name, an id and a size."""

    def __init__(self, name: str, data: bytes):
        super().__init__(data)
        self.name, self.file_id, self.size = name, f"id-{name}-{len(data)}", len(data)


def export(rows=ROWS) -> bytes:
    return ("\n".join(["\t".join(HEADER)] + ["\t".join(r) for r in rows]) + "\n").encode()


@pytest.fixture(autouse=True)
def staging_in_tmp_path(tmp_path, monkeypatch):
    """The staging folders of a test go to its own tmp_path, not the machine's /tmp."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


@pytest.fixture
def uploads(monkeypatch):
    """Set the files the page's main uploader returns (AppTest cannot upload)."""
    chosen: list[Upload] = []

    def uploader(label, *args, key=None, accept_multiple_files=False, **kwargs):
        if key == "main_files":
            return list(chosen)
        return [] if accept_multiple_files else None

    monkeypatch.setattr(st, "file_uploader", uploader)
    return chosen


def test_the_page_asks_for_files(tmp_path):
    at = open_page(Workspace(tmp_path / "ws").root, "import_run.py")
    assert not at.exception
    assert "Choose one or more results files" in texts(at)


def test_an_upload_is_checked_then_stored_and_its_copy_deleted(tmp_path, uploads):
    ws = Workspace(tmp_path / "ws")
    uploads.append(Upload("pool.tsv", export()))
    at = open_page(ws.root, "import_run.py")
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "Answers: 9" in texts(at)
    staged = page.Staged(**at.session_state["import_staged"])  # small things only: paths and names
    assert Path(staged.main[0]).read_bytes() == export()
    assert isinstance(at.session_state["import_summary"], dict)
    assert "import_run" not in at.session_state  # neither the run nor the bytes stay in the session
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Stored" in texts(at)
    assert not Path(staged.folder).exists()
    assert len(ws.listing().versions) == 1


def test_an_upload_checked_but_never_stored_goes_when_its_session_does(tmp_path, uploads):
    import gc

    uploads.append(Upload("pool.tsv", export()))
    at = open_page(Workspace(tmp_path / "ws").root, "import_run.py")
    assert not at.exception, [e.value for e in at.exception]
    folder = Path(page.Staged(**at.session_state["import_staged"]).folder)
    assert folder.exists() and at.session_state["import_folder"].folder == str(folder)
    del at  # the session ends before "Store": Streamlit drops its state
    gc.collect()
    assert not folder.exists()


def test_a_bad_upload_shows_every_problem_and_keeps_no_copy(tmp_path, uploads):
    rows = [list(r) for r in ROWS]
    rows[1][col("ASSIGNMENT:status")] = "DONE"
    rows[2][col("GOLDEN:result")] = "kat"
    uploads.append(Upload("bad.tsv", export(rows)))
    at = open_page(Workspace(tmp_path / "ws").root, "import_run.py")
    assert not at.exception
    assert any("2 problem(s) found" in str(e.value) for e in at.error)
    problems = at.session_state["import_problems"]
    assert {p.column for p in problems} == {"ASSIGNMENT:status", "GOLDEN:result"}
    assert "import_staged" not in at.session_state
    assert not list(Path(page.tempfile.gettempdir()).glob(f"{page.STAGING_PREFIX}*/*bad.tsv"))


def test_stage_check_and_store_without_streamlit(tmp_path):
    ws = Workspace(tmp_path / "ws")
    staged = page.stage([Upload("a.tsv", export())])
    summary, problems = page.check(staged, ReadOptions())
    assert problems is None and summary["answers"] == 9
    info = page.store(staged, ReadOptions(), ws, name="pets", version="1.0.0", parents=[])
    assert info.name == "pets" and not Path(staged.folder).exists()
    header_only = page.stage([Upload("empty.tsv", ("\t".join(HEADER) + "\n").encode())])
    summary, problems = page.check(header_only, ReadOptions())
    assert summary is None and "no submitted assignments" in problems[0].message
    assert problems[0].file == "empty.tsv" and not Path(header_only.folder).exists()


def test_toloka_files_and_the_fee_assumption(tmp_path, stub):
    """The page takes what the API import reads (pool configs, restrictions, bonuses) and says the fee is assumed."""
    import json

    import toloka_payloads as P
    from toloka.client import Pool
    from toloka.client.user_bonus import UserBonus
    from toloka.client.user_restriction import UserRestriction
    from toloka_fixtures import write_export

    def objects(items, cls) -> bytes:
        return "\n".join(cls.from_json(json.dumps(x)).to_json() for x in items).encode()

    main = write_export(tmp_path / "main.tsv", [a for a in stub.assignments if a["pool_id"] == P.POOL_ID])
    exam = write_export(tmp_path / "exam.tsv", [a for a in stub.assignments if a["pool_id"] == P.EXAM_POOL_ID])
    staged = page.stage(
        [Upload("main.tsv", main.read_bytes())],
        [Upload("exam.tsv", exam.read_bytes())],
        pool_config=[Upload("pools.json", objects([stub.pools[P.POOL_ID], stub.pools[P.EXAM_POOL_ID]], Pool))],
        restrictions=[Upload("bans.jsonl", objects(stub.restrictions, UserRestriction))],
        bonuses=[Upload("bonuses.json", objects(stub.bonuses, UserBonus))],
    )
    summary, problems = page.check(staged, ReadOptions())
    assert problems is None, problems
    assert (summary["restrictions"], summary["bonuses"], summary["pass_threshold"]) == (3, 2, 0.8)
    assert "30 % assumed" in summary["fee_note"]
    summary, _ = page.check(page.stage([Upload("main.tsv", main.read_bytes())]), ReadOptions(fee_rate=0.25))
    assert summary["fee_note"] is None
    bad = page.stage([Upload("main.tsv", main.read_bytes())], pool_config=[Upload("pools.json", b"[{")])
    summary, problems = page.check(bad, ReadOptions())
    assert summary is None and problems[0].file.endswith("pools.json") and "not JSON" in problems[0].message


def test_the_page_shows_the_fee_assumption(tmp_path, uploads):
    uploads.append(Upload("pool.tsv", export()))
    at = open_page(Workspace(tmp_path / "ws").root, "import_run.py")
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "Platform fee 30 % assumed" in texts(at)
