"""The remote commands through `crowdlens`: Toloka against the local stub, ClearML against the stand-in.

Nothing here reaches a host other than 127.0.0.1, and no developer setting leaks in: the
environment's Toloka and ClearML variables are removed, HOME and the working directory are
empty temporary folders (so no real secrets file or ~/clearml.conf is read).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path

import pytest
import toloka_payloads as P
from clearml_standin import standin_dataset_class

from analytics import settings
from analytics.cli import main, remote
from analytics.sources.clearml_store import ClearMLStore, clearml_id_of
from analytics.sources.workspace import Workspace, lineage_order

CLEARML_SECRET = "s3cr3t-Value-never-shown-9876"
CLEARML_ACCESS = "AKEY-never-shown-5432"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    for var in list(os.environ):
        if var.startswith(("TOLOKA_", "CLEARML_", "TRAINS_")):
            monkeypatch.delenv(var)
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("CROWDLENS_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(cwd)


pytestmark = pytest.mark.usefixtures("loopback_only")


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def files_holding(root: Path, secret: str) -> list[Path]:
    data = secret.encode()
    return [p for p in root.rglob("*") if p.is_file() and data in p.read_bytes()]


def write_secrets(folder: Path, **values: str) -> Path:
    path = folder / ".streamlit" / "secrets.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "".join(f'{k} = "{v}"\n' for k, v in values.items())
        + '\n[connections.other]\nTOLOKA_TOKEN = "nested-ignored"\n'
    )
    return path


# --------------------------------------------------------------------------------------------
# toloka-import


def test_toloka_import_stores_a_version_and_never_shows_or_writes_the_token(
    stub, tmp_path, capsys, monkeypatch, caplog
):
    import logging

    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("TOLOKA_TOKEN", P.TOKEN)
    ws = tmp_path / "ws"
    code, out, err = run(
        capsys,
        "toloka-import",
        "--pool",
        P.POOL_ID,
        "--exam-pool",
        P.EXAM_POOL_ID,
        "--project",
        P.PROJECT_ID,
        "--name",
        "cats",
        "--version",
        "1.0.0",
        "--workspace",
        ws,
        "--label-field",
        "result",
        "--url",
        stub.url,
    )
    assert code == 0, err
    (info,) = Workspace(ws).versions()
    # 13 rows, 10 of them given answers: the skipped and expired suites are counted apart
    assert f"imported cats 1.0.0 as {info.id}" in out and "10 answers" in out and "1234 (main), 1233 (exam)" in out
    assert "pool 1234: 3 assignments read" in err  # progress goes to stderr (a4 is ACTIVE: no answer yet)
    assert info.metadata["source"] == "Toloka API" and info.metadata["pool_ids"] == ["1234"]
    assert info.metadata["exam_pool_ids"] == ["1233"]
    run_ = Workspace(ws).open_run(info.id)
    assert len(run_.answers) == 13 and run_.meta.label_field == "result"
    assert all(r.authorised for r in stub.requests)
    # the token: not in any output, not in any file of the workspace or the cache
    assert P.TOKEN not in out + err and P.TOKEN not in caplog.text
    assert files_holding(ws, P.TOKEN) == [] and files_holding(tmp_path, P.TOKEN) == []


def test_a_child_version_takes_a_parent_prefix(stub, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TOLOKA_TOKEN", P.TOKEN)
    monkeypatch.setenv("TOLOKA_URL", stub.url)  # the endpoint from the environment
    ws = tmp_path / "ws"
    assert (
        run(capsys, "toloka-import", "--pool", P.POOL_ID, "--name", "cats", "--version", "1.0.0", "--workspace", ws)[0]
        == 0
    )
    first = Workspace(ws).versions()[0]
    code, out, err = run(
        capsys,
        "toloka-import",
        "--pool",
        P.POOL_ID,
        "--name",
        "cats",
        "--version",
        "1.1.0",
        "--workspace",
        ws,
        "--parent",
        first.id[:8],
    )
    assert code == 0, err
    assert Workspace(ws).listing().lineage() == [(first.id, lineage_order(Workspace(ws).versions())[1].id)]
    # the same name and version again: refused before Toloka is asked anything (a usage error, as `import`)
    asked = len(stub.requests)
    code, out, err = run(
        capsys, "toloka-import", "--pool", P.POOL_ID, "--name", "cats", "--version", "1.1.0", "--workspace", ws
    )
    assert code == 2 and "already exists" in err and len(stub.requests) == asked


def test_the_token_comes_from_the_projects_secrets_file(stub, tmp_path, capsys):
    # the user's file holds a stale token; the project's (in the working directory) wins, as in Streamlit
    write_secrets(Path.home(), TOLOKA_TOKEN="AQAAAAAstaleTOKEN000000000000")
    write_secrets(Path.cwd(), TOLOKA_TOKEN=P.TOKEN, TOLOKA_URL=stub.url)
    code, out, err = run(
        capsys,
        "toloka-import",
        "--pool",
        P.POOL_ID,
        "--name",
        "cats",
        "--version",
        "1.0.0",
        "--workspace",
        tmp_path / "ws",
    )
    assert code == 0, err
    assert stub.requests and all(r.authorised for r in stub.requests)
    assert P.TOKEN not in out + err and files_holding(tmp_path / "ws", P.TOKEN) == []


def test_the_users_secrets_file_is_read_when_the_project_has_none(stub, tmp_path, capsys):
    write_secrets(Path.home(), TOLOKA_TOKEN=P.TOKEN)
    code, out, err = run(capsys, "toloka-progress", "--pool", P.POOL_ID, "--url", stub.url)
    assert code == 0, err
    assert all(r.authorised for r in stub.requests)


def test_a_missing_token_says_where_to_put_it_and_asks_nothing(stub, tmp_path, capsys):
    code, out, err = run(
        capsys,
        "toloka-import",
        "--pool",
        P.POOL_ID,
        "--name",
        "cats",
        "--version",
        "1.0.0",
        "--workspace",
        tmp_path / "ws",
        "--url",
        stub.url,
    )
    assert code == 1
    assert "TOLOKA_TOKEN" in err and ".streamlit/secrets.toml" in err and "Traceback" not in err
    assert stub.requests == [] and Workspace(tmp_path / "ws").versions() == []


def test_a_rejected_token_is_a_message_without_the_token(stub, tmp_path, capsys, monkeypatch):
    wrong = "AQAAAAAwrongTOKEN9876543210"
    monkeypatch.setenv("TOLOKA_TOKEN", wrong)
    code, out, err = run(
        capsys,
        "toloka-import",
        "--pool",
        P.POOL_ID,
        "--name",
        "cats",
        "--version",
        "1.0.0",
        "--workspace",
        tmp_path / "ws",
        "--url",
        stub.url,
    )
    assert code == 1
    assert "rejected the token" in err and "401" in err
    assert wrong not in out + err and P.TOKEN not in out + err
    assert Workspace(tmp_path / "ws").versions() == []


def test_an_unreadable_secrets_file_is_named_without_its_content(tmp_path, capsys):
    path = Path.cwd() / ".streamlit" / "secrets.toml"
    path.parent.mkdir()
    path.write_text(f'TOLOKA_TOKEN = "{P.TOKEN}\n')  # unterminated string
    code, out, err = run(capsys, "toloka-progress", "--pool", P.POOL_ID)
    assert code == 1 and "secrets.toml is not valid TOML" in err and P.TOKEN not in out + err


def test_invalid_answers_are_all_printed_and_nothing_is_written(stub, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TOLOKA_TOKEN", P.TOKEN)
    stub.assignments[0].pop("user_id")  # a1 without an annotator
    stub.assignments[1]["tasks"][1]["known_solutions"][0]["output_values"]["result"] = (
        "cow"  # golden outside the label set
    )
    code, out, err = run(
        capsys,
        "toloka-import",
        "--pool",
        P.POOL_ID,
        "--name",
        "cats",
        "--version",
        "1.0.0",
        "--workspace",
        tmp_path / "ws",
        "--url",
        stub.url,
    )
    assert code == 1
    assert "2 problems found; nothing was imported." in err
    assert "assignment.user_id" in err and "'cow'" in err and "Traceback" not in err
    assert Workspace(tmp_path / "ws").versions() == []


def test_pools_of_another_project_are_refused_before_downloading(stub, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TOLOKA_TOKEN", P.TOKEN)
    code, out, err = run(
        capsys,
        "toloka-import",
        "--pool",
        P.POOL_ID,
        "--project",
        "88",
        "--name",
        "cats",
        "--version",
        "1.0.0",
        "--workspace",
        tmp_path / "ws",
        "--url",
        stub.url,
    )
    assert code == 1 and "1234 (project 77) is not in project 88" in err
    assert stub.requests_to("/api/v1/assignments") == []
    code, out, err = run(
        capsys,
        "toloka-import",
        "--pool",
        "999999",
        "--name",
        "c",
        "--version",
        "1",
        "--workspace",
        tmp_path / "ws",
        "--url",
        stub.url,
    )
    assert code == 1 and "pool 999999" in err and "does not exist" in err


def test_toloka_settings_order_flag_environment_project_file_user_file(stub, capsys, monkeypatch):
    """--url > $TOLOKA_URL > ./.streamlit/secrets.toml > ~/.streamlit/secrets.toml: the winner is the one used
    (each loser is a URL that make_client refuses at once, naming it)."""

    def used_url(*flags: str) -> str:
        code, out, err = run(capsys, "toloka-progress", "--pool", P.POOL_ID, *flags)
        assert code == 1 and "must start with http://" in err, err
        return err.split("Got ")[1]

    write_secrets(Path.home(), TOLOKA_TOKEN=P.TOKEN, TOLOKA_URL="user-file.example")
    assert "user-file.example" in used_url()
    write_secrets(Path.cwd(), TOLOKA_URL="project-file.example")
    assert "project-file.example" in used_url()
    monkeypatch.setenv("TOLOKA_URL", "environment.example")
    assert "environment.example" in used_url()
    assert "flag.example" in used_url("--url", "flag.example")
    code, out, err = run(capsys, "toloka-progress", "--pool", P.POOL_ID, "--url", stub.url)
    assert code == 0, err
    assert stub.requests and all(r.authorised for r in stub.requests)  # the token of the user's file


def test_a_token_quoted_in_an_error_message_is_scrubbed(capsys, monkeypatch):
    # a token pasted into the URL by mistake: the message quotes the URL, never the token
    write_secrets(Path.cwd(), TOLOKA_TOKEN=P.TOKEN)
    monkeypatch.setenv("TOLOKA_URL", f"ftp://{P.TOKEN}@127.0.0.1/")
    code, out, err = run(capsys, "toloka-progress", "--pool", "1")
    assert code == 1 and "http://" in err and "ftp://***@127.0.0.1/" in err
    assert P.TOKEN not in out + err and "Traceback" not in err
    assert settings.scrub(f"token {P.TOKEN} refused") == "token *** refused"


def test_url_and_environment_exclude_each_other(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["toloka-progress", "--pool", "1", "--url", "http://127.0.0.1:9", "--environment", "sandbox"])
    assert exc.value.code == 2 and "not allowed with argument" in capsys.readouterr().err


def test_a_bad_environment_setting_is_a_clear_error(capsys, monkeypatch):
    monkeypatch.setenv("TOLOKA_TOKEN", P.TOKEN)
    monkeypatch.setenv("TOLOKA_ENVIRONMENT", "staging")
    code, out, err = run(capsys, "toloka-progress", "--pool", "1")
    assert code == 1 and "PRODUCTION, SANDBOX" in err and "staging" in err


# --------------------------------------------------------------------------------------------
# toloka-progress


def test_toloka_progress_text_and_json(stub, capsys, monkeypatch):
    monkeypatch.setenv("TOLOKA_TOKEN", P.TOKEN)
    pid = P.live_pool(stub)
    code, out, err = run(capsys, "toloka-progress", "--pool", pid, "--url", stub.url)
    assert code == 0, err
    assert "pool 3000 'Cats — live': OPEN" in out
    assert "task suites submitted: 9 of 30 (30.0 % done)" in out
    assert "SUBMITTED 5, ACCEPTED 3, REJECTED 1, SKIPPED 2" in out
    assert "annotators: 4 submitted" in out and "0.12 USD in rewards, 0.16 USD with a 30% fee" in out
    # the assignments are from 2024: nobody submitted in the last hour
    assert "estimated finish: none" in out and "note: No suite was submitted in the last 1 h" in out
    code, out, err = run(
        capsys, "toloka-progress", "--pool", pid, "--url", stub.url, "--format", "json", "--fee-rate", "0.2"
    )
    assert code == 0, err
    d = json.loads(out)
    assert (d["pool_id"], d["submitted_assignments"], d["total_assignments"], d["percent_done"]) == (
        "3000",
        9,
        30,
        30.0,
    )
    assert d["by_status"] == {"SUBMITTED": 5, "ACCEPTED": 3, "REJECTED": 1, "SKIPPED": 2}
    assert d["spent_total"] == pytest.approx(0.144) and d["source"] == "analytics"
    assert P.TOKEN not in out + err


# --------------------------------------------------------------------------------------------
# ClearML, against the stand-in


@pytest.fixture
def Dataset(tmp_path):
    return standin_dataset_class(tmp_path / "server")


@pytest.fixture
def standin(monkeypatch, Dataset, tmp_path):
    """The commands' ClearML store, with the stand-in Dataset class."""
    made = []

    def factory(project):
        made.append(project)
        return ClearMLStore(project=project, dataset_cls=Dataset, cache_dir=tmp_path / "clearml-cache")

    monkeypatch.setattr(remote, "make_clearml_store", factory)
    return made


