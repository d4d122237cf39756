"""QA decisions in reviews.sqlite3: append-only, concurrent writers, killed writers, full disks, migration, CLI."""

from __future__ import annotations

import argparse
import dataclasses
import errno
import functools
import importlib
import importlib.util
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from analytics import reviews
from analytics.reviews import DECISIONS, DecisionNotSaved, ReviewsDatabaseError
from analytics.sources.long_table import read_long_table
from analytics.sources.store import VersionLookupError
from analytics.sources.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]
CSV = "task,worker,label,golden\nt1,w1,x,x\nt1,w2,y,x\nt2,w1,y,\nt2,w2,y,\n"
ID_A = "abc1" + "0" * 28
ID_B = "abc2" + "0" * 28
UTC_MICRO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


def _add(ws: Workspace, run, version: str, version_id: str | None = None):
    """A version in ``ws``: through analytics.versions.import_run where it exists yet."""
    if version_id is None:
        try:
            from analytics.versions import import_run
        except ImportError:
            pass
        else:
            return import_run(ws, run, name="toy", version=version)
    return ws.add_version(run, name="toy", version=version, version_id=version_id)


def _workspace(root: Path, *, ids=(None,)) -> tuple[Workspace, list]:
    csv = root.parent / f"{root.name}-answers.csv"
    csv.write_text(CSV)
    run = read_long_table(csv)
    ws = Workspace(root)
    return ws, [_add(ws, run, str(i + 1), vid) for i, vid in enumerate(ids)]


@pytest.fixture
def version(tmp_path):
    ws, infos = _workspace(tmp_path / "ws")
    return ws, infos[0]


@dataclasses.dataclass(frozen=True)
class _Shown:
    worker_id: str
    suites: pd.DataFrame
    control: pd.DataFrame


def test_record_and_list(version):
    ws, info = version
    shown = pd.DataFrame({"answer": ["x", "y"], "correct": [True, False]})
    first = reviews.record_decision(ws, info.id[:8], "w1", "uphold", " Ana ", "<b>fast</b> and wrong", evidence=shown)
    assert first.version_id == info.id and first.reviewer == "Ana" and UTC_MICRO.fullmatch(first.decided_at)
    assert first.evidence_sha256 == reviews.evidence_hash(shown.copy()) != reviews.evidence_hash(shown.iloc[:1])
    second = reviews.record_decision(ws.root, info.id, "w1", "overturn", "Bo", evidence=first.evidence_sha256)
    third = reviews.record_decision(ws, info.id, "w2", "needs more evidence", "Bo", evidence={"b": 1, "a": [2]})
    assert second.evidence_sha256 == first.evidence_sha256 and third.evidence_sha256 == reviews.evidence_hash(
        {"a": [2], "b": 1}
    )
    # a bundle of what the page shows (a dataclass of frames, as BanEvidence) hashes by content
    bundle = _Shown("w1", shown, shown.iloc[:0])
    assert reviews.evidence_hash(bundle) == reviews.evidence_hash(_Shown("w1", shown.copy(), shown.iloc[:0]))
    assert reviews.evidence_hash(bundle) != reviews.evidence_hash(_Shown("w1", shown.iloc[::-1], shown.iloc[:0]))
    d = reviews.decisions(ws, info.id)
    assert list(d.columns) == list(reviews.COLUMNS)
    assert d["id"].tolist() == [first.id, second.id, third.id] and d["decision"].tolist() == list(DECISIONS[:2]) + [
        DECISIONS[2]
    ]
    assert d.loc[0, "note"] == "<b>fast</b> and wrong"
    assert reviews.decisions(ws, info.id[:6], "w1")["decision"].tolist() == ["uphold", "overturn"]
    assert reviews.decision_rows(ws, info.id)[-1] == third
    # the frame is what the people metrics take: the latest decision per annotator counts
    try:
        from analytics.people import attach_decisions
    except ImportError:  # before the lead's move out of analytics.metrics
        from analytics.people import attach_decisions

    table = attach_decisions(pd.DataFrame(index=pd.Index(["w1", "w2", "w3"], name="worker_id")), d)
    assert table["last_decision"].tolist()[:2] == ["overturn", "needs more evidence"]
    assert table["decisions"].tolist() == [2, 1, 0]
    empty = reviews.decisions(ws, info.id, "nobody")
    assert empty.empty and list(empty.columns) == list(reviews.COLUMNS)


