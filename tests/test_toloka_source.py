"""The Toloka API reader (analytics.sources.toloka) against a local stand-in of the API on 127.0.0.1, via toloka-kit."""

from __future__ import annotations

import copy
import logging
import math

import pandas as pd
import pytest
import toloka_payloads as P
from toloka_fixtures import ROWS, col, write_tsv

from analytics.model import ValidationError
from analytics.sources import toloka
from analytics.sources.toloka import (
    TolokaAPIError,
    TolokaConfigError,
    make_client,
    pool_progress,
    pool_rules,
    read_pool,
    read_project,
)
from analytics.sources.toloka_tsv import read_toloka_tsv

UTC = "UTC"


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=UTC)


pytestmark = pytest.mark.usefixtures("loopback_only")


@pytest.fixture
def client(stub):
    c = make_client(P.TOKEN, url=stub.url)
    assert c.url.startswith("http://127.0.0.1:")
    return c


# --------------------------------------------------------------------------------------------
# the stub speaks toloka-kit's shapes


def _unexpected(obj, path="") -> list[str]:
    """Fields toloka-kit did not recognise, anywhere in a structured object."""
    found = []
    extra = getattr(obj, "_unexpected", None)
    if extra:
        found += [f"{path}.{k}" for k in extra]
    if hasattr(obj, "__attrs_attrs__"):
        for a in obj.__attrs_attrs__:
            if a.name != "_unexpected":
                found += _unexpected(getattr(obj, a.name), f"{path}.{a.name}")
    elif isinstance(obj, (list, tuple)):
        for i, x in enumerate(obj):
            found += _unexpected(x, f"{path}[{i}]")
    elif isinstance(obj, dict):
        for k, x in obj.items():
            found += _unexpected(x, f"{path}.{k}")
    return found


def test_payloads_are_what_toloka_kit_reads():
    from toloka.client import Assignment, Pool, Project, Task, structure
    from toloka.client.user_restriction import UserRestriction

    checks = [(P.PROJECT, Project), (P.pool(), Pool), (P.exam_pool(), Pool)]
    checks += [(a, Assignment) for a in P.MAIN_ASSIGNMENTS + P.EXAM_ASSIGNMENTS]
    checks += [(r, UserRestriction) for r in P.RESTRICTIONS]
    checks += [(t, Task) for t in P.SUITE]
    for payload, cls in checks:
        obj = structure(copy.deepcopy(payload), cls)
        assert _unexpected(obj) == [], (cls.__name__, payload.get("id"))
    pool = structure(P.pool(), Pool)
    collector = pool.quality_control.configs[0].collector_config
    assert type(collector).__name__ == "AssignmentSubmitTime" and collector.parameters.history_size == 5


# --------------------------------------------------------------------------------------------
# read_pool


def test_read_pool_answers(client):
    run = read_pool(client, P.POOL_ID)
    a = run.answers
    # a4 is ACTIVE (no answer yet): not read
    assert list(a["assignment_id"].astype(str)) == ["a1"] * 3 + ["a2"] * 3 + ["a3"] * 3
    assert list(a["task_id"].astype(str)) == ["t1", "t2", "t3"] * 3
    assert list(a["worker_id"].astype(str)) == ["w1"] * 3 + ["w2"] * 3 + ["w3"] * 3
    # a2's training task t3: its first answer ("cat"), not the one given after the hint
    assert a["label"].astype(object).where(a["label"].notna(), None).tolist() == [
        "cat",
        "cat",
        "dog",
        "dog",
        "dog",
        "cat",
        None,
        None,
        None,
    ]
    assert list(a["kind"].astype(str)) == ["regular", "control", "training"] * 3
    assert a["golden"].astype(object).where(a["golden"].notna(), None).tolist() == [None, "cat", "dog"] * 3
    assert list(a["status"].astype(str)) == ["ACCEPTED"] * 3 + ["REJECTED"] * 3 + ["SKIPPED"] * 3
    assert set(a["pool_id"].astype(str)) == {"1234"}
    assert a["reward"].tolist() == [0.03] * 9
    # times: naive API times are UTC
    assert str(a["started_at"].dt.tz) == UTC
    assert a.loc[0, "started_at"] == ts("2024-05-01 10:00:00")
    assert a.loc[0, "submitted_at"] == ts("2024-05-01 10:00:30.250")
    assert a.loc[3, "submitted_at"] == ts("2024-05-01 11:00:05")
    assert a.loc[6, "started_at"] == ts("2024-05-01 12:00:00") and pd.isna(a.loc[6, "submitted_at"])
    assert run.labels == ("cat", "dog")  # the project's allowed values, in declared order
    assert run.tasks.loc["t2", "image"] == "https://img.invalid/2.jpg"
    assert list(run.tasks.index) == ["t1", "t2", "t3"]