@pytest.fixture
def ws(demo_workspace, tmp_path) -> Workspace:
    root = tmp_path / "ws"
    shutil.copytree(demo_workspace.root, root)
    return Workspace(root)


def test_publish_list_and_pull_through_the_cli(ws, standin, Dataset, tmp_path, capsys):
    v1, v2, v3 = lineage_order(ws.versions())
    # a child before its parent: a clear error, nothing created
    code, out, err = run(capsys, "clearml-publish", v3.id, "--workspace", ws.root)
    assert code == 1 and "not published to ClearML yet" in err and "with_parents" in err and "Traceback" not in err
    assert Dataset.server.count("create") == 0

    code, out, err = run(
        capsys, "clearml-publish", v3.id[:8], "--workspace", ws.root, "--with-parents", "--project", "qa-runs"
    )
    assert code == 0, err
    ids = [clearml_id_of(ws, v.id) for v in (v1, v2, v3)]
    assert all(ids) and standin[-1] == "qa-runs"
    assert out.splitlines() == [
        f"published {v.label} ({v.id}) as ClearML dataset {cid} in project 'qa-runs'"
        for v, cid in zip((v1, v2, v3), ids, strict=True)
    ]
    code, out, err = run(capsys, "clearml-publish", v2.id, "--workspace", ws.root, "--project", "qa-runs")
    assert code == 0 and "already published" in out and Dataset.server.count("create") == 3

    code, out, err = run(capsys, "clearml-list", "--project", "qa-runs")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "ClearML project 'qa-runs': 3 version(s)"
    assert [cid in line for line, cid in zip(lines[1:], ids, strict=True)] == [
        True
    ] * 3  # full ids: what clearml-pull takes
    assert "└─" in lines[2] and "[simulated]" in lines[1]
    code, out, err = run(capsys, "clearml-list", "--project", "qa-runs", "--format", "json")
    data = json.loads(out)
    assert [d["id"] for d in data] == ids and data[2]["parents"] == [ids[1]] and data[0]["source"] == "clearml"
    code, out, err = run(capsys, "clearml-list")
    assert code == 0 and "ClearML project 'crowdlens': 0 version(s)" in out

    # pull the newest into an empty workspace: its parents come first
    empty = tmp_path / "empty"
    code, out, err = run(capsys, "clearml-pull", ids[2], "--workspace", empty, "--no-parents", "--project", "qa-runs")
    assert code == 1 and "pull the parent first" in err and Workspace(empty).versions() == []
    code, out, err = run(capsys, "clearml-pull", ids[2], "--workspace", empty, "--project", "qa-runs")
    assert code == 0, err
    assert out.splitlines() == [
        f"pulled {v.label} as {cid} into {empty}" for v, cid in zip((v1, v2, v3), ids, strict=True)
    ]
    pulled = Workspace(empty)
    assert len(pulled.open_run(ids[2]).answers) == len(ws.open_run(v3.id).answers)
    code, out, err = run(capsys, "clearml-pull", ids[2], "--workspace", empty)
    assert code == 0 and "nothing was copied" in out
    # an unknown id is named (a usage error, as an unknown workspace version)
    code, out, err = run(capsys, "clearml-pull", "0" * 32, "--workspace", empty)
    assert code == 2 and "0" * 32 in err