def test_bad_arguments_are_refused_with_the_fix(tmp_path):
    ws, (a, b) = _workspace(tmp_path / "ws", ids=(ID_A, ID_B))
    with pytest.raises(ValueError, match=r"The 'decision' parameter must be one of .* Got 'ban forever' instead"):
        reviews.record_decision(ws, a.id, "w1", "ban forever", "Ana")
    with pytest.raises(ValueError, match="Say who decided: the reviewer's name is empty"):
        reviews.record_decision(ws, a.id, "w1", "uphold", "  ")
    with pytest.raises(ValueError, match="'worker_id'"):
        reviews.record_decision(ws, a.id, "", "uphold", "Ana")
    with pytest.raises(ValueError, match="lower-case hex"):
        reviews.record_decision(ws, ID_A.upper(), "w1", "uphold", "Ana")
    with pytest.raises(VersionLookupError, match="more than one") as err:
        reviews.record_decision(ws, "abc", "w1", "uphold", "Ana")
    assert "abc10000 (toy 1)" in str(err.value) and "abc20000 (toy 2)" in str(err.value)
    with pytest.raises(VersionLookupError, match="no dataset version"):
        reviews.decisions(ws, "ffff")
    assert not reviews.database_path(ws).exists()  # nothing refused was written
    assert reviews.record_decision(ws, "abc2", "w1", "uphold", "Ana").version_id == ID_B


def test_rows_are_append_only(version):
    ws, info = version
    d = reviews.record_decision(ws, info.id, "w1", "uphold", "Ana", "first")
    con = sqlite3.connect(reviews.database_path(ws))
    try:
        con.execute("INSERT INTO migrations VALUES (1, 'reviews/x.jsonl', 'ab', 'cd', 'now', 0, '[]')")
        for sql in (
            "UPDATE decisions SET decision = 'overturn'",
            "DELETE FROM decisions",
            "UPDATE migrations SET decisions = 5",
            "DELETE FROM migrations",
        ):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                con.execute(sql)
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        con.close()
    assert reviews.decision_rows(ws, info.id) == [d]


WRITER = """
import sys
from analytics import reviews
root, version_id, k = sys.argv[1:4]
for i in range(100):
    reviews.record_decision(root, version_id, "w" + k, "uphold", "writer " + k, note=k + ":" + str(i))
"""


def test_concurrent_writer_processes_lose_nothing(version):
    ws, info = version
    _old_file(ws, info.id, 10)  # migrated by whichever writer comes first, exactly once
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(ws.root), info.id, str(k)], env=env, stderr=subprocess.PIPE)
        for k in range(8)
    ]
    errors = [p.communicate(timeout=120)[1].decode()[-600:] for p in procs]  # the end names the error
    assert [p.returncode for p in procs] == [0] * 8, errors
    d = reviews.decisions(ws, info.id)
    assert len(d) == 810 and d["id"].is_unique
    assert d["worker_id"].tolist()[:10] == [f"old{i}" for i in range(10)]
    for k in range(8):
        notes = d.loc[d["worker_id"] == f"w{k}", "note"].tolist()
        assert notes == [f"{k}:{i}" for i in range(100)]  # each writer's decisions in its order


def _old_file(ws: Workspace, version_id: str, n: int) -> None:
    folder = ws.root / "reviews"
    folder.mkdir(exist_ok=True)
    (folder / f"{version_id}.jsonl").write_bytes(b"".join(_line(f"old{i}", note="n" * 2000) + b"\n" for i in range(n)))


def _writer_until_killed(root: Path, version_id: str, worker: str, fd: int) -> None:
    """A forked child: record decisions with large notes, telling the parent each id once confirmed."""
    note = "é" * 32768  # 64 KiB of UTF-8
    i = 0
    while True:
        d = reviews.record_decision(root, version_id, worker, DECISIONS[i % 3], "killer", note=f"{worker}:{i}:{note}")
        os.write(fd, f"{d.id}\n".encode())
        i += 1