def test_read_pool_meta_rules_pricing(client):
    run = read_pool(client, P.POOL_ID)
    (info,) = run.meta.pools
    assert (info.pool_id, info.name, info.kind, info.reward_per_assignment, info.overlap, info.tasks_per_suite) == (
        "1234",
        "Cats — main",
        "main",
        0.03,
        3,
        3,
    )
    assert info.opened_at == "2024-05-01T09:00:00+00:00" and info.closed_at == "2024-05-03T18:00:00+00:00"
    fast, golden, skipped = info.rules
    assert fast == {
        "type": "fast_responses",
        "history_size": 5,
        "count": 1,
        "fast_submit_threshold_seconds": 15,
        "ban_days": 1,
        "scope": "PROJECT",
        "reason": "Fast responses",
    }
    assert golden == {
        "type": "golden_set",
        "history_size": 10,
        "min_answers": 4,
        "min_correct_percent": 50,
        "ban_days": 7,
        "scope": "PROJECT",
        "reason": "Control tasks",
    }
    # a rule with no replayable equivalent is kept whole, not dropped
    assert skipped["type"] == "SKIPPED_IN_ROW_ASSIGNMENTS"
    assert skipped["raw"]["rules"][0]["conditions"] == [{"key": "skipped_in_row_count", "operator": "GTE", "value": 10}]
    assert skipped["raw"]["rules"][0]["action"]["parameters"]["duration_unit"] == "HOURS"
    assert "not replayed" in skipped["why"]
    assert run.meta.project == "Cats or dogs"
    assert run.meta.instructions == "Is the animal on the photo a cat or a dog?"
    assert (run.meta.language, run.meta.label_field, run.meta.overlap) == ("en", "result", 3)
    assert (run.pricing.currency, run.pricing.reward_per_assignment, run.pricing.fee_rate) == ("USD", 0.03, 0.3)


def test_read_pool_restrictions(client, stub):
    r = read_pool(client, P.POOL_ID).restrictions
    got = r.astype(object).where(r.notna(), None).to_dict("records")
    assert got == [
        {
            "worker_id": "w1",
            "scope": "ALL_PROJECTS",
            "pool_id": None,
            "reason": "Suspected bot",
            "rule": "manual",
            "created_at": ts("2024-05-03 08:00:00"),
            "expires_at": ts("2024-06-03 08:00:00"),
        },
        # the fast-response rule's comment names the rule, and the pool whose rule it is
        {
            "worker_id": "w2",
            "scope": "PROJECT",
            "pool_id": "1234",
            "reason": "Fast responses",
            "rule": "fast_responses",
            "created_at": ts("2024-05-01 11:00:06"),
            "expires_at": ts("2024-05-02 11:00:06"),
        },
        {
            "worker_id": "w3",
            "scope": "POOL",
            "pool_id": "1234",
            "reason": "Skips everything, reviewed by hand",
            "rule": "manual",
            "created_at": ts("2024-05-01 12:10:00"),
            "expires_at": None,
        },
    ]
    asked = [r.query for r in stub.requests_to("/api/v1/user-restrictions")]
    assert [{k: v for k, v in q.items() if k in ("pool_id", "project_id", "scope")} for q in asked] == [
        {"pool_id": "1234"},
        {"project_id": "77"},
        {"scope": "ALL_PROJECTS"},
    ]


def test_the_replayed_fast_rule_agrees_with_the_recorded_ban(client):
    from analytics.metrics.rules import replay_rules

    r = replay_rules(read_pool(client, P.POOL_ID)).set_index("worker_id")
    assert r.loc["w2", "rule"] == "fast_responses" and r.loc["w2", "recorded_rule"] == "fast_responses"
    assert bool(r.loc["w2", "agrees"]) is True