def test_a_clearml_listing_problem_is_reported(standin, Dataset, tmp_path, capsys):
    other = tmp_path / "not-a-run"
    other.mkdir()
    (other / "x.txt").write_text("hello")
    ds = Dataset.create(dataset_name="images", dataset_project="crowdlens", dataset_version="1.0.0")
    ds.add_files(path=str(other))
    ds.upload()
    ds.finalize()
    code, out, err = run(capsys, "clearml-list")
    # a dataset that is not a crowdlens run is a warning: the listing itself is fine
    assert code == 0 and "0 version(s)" in out and "warning:" in err and "not a crowdlens run" in err


# --------------------------------------------------------------------------------------------
# ClearML credentials: the real SDK path, offline


def test_missing_clearml_credentials_say_what_to_set(capsys):
    code, out, err = run(capsys, "clearml-list")
    assert code == 1
    assert "CLEARML_API_HOST" in err and "CLEARML_API_ACCESS_KEY" in err and "CLEARML_API_SECRET_KEY" in err
    assert ".streamlit/secrets.toml" in err and "Traceback" not in err


def test_clearml_credentials_come_from_the_secrets_file_and_are_not_kept(tmp_path, capsys):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    write_secrets(
        Path.cwd(),
        CLEARML_API_HOST=f"http://127.0.0.1:{port}",
        CLEARML_API_ACCESS_KEY=CLEARML_ACCESS,
        CLEARML_API_SECRET_KEY=CLEARML_SECRET,
    )
    ws = tmp_path / "ws"
    code, out, err = run(capsys, "clearml-pull", "abc", "--workspace", ws)
    # the key pair was found (no "not configured"), so the SDK went on to the server, which is down
    assert code == 1 and f"127.0.0.1:{port}" in err and "cannot be reached" in err
    assert CLEARML_SECRET not in out + err and CLEARML_ACCESS not in out + err
    # the settings were the command's only: the environment is as before
    assert not any(k.startswith("CLEARML_") for k in os.environ)
    assert not ws.exists() or files_holding(ws, CLEARML_SECRET) == []


def test_read_secrets_takes_top_level_text_and_the_first_file_wins(tmp_path):
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text('TOLOKA_TOKEN = "from-a"\nPORT = 8501\nFLAG = true\n[section]\nTOLOKA_URL = "nested"\n')
    b.write_text('TOLOKA_TOKEN = "from-b"\nTOLOKA_ENVIRONMENT = "SANDBOX"\n')
    assert settings.read_secrets([a, b]) == {
        "TOLOKA_TOKEN": "from-a",
        "PORT": "8501",
        "TOLOKA_ENVIRONMENT": "SANDBOX",
    }
    assert settings.read_secrets([tmp_path / "absent.toml"]) == {}