def test_a_new_database_busy_with_another_writer_is_waited_for(version):
    """SQLite refuses the switch of a new database to WAL at once, without waiting, while another
    connection writes to it: the case of the first writers of a workspace starting together."""
    ws, info = version
    path = reviews.database_path(ws)
    holding, release = threading.Event(), threading.Event()

    def other_writer() -> None:
        con = sqlite3.connect(path, isolation_level=None)
        con.execute("BEGIN IMMEDIATE")  # a write lock on a database still in rollback mode
        con.execute("CREATE TABLE other (a)")
        holding.set()
        release.wait(5)
        time.sleep(0.3)
        con.execute("COMMIT")
        con.close()

    thread = threading.Thread(target=other_writer)
    thread.start()
    assert holding.wait(5)
    release.set()
    started = time.monotonic()
    try:
        d = reviews.record_decision(ws, info.id, "w1", "uphold", "Ana")
    finally:
        thread.join()
    assert time.monotonic() - started >= 0.2  # it waited for the other writer ...
    assert reviews.decision_rows(ws, info.id) == [d]  # ... and then saved the decision


def test_writer_killed_at_random_moments_loses_no_confirmed_decision(version):
    ws, info = version
    _old_file(ws, info.id, 300)  # the first writers may be killed while they migrate it
    rng = random.Random(20240501)
    confirmed: set[int] = set()
    for kill in range(50):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            os.close(r)
            try:
                _writer_until_killed(ws.root, info.id, f"w{kill}", w)
            finally:
                os._exit(1)
        os.close(w)
        time.sleep(rng.uniform(0.0, 0.2))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        with os.fdopen(r, "rb") as pipe:
            confirmed.update(int(x) for x in pipe.read().split())
    d = reviews.decisions(ws, info.id)
    assert len(confirmed) > 0 and confirmed <= set(d["id"])
    assert d["worker_id"].tolist()[:300] == [f"old{i}" for i in range(300)] and (d["reviewer"] == "old").sum() == 300
    new = d.iloc[300:]
    assert all(n.startswith(f"{w}:") and len(n) > 32768 for w, n in zip(new["worker_id"], new["note"], strict=True))
    con = sqlite3.connect(reviews.database_path(ws))
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        con.close()
    assert reviews.record_decision(ws, info.id, "w0", "uphold", "after").id > max(confirmed)


class _FullDisk(sqlite3.Connection):
    def execute(self, sql, *args):
        if sql.startswith("INSERT"):
            raise sqlite3.OperationalError("database or disk is full")
        return super().execute(sql, *args)