def test_pool_rules_conversions():
    from toloka.client import Pool, structure

    configs = [
        # no history_size (Toloka: the whole history), a permanent ban, incorrect-rate form
        {
            "collector_config": {"type": "GOLDEN_SET", "parameters": {}},
            "rules": [
                {
                    "conditions": [
                        {"key": "golden_set_incorrect_answers_rate", "operator": "GT", "value": 40},
                        {"key": "golden_set_answers_count", "operator": "GT", "value": 2},
                    ],
                    "action": {
                        "type": "RESTRICTION_V2",
                        "parameters": {"scope": "ALL_PROJECTS", "duration_unit": "PERMANENT"},
                    },
                },
                # "<=" has no equivalent in the replay: kept raw
                {
                    "conditions": [{"key": "golden_set_correct_answers_rate", "operator": "LTE", "value": 50}],
                    "action": {
                        "type": "RESTRICTION_V2",
                        "parameters": {"scope": "PROJECT", "duration": 1, "duration_unit": "DAYS"},
                    },
                },
            ],
        },
        # the old Restriction action, hours, and a fast rule that rejects instead of banning
        {
            "collector_config": {
                "type": "ASSIGNMENT_SUBMIT_TIME",
                "parameters": {"fast_submit_threshold_seconds": 20, "history_size": 10},
            },
            "rules": [
                {
                    "conditions": [{"key": "fast_submitted_count", "operator": "GT", "value": 2}],
                    "action": {
                        "type": "RESTRICTION",
                        "parameters": {"scope": "POOL", "duration_days": 3, "private_comment": "too fast"},
                    },
                },
                {
                    "conditions": [{"key": "fast_submitted_count", "operator": "GTE", "value": 1}],
                    "action": {"type": "REJECT_ALL_ASSIGNMENTS", "parameters": {"public_comment": "Too fast"}},
                },
            ],
        },
    ]
    rules = pool_rules(structure(P.pool(configs=configs), Pool))
    assert rules[0] == {
        "type": "golden_set",
        "history_size": None,
        "min_answers": 3,
        "max_incorrect_percent": 40,
        "ban_days": None,
        "scope": "ALL_PROJECTS",
    }
    assert rules[1]["type"] == "GOLDEN_SET" and "not of the form < x" in rules[1]["why"]
    assert rules[1]["raw"]["rules"][0]["conditions"][0]["operator"] == "LTE"
    assert rules[2] == {
        "type": "fast_responses",
        "history_size": 10,
        "count": 3,
        "fast_submit_threshold_seconds": 20,
        "ban_days": 3,
        "scope": "POOL",
        "reason": "too fast",
    }
    assert rules[3]["type"] == "ASSIGNMENT_SUBMIT_TIME" and "REJECT_ALL_ASSIGNMENTS" in rules[3]["why"]


def test_unset_history_size_covers_the_whole_pool(stub, client):
    configs = copy.deepcopy([P.GOLDEN_CONFIG])
    del configs[0]["collector_config"]["parameters"]["history_size"]
    stub.pools[P.POOL_ID] = P.pool(configs=configs)
    (rule,) = read_pool(client, P.POOL_ID).meta.pools[0].rules
    # every answer row of the pool: no annotator's history can be longer
    assert rule["history_size"] == 9


def test_label_field_is_asked_for_when_there_are_several(stub, client):
    stub.projects[P.PROJECT_ID]["task_spec"]["output_spec"]["comment"] = {"type": "string", "required": False}
    with pytest.raises(ValidationError) as err:
        read_pool(client, P.POOL_ID)
    assert "several output fields: result, comment" in str(err.value) and "label_field" in str(err.value)
    with pytest.raises(ValidationError, match="no output field 'colour'.*result, comment"):
        read_pool(client, P.POOL_ID, label_field="colour")
    assert len(read_pool(client, P.POOL_ID, label_field="result").answers) == 9
    # nothing was downloaded for the ambiguous calls
    assert len(stub.requests_to("/api/v1/assignments")) == 1


