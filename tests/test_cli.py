"""The crowdlens command: validate, import, versions, demo — messages, exit codes, no partial writes."""

from __future__ import annotations

import json
from pathlib import Path

from toloka_fixtures import ROWS, col, write_tsv

from analytics.cli import main
from analytics.sources import read_files
from analytics.sources.workspace import Workspace
from analytics.versions import import_run


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


def test_a_parent_is_given_by_the_prefix_versions_prints(tmp_path, capsys):
    ws = tmp_path / "ws"
    good = write_tsv(tmp_path / "good.tsv")
    assert main(["import", str(good), "--workspace", str(ws), "--name", "cats", "--version", "1.0"]) == 0
    first = Workspace(ws).versions()[0]
    argv = ["import", str(good), "--workspace", str(ws), "--name", "cats", "--version", "1.1"]
    assert main(argv + ["--parent", first.id[:8]]) == 0, capsys.readouterr().err
    child = next(v for v in Workspace(ws).versions() if v.version == "1.1")
    assert child.parents == (first.id,)  # stored as the full id


def _add(ws: Workspace, run, name: str, version: str, created: str, parents=(), version_id=None):
    return import_run(ws, run, name=name, version=version, parents=parents, created=created, version_id=version_id)


def test_an_ambiguous_parent_prefix_is_refused_naming_the_candidates(tmp_path, capsys):
    good = write_tsv(tmp_path / "good.tsv")
    ws = Workspace(tmp_path / "ws")
    run = read_files([str(good)])
    _add(ws, run, "cats", "1.0", "2024-01-01T00:00:00Z", version_id="abcd0000" + "0" * 24)
    _add(ws, run, "dogs", "1.0", "2024-01-02T00:00:00Z", version_id="abcd1111" + "1" * 24)
    code = main(["import", str(good), "--workspace", str(ws.root), "--name", "x", "--version", "1", "--parent", "abcd"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "'abcd'" in err and "more than one" in err
    assert "abcd0000 (cats 1.0)" in err and "abcd1111 (dogs 1.0)" in err
    assert len(ws.versions()) == 2  # nothing was imported


def test_versions_draws_each_data_sets_own_tree(tmp_path, capsys):
    good = write_tsv(tmp_path / "good.tsv")
    ws = Workspace(tmp_path / "ws")
    run = read_files([str(good)])
    a1 = _add(ws, run, "apples", "1.0", "2024-01-01T00:00:00Z")
    b1 = _add(ws, run, "bananas", "1.0", "2024-01-02T00:00:00Z")
    # children created after the other data set's root: each is still drawn under its own parent
    a2 = _add(ws, run, "apples", "1.1", "2024-01-03T00:00:00Z", parents=(a1.id,))
    b2 = _add(ws, run, "bananas", "1.1", "2024-01-04T00:00:00Z", parents=(b1.id,))
    a3 = _add(ws, run, "apples", "1.2", "2024-01-05T00:00:00Z", parents=(a1.id,))
    a21 = _add(ws, run, "apples", "1.1.1", "2024-01-06T00:00:00Z", parents=(a2.id,))
    assert main(["versions", "--workspace", str(ws.root)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("6 version(s)")
    order = [
        next(v for v in (a1, a2, a21, a3, b1, b2) if line.lstrip(" └─").startswith(v.id[:8])) for line in lines[1:]
    ]
    assert order == [a1, a2, a21, a3, b1, b2]
    assert [len(line) - len(line.lstrip(" ")) for line in lines[1:]] == [0, 2, 4, 2, 0, 2]
    assert ["└─" in line for line in lines[1:]] == [False, True, True, True, False, True]


def test_the_workspace_setting_order(tmp_path, monkeypatch, capsys):
    """--workspace > $CROWDLENS_WORKSPACE > ./.streamlit/secrets.toml > ~/.streamlit/secrets.toml > ./workspace."""
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    for folder in (home, cwd):
        (folder / ".streamlit").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(cwd)
    monkeypatch.delenv("CROWDLENS_WORKSPACE", raising=False)

    def listed() -> Path:
        assert main(["versions", *argv]) == 0
        first = capsys.readouterr().out.splitlines()[0]
        return Path(first.removeprefix("workspace ").split(": ")[0])

    argv: list[str] = []
    assert listed() == (cwd / "workspace").resolve()
    (home / ".streamlit" / "secrets.toml").write_text(f'CROWDLENS_WORKSPACE = "{tmp_path / "from-home"}"\n')
    assert listed() == (tmp_path / "from-home").resolve()
    (cwd / ".streamlit" / "secrets.toml").write_text(f'CROWDLENS_WORKSPACE = "{tmp_path / "from-cwd"}"\n')
    assert listed() == (tmp_path / "from-cwd").resolve()
    monkeypatch.setenv("CROWDLENS_WORKSPACE", str(tmp_path / "from-env"))
    assert listed() == (tmp_path / "from-env").resolve()
    argv = ["--workspace", str(tmp_path / "from-flag")]
    assert listed() == (tmp_path / "from-flag").resolve()
