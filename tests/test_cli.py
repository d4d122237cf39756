"""The crowdlens command: validate, import, versions, demo — messages, exit codes, no partial writes."""

from __future__ import annotations

import json

from toloka_fixtures import ROWS, col, write_tsv

from analytics.cli import main
from analytics.sources.workspace import Workspace


def test_validate_ok_and_problems(tmp_path, capsys):
    good = write_tsv(tmp_path / "good.tsv")
    assert main(["validate", str(good)]) == 0
    assert "OK: 9 answers" in capsys.readouterr().out
    rows = [list(r) for r in ROWS]
    rows[0][col("ASSIGNMENT:status")] = "WHATEVER"
    rows[1][col("ASSIGNMENT:started")] = "not a time"
    bad = write_tsv(tmp_path / "bad.tsv", rows)
    assert main(["validate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "2 problems found" in err and "line 2" in err and "line 3" in err and "Traceback" not in err


def test_import_then_versions(tmp_path, capsys):
    ws = tmp_path / "ws"
    good = write_tsv(tmp_path / "good.tsv")
    assert main(["import", str(good), "--workspace", str(ws), "--name", "cats", "--version", "1.0"]) == 0
    first = Workspace(ws).versions()[0]
    assert (
        main(["import", str(good), "--workspace", str(ws), "--name", "cats", "--version", "1.1", "--parent", first.id])
        == 0
    )
    capsys.readouterr()
    assert main(["versions", "--workspace", str(ws)]) == 0
    out = capsys.readouterr().out
    assert "2 version(s)" in out and "cats 1.1" in out and "└─" in out
    assert main(["versions", "--workspace", str(ws), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data[1]["parents"] == [first.id]


def test_bad_import_writes_nothing(tmp_path, capsys):
    ws = tmp_path / "ws"
    bad = tmp_path / "bad.tsv"
    bad.write_text("")
    assert main(["import", str(bad), "--workspace", str(ws), "--name", "x", "--version", "1"]) == 1
    assert "empty" in capsys.readouterr().err
    assert Workspace(ws).versions() == []


def test_unknown_parent_is_a_message_not_a_traceback(tmp_path, capsys):
    good = write_tsv(tmp_path / "good.tsv")
    code = main(
        ["import", str(good), "--workspace", str(tmp_path / "ws"), "--name", "x", "--version", "1", "--parent", "abc"]
    )
    assert code == 2
    assert "parent version 'abc'" in capsys.readouterr().err


def test_versions_reports_a_corrupt_manifest_and_lists_the_rest(tmp_path, capsys):
    ws = tmp_path / "ws"
    good = write_tsv(tmp_path / "good.tsv")
    main(["import", str(good), "--workspace", str(ws), "--name", "a", "--version", "1"])
    main(["import", str(good), "--workspace", str(ws), "--name", "b", "--version", "1"])
    victim = Workspace(ws).versions()[1]
    (ws / "versions" / victim.id / "manifest.json").write_text("garbage")
    capsys.readouterr()
    assert main(["versions", "--workspace", str(ws)]) == 1
    captured = capsys.readouterr()
    assert "1 version(s)" in captured.out and "a 1" in captured.out
    assert "manifest" in captured.err and victim.id in captured.err


def test_workspace_from_environment(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CROWDLENS_WORKSPACE", str(tmp_path / "envws"))
    good = write_tsv(tmp_path / "good.tsv")
    assert main(["import", str(good), "--name", "x", "--version", "1"]) == 0
    assert len(Workspace(tmp_path / "envws").versions()) == 1


def test_demo_command(tmp_path, capsys):
    assert main(["demo", "--workspace", str(tmp_path / "d")]) == 0
    assert "simulated" in capsys.readouterr().out
    assert len(Workspace(tmp_path / "d").versions()) == 3