def test_golden_labels_come_from_the_tasks_when_assignments_lack_them(stub, client):
    for a in stub.assignments:
        for t in a["tasks"]:
            t.pop("known_solutions", None)
    stub.tasks += copy.deepcopy(P.SUITE)
    a = read_pool(client, P.POOL_ID).answers
    assert a["golden"].astype(object).where(a["golden"].notna(), None).tolist()[:3] == [None, "cat", "dog"]
    assert list(a["kind"].astype(str))[:3] == ["regular", "control", "training"]
    assert len(stub.requests_to("/api/v1/tasks")) == 1


# --------------------------------------------------------------------------------------------
# pagination


def test_every_page_is_read_once(stub, client, monkeypatch):
    pid = "2000"
    stub.pools[pid] = P.pool(pid, mixer=(2, 0, 0), configs=[])
    tasks = [P.task(f"p{i}", f"https://img.invalid/p{i}.jpg", pool_id=pid) for i in range(2)]
    stub.assignments += [
        P.assignment(
            f"b{i:03d}",
            f"w{i % 7}",
            "ACCEPTED",
            tasks,
            ["cat", "dog"],
            created="2024-05-01T10:00:00",
            submitted="2024-05-01T10:01:00",
            pool_id=pid,
        )
        for i in range(25)
    ]
    stub.max_limit = 4  # the server gives at most 4 per page, whatever is asked
    monkeypatch.setattr(toloka.assignments, "PROGRESS_EVERY", 10)
    seen = []
    run = read_pool(client, pid, batch_size=10, progress=lambda pool, n: seen.append((pool, n)))
    assert seen == [(pid, 10), (pid, 20), (pid, 25)]
    assert len(run.answers) == 50
    assert run.answers["assignment_id"].nunique() == 25
    pages = [r.query for r in stub.requests_to("/api/v1/assignments")]
    assert len(pages) == math.ceil(25 / 4)
    cursors = [q.get("id_gt") for q in pages]
    assert cursors == [None, "b003", "b007", "b011", "b015", "b019", "b023"]
    assert all(q["sort"] == "id" and q["limit"] == "10" and q["pool_id"] == pid for q in pages)


# --------------------------------------------------------------------------------------------
# tokens and errors


def test_wrong_token_gets_a_clear_error_without_the_token(stub):
    wrong = "AQAAAAAwrongTOKEN9876543210"
    c = make_client(wrong, url=stub.url)
    with pytest.raises(TolokaAPIError) as err:
        read_pool(c, P.POOL_ID)
    text = str(err.value)
    assert "rejected the token" in text and "TOLOKA_TOKEN" in text and "401" in text
    assert wrong not in text and wrong not in repr(err.value)
    # toloka-kit's exception (holding the request and its headers) is not attached
    assert err.value.__cause__ is None and err.value.__context__ is None
    # a 401 is not retried
    assert len(stub.requests) == 1 and not stub.requests[0].authorised


def test_missing_token_names_the_variable_and_the_secrets_file(monkeypatch):
    with pytest.raises(TolokaConfigError) as err:
        make_client()
    assert "TOLOKA_TOKEN" in str(err.value) and ".streamlit/secrets.toml" in str(err.value)
    monkeypatch.setenv("TOLOKA_TOKEN", "   ")
    with pytest.raises(TolokaConfigError, match="TOLOKA_TOKEN"):
        make_client()


def test_client_settings_from_the_environment(monkeypatch, stub):
    monkeypatch.setenv("TOLOKA_TOKEN", P.TOKEN)
    monkeypatch.setenv("TOLOKA_URL", stub.url)
    c = make_client()
    assert c.url == stub.url and c.token == P.TOKEN
    monkeypatch.delenv("TOLOKA_URL")
    monkeypatch.setenv("TOLOKA_ENVIRONMENT", "sandbox")
    assert make_client().url == "https://sandbox.toloka.dev"  # built, never called
    monkeypatch.setenv("TOLOKA_ENVIRONMENT", "staging")
    with pytest.raises(TolokaConfigError, match="PRODUCTION, SANDBOX"):
        make_client()
    with pytest.raises(TolokaConfigError, match="exclude each other"):
        make_client(P.TOKEN, environment="SANDBOX", url=stub.url)
    with pytest.raises(TolokaConfigError, match="http"):
        make_client(P.TOKEN, url="127.0.0.1:9")