def test_a_full_disk_refuses_the_decision_and_keeps_the_others(version, monkeypatch):
    ws, info = version
    kept = [reviews.record_decision(ws, info.id, f"w{i}", "uphold", "Ana") for i in range(3)]
    with monkeypatch.context() as m:
        m.setattr(reviews.sqlite3, "connect", functools.partial(sqlite3.connect, factory=_FullDisk))
        with pytest.raises(DecisionNotSaved, match="database or disk is full") as err:
            reviews.record_decision(ws, info.id, "w9", "overturn", "Ana")
    assert str(reviews.database_path(ws)) in str(err.value) and "free space" in str(err.value)
    with monkeypatch.context() as m:
        m.setattr(reviews, "_insert", lambda con, row: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left")))
        with pytest.raises(DecisionNotSaved, match="No space left"):
            reviews.record_decision(ws, info.id, "w9", "overturn", "Ana")
    assert reviews.decision_rows(ws, info.id) == kept


def _fill(path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (1 << 16, 1 << 12, 1):
            with pytest.raises(OSError) as err:
                while True:
                    os.write(fd, b"\0" * size)
            assert err.value.errno == errno.ENOSPC
    finally:
        os.close(fd)


def test_a_real_full_disk_on_a_small_tmpfs(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a 1 MiB tmpfs needs root")
    mnt = tmp_path / "small"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"mount -t tmpfs is not permitted here: {done.stderr.strip()}")
    try:
        ws, (info,) = _workspace(mnt / "ws")
        kept = [reviews.record_decision(ws, info.id, f"w{i}", "uphold", "Ana", "x" * 1000) for i in range(5)]
        reader = sqlite3.connect(reviews.database_path(ws))  # keeps the WAL and its index: the WAL must grow
        try:
            reader.execute("SELECT count(*) FROM decisions").fetchone()
            _fill(mnt / "filler")
            with pytest.raises(DecisionNotSaved, match="database or disk is full") as err:
                reviews.record_decision(ws, info.id, "w9", "overturn", "Ana", "y" * 65536)
            assert str(reviews.database_path(ws)) in str(err.value) and "free space" in str(err.value)
        finally:
            reader.close()
        # and with no connection open, the WAL index cannot be made either
        with pytest.raises(DecisionNotSaved, match="the disk is full|database or disk is full"):
            reviews.record_decision(ws, info.id, "w9", "overturn", "Ana", "y" * 65536)
        (mnt / "filler").unlink()
        assert reviews.decision_rows(ws, info.id) == kept
        assert reviews.record_decision(ws, info.id, "w9", "overturn", "Ana", "y" * 65536).id == kept[-1].id + 1
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_a_damaged_database_names_the_file_and_the_fix(version):
    ws, info = version
    reviews.database_path(ws).write_bytes(b"this is not an SQLite database, it is a note" * 100)
    for call in (
        lambda: reviews.decisions(ws, info.id),
        lambda: reviews.record_decision(ws, info.id, "w1", "uphold", "Ana"),
    ):
        with pytest.raises(ReviewsDatabaseError) as err:
            call()
        assert str(reviews.database_path(ws)) in str(err.value) and '.backup backup.sqlite3"' in str(err.value)


def _line(worker: str, decision: str = "uphold", note: str = "", at: str = "2024-01-01T10:00:00Z") -> bytes:
    row = {"worker_id": worker, "decision": decision, "reviewer": "old", "note": note, "decided_at": at}
    return json.dumps(row, ensure_ascii=False).encode()


def test_old_jsonl_files_are_migrated_once(tmp_path):
    ws, (info, other) = _workspace(tmp_path / "ws", ids=(ID_A, "ee" * 16))
    folder = ws.root / "reviews"
    folder.mkdir()
    torn, tear = _line("w9")[:25], _line("w8", note="café")
    tear = tear[: tear.index("é".encode()) + 1]  # cut inside the two bytes of é
    (folder / f"{ID_A}.jsonl").write_bytes(
        b"\n".join(
            [
                _line("w1", at="2024-01-01T10:00:00Z"),  # 1
                torn + _line("w2", at="2024-01-01T10:00:02Z"),  # 2: torn, glued to a complete decision
                b"5",  # 3
                b"null",  # 4
                tear + _line("w3", "overturn", "naïve", "2024-01-01T10:00:04Z"),  # 5: a multi-byte tear, glued
                tear,  # 6: a multi-byte tear on its own
                b'{"note": "no worker"}',  # 7
                _line("w4", "needs more evidence", at="2024-01-01T10:00:06Z"),  # 8: kept after all the torn ones
                torn,  # 9: the last, cut short
            ]
        )
    )
    # the old page recorded under whatever id the address held: a prefix of the same version
    (folder / f"{ID_A[:8]}.jsonl").write_bytes(_line("w1", "overturn", at="2024-01-01T10:00:03Z") + b"\n")
    (folder / "ffff.jsonl").write_bytes(_line("w1") + b"\n")  # names no version: left in place
    d = reviews.decisions(ws, info.id)
    assert d["worker_id"].tolist() == ["w1", "w2", "w1", "w3", "w4"]  # oldest first across both files
    assert d["decision"].tolist() == ["uphold", "uphold", "overturn", "overturn", "needs more evidence"]
    assert d["note"].tolist()[3] == "naïve" and d["decided_at"].iloc[0] == "2024-01-01T10:00:00.000000Z"
    assert reviews.decisions(ws, other.id).empty
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted([f"{ID_A}.jsonl.migrated", f"{ID_A[:8]}.jsonl.migrated", "ffff.jsonl"])

    notes = reviews.migration_notes(ws)
    full = str(folder / f"{ID_A}.jsonl")
    assert sorted(p.rows[0] for p in notes if p.file == full) == [2, 3, 4, 5, 6, 7, 9]
    by_line = {p.rows[0]: p.message for p in notes if p.file == full}
    assert "complete decision was kept" in by_line[2] and "complete decision was kept" in by_line[5]
    assert "not a decision (found '5')" in by_line[3] and "not UTF-8" in by_line[6] and "cut short" in by_line[9]
    assert "worker_id" in by_line[7]
    (left,) = [p for p in notes if p.file.endswith("ffff.jsonl")]
    assert "left in place" in left.message and "rename it" in left.fix
    assert all(f"line {p.rows[0]}" in str(p) for p in notes if p.rows)

    # runs once: a crash between the commit and the rename leaves the file; it is only renamed again
    (folder / f"{ID_A}.jsonl").write_bytes((folder / f"{ID_A}.jsonl.migrated").read_bytes())
    assert len(reviews.decisions(ws, info.id)) == 5 and not (folder / f"{ID_A}.jsonl").exists()
    # a new file the old code wrote since is migrated on its own, after what is there
    (folder / f"{ID_A}.jsonl").write_bytes(_line("w5", at="2024-01-02T00:00:00Z") + b"\n")
    reviews.record_decision(ws, info.id, "w6", "uphold", "new")
    assert reviews.decisions(ws, info.id)["worker_id"].tolist()[-2:] == ["w5", "w6"]
    kept = [p.read_bytes() for p in folder.iterdir() if p.name.startswith(ID_A)]
    assert len(kept) == 3 and sum(b'"w5"' in b for b in kept) == 1  # every file kept, none deleted


def _cli():
    try:
        return importlib.import_module("analytics.cli.review")
    except ImportError:  # analytics/cli/ is not a package yet: load the file itself
        spec = importlib.util.spec_from_file_location("crowdlens_cli_review", ROOT / "analytics/cli/review.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="crowdlens")
    _cli().add_review_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_record_and_list(tmp_path, capsys):
    ws, (a, b) = _workspace(tmp_path / "ws", ids=(ID_A, ID_B))
    flag = ["--workspace", str(ws.root)]
    assert _run(["review", "record", "abc1", "w1", "--decision", "more-evidence", "--reviewer", "Ana", *flag]) == 0
    out = capsys.readouterr()
    assert out.out.strip() == "1" and ID_A in out.err
    assert _run(["review", "record", "abc", "w1", "--decision", "uphold", "--reviewer", "Ana", *flag]) == 1
    err = capsys.readouterr().err
    assert "abc10000 (toy 1)" in err and "abc20000 (toy 2)" in err and "Traceback" not in err
    assert _run(["review", "record", ID_A, "w2", "--decision", "overturn", "--reviewer", " ", *flag]) == 1
    assert "reviewer's name is empty" in capsys.readouterr().err
    note = 'checked, é, "quoted"\nsecond line'
    assert (
        _run(["review", "record", ID_A, "w2", "--decision", "overturn", "--reviewer", "Bo", "--note", note, *flag]) == 0
    )
    capsys.readouterr()

    assert _run(["review", "list", "abc1", "--format", "json", *flag]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["id"], r["worker_id"], r["decision"]) for r in rows] == [
        (1, "w1", "needs more evidence"),
        (2, "w2", "overturn"),
    ]
    assert rows[1]["note"] == note and rows[1]["version_id"] == ID_A
    assert _run(["review", "list", ID_A, "--annotator", "w2", "--format", "csv", *flag]) == 0
    csv = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out))
    assert csv["note"].tolist() == [note] and csv["worker_id"].tolist() == ["w2"]
    assert _run(["review", "list", ID_A, *flag]) == 0
    text = capsys.readouterr().out
    assert "needs more evidence" in text and "second line" in text
    assert _run(["review", "list", ID_B, *flag]) == 0
    assert "No decision recorded" in capsys.readouterr().out