def test_the_token_is_never_logged(stub, caplog):
    caplog.set_level(logging.DEBUG)
    c = make_client(P.TOKEN, url=stub.url)
    read_project(c, [P.POOL_ID], [P.EXAM_POOL_ID])
    pool_progress(c, P.POOL_ID, now=ts("2024-05-01 12:00"))
    messages = []
    for wrong in (P.TOKEN[:-1] + "X", P.TOKEN):
        try:
            read_pool(make_client(wrong, url=stub.url), "999999")
        except (TolokaAPIError, ValidationError) as err:
            messages.append(str(err))
    assert len(caplog.records) > 0  # httpx did log the requests
    for rec in caplog.records:
        assert P.TOKEN not in rec.getMessage() and P.TOKEN not in str(rec.args)
    assert P.TOKEN not in caplog.text
    assert len(messages) == 2 and all(P.TOKEN not in m and P.TOKEN[:-1] not in m for m in messages)
    assert "does not exist" in messages[1]


def test_unknown_pool_says_so(client):
    with pytest.raises(TolokaAPIError, match="pool 999999.*does not exist"):
        read_pool(client, "999999")


# --------------------------------------------------------------------------------------------
# bad data from the API: the same validation as files


def test_bad_api_data_gets_the_file_readers_validation(stub, client, tmp_path):
    stub.assignments[0].pop("user_id")  # a1 without an annotator
    stub.assignments[1]["tasks"][1]["known_solutions"][0]["output_values"]["result"] = "cow"  # a2's control task
    with pytest.raises(ValidationError) as err:
        read_pool(client, P.POOL_ID)
    problems = {p.column: p for p in err.value.problems}
    assert set(problems) == {"assignment.user_id", "assignment.tasks[].known_solutions[].output_values.result"}
    worker = problems["assignment.user_id"]
    assert worker.file == "Toloka pool 1234" and worker.count == 3 and "In assignment a1." in worker.message
    golden = problems["assignment.tasks[].known_solutions[].output_values.result"]
    assert golden.values == ("cow",) and "In assignment a2." in golden.message
    assert "assignment.user_id" in str(err.value)

    # the same defect in a TSV gets the same problem, in the file's words
    rows = [list(r) for r in ROWS]
    for r in rows[:3]:
        r[col("ASSIGNMENT:worker_id")] = ""
    with pytest.raises(ValidationError) as tsv_err:
        read_toloka_tsv(write_tsv(tmp_path / "r.tsv", rows))
    tsv = next(p for p in tsv_err.value.problems if p.column == "ASSIGNMENT:worker_id")
    assert worker.message.startswith(tsv.message)
    assert worker.fix == tsv.fix.replace("ASSIGNMENT:worker_id", "assignment.user_id")


def test_an_empty_pool_is_a_validation_problem(stub, client):
    stub.pools["5000"] = P.pool("5000", configs=[])
    with pytest.raises(ValidationError, match="Toloka pool 5000.*no answers"):
        read_pool(client, "5000")


# --------------------------------------------------------------------------------------------
# several pools, and the whole import


def test_read_project_marks_exam_pools(stub, client):
    run = read_project(client, [P.POOL_ID], [P.EXAM_POOL_ID])
    a = run.answers
    assert len(a) == 13
    exam = a[a["pool_id"] == P.EXAM_POOL_ID]
    assert set(exam["kind"].astype(str)) == {"exam"} and exam["golden"].astype(str).tolist() == [
        "cat",
        "dog",
        "cat",
        "dog",
    ]
    assert [(p.pool_id, p.kind) for p in run.meta.pools] == [("1234", "main"), ("1233", "exam")]
    assert run.pricing.reward_per_assignment is None  # pools differ; each pool keeps its own
    assert len(run.restrictions) == 3
    # restrictions are read once per pool, once for the project, once for all projects
    assert len(stub.requests_to("/api/v1/user-restrictions")) == 4
    assert len(stub.requests_to("/api/v1/projects/77")) == 1
    with pytest.raises(ValueError, match="both a main and an exam pool"):
        read_project(client, [P.POOL_ID], [P.POOL_ID])
