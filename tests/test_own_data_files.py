"""Your own data gets the whole run: Toloka files (pool configs, restrictions, bonuses), a fee
default shown as assumed, and priced long tables (issue 12, points 3 and 4).

The round trip: the loopback Toloka stub's own objects, written with toloka-kit's ``to_json()``,
plus a results TSV of the stub's assignments, imported from files, give the run and the report
that ``analytics.versions.import_from_toloka`` gives for the same pools from the stub.
"""

from __future__ import annotations

import copy
import json

import pandas as pd
import pytest
import toloka_payloads as P
from toloka_fixtures import write_export

from analytics.cli import main
from analytics.metrics import cost
from analytics.model import Pricing, ValidationError
from analytics.report import build_report
from analytics.sources import ReadOptions, read_files
from analytics.sources.toloka.files import read_toloka_files
from analytics.sources.workspace import Workspace
from analytics.versions import import_files, import_run
from analytics.versions.toloka import import_from_toloka

pytestmark = pytest.mark.usefixtures("loopback_only")

# what the project says beside the pools (the label set in declared order, name, instructions)
PROJECT_FLAGS = ["--labels", "cat,dog", "--project", "Cats or dogs", "--language", "en"]


@pytest.fixture
def toloka_files(stub, tmp_path):
    """The stub's pools, restrictions and bonuses as toloka-kit writes them, and the pools' exports."""
    from toloka.client import Pool
    from toloka.client.user_bonus import UserBonus
    from toloka.client.user_restriction import UserRestriction

    pools = [Pool.from_json(json.dumps(stub.pools[p])) for p in (P.POOL_ID, P.EXAM_POOL_ID)]
    restrictions = [UserRestriction.from_json(json.dumps(r)) for r in stub.restrictions]
    bonuses = [UserBonus.from_json(json.dumps(b)) for b in stub.bonuses]
    files = {
        # the three shapes: pretty-printed objects one after another, one per line, a JSON array
        "pool": tmp_path / "pools.json",
        "restrictions": tmp_path / "restrictions.jsonl",
        "bonuses": tmp_path / "bonuses.json",
        "main": write_export(tmp_path / "main.tsv", [a for a in stub.assignments if a["pool_id"] == P.POOL_ID]),
        "exam": write_export(tmp_path / "exam.tsv", [a for a in stub.assignments if a["pool_id"] == P.EXAM_POOL_ID]),
    }
    files["pool"].write_text("\n".join(p.to_json(pretty=True) for p in pools), encoding="utf-8")
    files["restrictions"].write_text("\n".join(r.to_json() for r in restrictions) + "\n", encoding="utf-8")
    files["bonuses"].write_text("[" + ",\n".join(b.to_json() for b in bonuses) + "]", encoding="utf-8")
    return files


def _options(files, **kw) -> ReadOptions:
    return ReadOptions(
        labels=["cat", "dog"],
        project="Cats or dogs",
        language="en",
        pool_config=[files["pool"]],
        restrictions=[files["restrictions"]],
        bonuses=[files["bonuses"]],
        **kw,
    )


def _records(frame: pd.DataFrame) -> list[dict]:
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def _assert_same_run(got, want) -> None:
    """The same answers (every column, dtype and category order), restrictions, pricing and pools."""
    assert list(got.answers.columns) == list(want.answers.columns)
    for c in want.answers.columns:
        g, w = got.answers[c], want.answers[c]
        assert g.dtype == w.dtype, c
        if isinstance(w.dtype, pd.CategoricalDtype) and c in ("label", "golden", "kind", "status"):
            assert list(g.cat.categories) == list(w.cat.categories), c
    order = ["pool_id", "assignment_id", "task_id"]
    g, w = (r.answers.astype({k: "str" for k in order}).sort_values(order, kind="stable") for r in (got, want))
    assert _records(g.reset_index(drop=True)) == _records(w.reset_index(drop=True))
    pd.testing.assert_frame_equal(got.restrictions, want.restrictions)
    assert got.pricing.to_dict() == want.pricing.to_dict()
    assert got.meta.pools == want.meta.pools  # rewards, overlap, suite size, rules, exam pass mark
    for name in ("labels", "overlap", "project", "language", "label_field"):
        assert getattr(got.meta, name) == getattr(want.meta, name), name
    pd.testing.assert_frame_equal(got.tasks.sort_index(), want.tasks.sort_index())


def _figures(report: dict) -> dict:
    """The report's figures, without what names the source (hints speak the source's language)."""
    out = copy.deepcopy(report)
    for key in ("source", "meta", "unavailable", "seconds"):
        out.pop(key, None)
    for key in ("source_files", "source_kind", "source_fields"):
        out.get("run", {}).pop(key, None)
    return out


def test_files_give_the_run_and_report_of_the_api_import(stub, toloka_files, tmp_path):
    ws = Workspace(tmp_path / "ws")
    api = import_from_toloka(
        ws, [P.POOL_ID], [P.EXAM_POOL_ID], name="cats", version="1.0.0", token=P.TOKEN, url=stub.url, fee_rate=None
    )
    files = import_files(
        ws,
        [toloka_files["main"]],
        _options(toloka_files),
        exam=[toloka_files["exam"]],
        name="cats-files",
        version="1.0.0",
    )
    want, got = ws.open_run(api.id), ws.open_run(files.id)
    _assert_same_run(got, want)
    # what the files carried, spelled out
    exam = got.meta.pool(P.EXAM_POOL_ID)
    assert exam.pass_threshold == 0.8  # Skill(5001) >= 80 in the main pool's filter; the exam pool sets 5001
    assert [r["type"] for r in got.meta.pool(P.POOL_ID).rules] == [
        "fast_responses",
        "golden_set",
        "SKIPPED_IN_ROW_ASSIGNMENTS",
    ]
    assert got.restrictions["worker_id"].tolist() == ["w1", "w2", "w3"]  # not w9 (no answers), not project 88's
    assert got.restrictions["rule"].tolist() == ["manual", "fast_responses", "manual"]
    assert _records(got.pricing.bonuses[["worker_id", "amount"]]) == [
        {"worker_id": "w1", "amount": 0.05},  # for suite a1
        {"worker_id": "w2", "amount": 0.10},  # to a run annotator, without a suite, after the pools were made
    ]
    assert got.pricing.fee_assumed and got.pricing.fee_rate == Pricing.DEFAULT_FEE_RATE
    # the same figures: cost (bonuses and the assumed fee included), exam, agreement, rules, ...
    rep_api, rep_files = build_report(want), build_report(got)
    assert _figures(rep_files) == _figures(rep_api)
    s = cost.spend(got)
    assert s.bonuses == pytest.approx(0.15)
    assert s.total == pytest.approx((0.03 + 0.01 + 0.01) * 1.3 + 0.15 * 1.3)  # a1, x1, x2 paid; a2 rejected
    assert api.metadata["annotation_cost"] == pytest.approx(files.metadata["annotation_cost"])


def test_the_api_import_reads_the_bonuses(stub):
    from analytics.sources.toloka import make_client, read_project

    run = read_project(make_client(P.TOKEN, url=stub.url), [P.POOL_ID], [P.EXAM_POOL_ID])
    b = run.pricing.bonuses
    assert b["worker_id"].tolist() == ["w1", "w2"] and b["amount"].tolist() == [0.05, 0.10]
    assert b["reason"].tolist() == ["Careful answers", "Thank you"]
    (asked,) = [r.query for r in stub.requests_to("/api/v1/user-bonuses")]
    assert asked["created_gte"].startswith("2024-04-30T08:00:00")  # from the first pool's creation on
    assert run.pricing.fee_assumed and "30 % assumed" in run.pricing.fee_note()
    assert read_project(make_client(P.TOKEN, url=stub.url), [P.POOL_ID], fee_rate=0.2).pricing.fee_note() is None


def test_the_cli_flags_round_trip(stub, toloka_files, tmp_path, capsys):
    ws_dir = str(tmp_path / "ws")
    ws = Workspace(ws_dir)
    api = import_from_toloka(
        ws, [P.POOL_ID], [P.EXAM_POOL_ID], name="cats", version="1.0.0", token=P.TOKEN, url=stub.url, fee_rate=None
    )
    f = toloka_files
    flags = [str(f["main"]), "--exam", str(f["exam"]), "--pool-config", str(f["pool"])]
    flags += ["--restrictions", str(f["restrictions"]), "--bonuses", str(f["bonuses"]), *PROJECT_FLAGS]
    assert main(["validate", *flags]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK:") and "platform fee 30 % assumed" in out and "--fee-rate" in out
    assert main(["import", *flags, "--workspace", ws_dir, "--name", "cats-cli", "--version", "1.0.0"]) == 0
    capsys.readouterr()
    stored = next(v for v in ws.versions() if v.name == "cats-cli")
    _assert_same_run(ws.open_run(stored.id), ws.open_run(api.id))
    assert main(["report", *flags, "--format", "json"]) == 0
    from_files = json.loads(capsys.readouterr().out)
    assert main(["report", api.id[:8], "--workspace", ws_dir, "--format", "json"]) == 0
    from_api = json.loads(capsys.readouterr().out)
    assert _figures(from_files) == _figures(from_api)
    # --exam-threshold wins over the skill filter; --fee-rate makes the fee a given, not an assumption
    assert main(["validate", *flags, "--exam-threshold", "50", "--fee-rate", "0.2"]) == 0
    assert "assumed" not in capsys.readouterr().out
    run = read_files([f["main"]], _options(f, exam_threshold=50, fee_rate=0.2), exam=[f["exam"]])
    assert run.meta.pool(P.EXAM_POOL_ID).pass_threshold == 0.5 and run.pricing.fee_rate == 0.2
    assert not run.pricing.fee_assumed
    assert main(["validate", *flags, "--exam-threshold", "150"]) == 2
    assert "0 < x <= 100" in capsys.readouterr().err


def test_exam_threshold_without_a_pool_config(tmp_path, stub):
    """A TSV import says "threshold n/a" no more: --exam-threshold alone gives the pass mark."""
    exam = write_export(tmp_path / "exam.tsv", [a for a in stub.assignments if a["pool_id"] == P.EXAM_POOL_ID])
    main_tsv = write_export(tmp_path / "main.tsv", [a for a in stub.assignments if a["pool_id"] == P.POOL_ID])
    run = read_files([main_tsv], ReadOptions(exam_threshold=100), exam=[exam])
    from analytics.metrics.exam import exam_summary

    s = exam_summary(run)
    assert (s.threshold, s.candidates, s.passed) == (1.0, 2, 1)
    alone = read_files([main_tsv], ReadOptions(exam_threshold=80))
    assert any("no exam pool was read" in n.message for n in alone.notes)


# --------------------------------------------------------------------------------------------
# a bad file gets words, not a traceback


def test_a_bad_pool_config_names_the_file_and_what_is_wrong(toloka_files, tmp_path, capsys):
    not_json = tmp_path / "pool.json"
    not_json.write_text('{"id": "1234", "reward_per_assignment": 0.03,\n "project_id": }\n', encoding="utf-8")
    with pytest.raises(ValidationError) as err:
        read_toloka_files(pool_config=[not_json])
    (p,) = err.value.problems
    assert p.file == str(not_json) and p.rows == (2,) and "not JSON" in p.message and "to_json()" in p.fix
    # restrictions given as a pool config: named for what they are
    with pytest.raises(ValidationError) as err:
        read_toloka_files(pool_config=[toloka_files["restrictions"]])
    assert "is not a Pool: it has no reward_per_assignment (it has user_id" in err.value.problems[0].message
    assert "--pool-config" in err.value.problems[0].fix and err.value.problems[0].rows == (1,)
    # a field of the wrong type: toloka-kit's own reading says which
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps([{"project_id": "77", "reward_per_assignment": 0.03, "mixer_config": 5}]))
    with pytest.raises(ValidationError) as err:
        read_toloka_files(pool_config=[wrong])
    assert "item 1 of the array is not a valid Pool" in err.value.problems[0].message
    assert "mixer_config" in err.value.problems[0].message
    # every file's problems at once, through the CLI, without a traceback
    missing = tmp_path / "nope.jsonl"
    code = main(["validate", str(toloka_files["main"]), "--pool-config", str(not_json), "--bonuses", str(missing)])
    err_text = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err_text
    assert "2 problems found" in err_text and str(not_json) in err_text and str(missing) in err_text


def test_unknown_fields_are_a_warning(tmp_path, toloka_files):
    typo = tmp_path / "pool.json"
    payload = P.pool(filter=P.MAIN_FILTER) | {"reward_per_asignment": 0.5}
    typo.write_text(json.dumps(payload), encoding="utf-8")
    run = read_files([toloka_files["main"]], ReadOptions(pool_config=[typo]))
    (note,) = [n for n in run.notes if "reward_per_asignment" in n.message]
    assert note.severity == "warning" and note.file == str(typo)


# --------------------------------------------------------------------------------------------
# long tables can be priced


def _long_table(tmp_path, with_suites: bool = False):
    rows = ["task,worker,label" + (",hit" if with_suites else "")]
    answers = [("t1", "w1", "a"), ("t1", "w2", "a"), ("t2", "w1", "b"), ("t2", "w3", "a"), ("t3", "w2", "b")]
    hits = ["h1", "h2", "h1", "h3", "h2"]
    for (t, w, x), h in zip(answers, hits, strict=True):
        rows.append(f"{t},{w},{x}" + (f",{h}" if with_suites else ""))
    path = tmp_path / ("suites.csv" if with_suites else "long.csv")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_a_long_table_priced_per_answer(tmp_path):
    path = _long_table(tmp_path)
    run = read_files([path], ReadOptions(reward_per_answer=0.02))
    b = cost.cost_breakdown(run)
    # 5 answers x 0.02, fee 30 % (the default, assumed); 3 tasks have a final label
    assert b.total == pytest.approx(5 * 0.02 * 1.3)
    assert b.final_labels == 3 and b.cost_per_final_label == pytest.approx(5 * 0.02 * 1.3 / 3)
    assert b.cost_per_answer == pytest.approx(0.02 * 1.3)
    assert run.meta.source_name("reward").startswith("--reward-per-answer 0.02")
    # per suite where a suite column is mapped: each suite is paid 0.02 per answer in it
    suites = read_files(
        [_long_table(tmp_path, True)], ReadOptions(reward_per_answer=0.02, columns={"assignment": "hit"})
    )
    t = cost.assignment_table(suites).set_index("assignment_id")
    assert t["reward"].to_dict() == pytest.approx({"h1": 0.04, "h2": 0.04, "h3": 0.02})
    assert cost.cost_breakdown(suites).total == pytest.approx(b.total)


def test_reward_per_suite_on_a_long_table(tmp_path, capsys):
    with_suites = _long_table(tmp_path, True)
    run = read_files([with_suites], ReadOptions(reward_per_assignment=0.05, columns={"assignment": "hit"}, fee_rate=0))
    assert cost.spend(run).total == pytest.approx(3 * 0.05)
    # without a suite column, --reward-per-suite cannot price anything: said, not silently unpriced
    code = main(["validate", str(_long_table(tmp_path)), "--reward-per-suite", "0.05"])
    err = capsys.readouterr().err
    assert code == 1 and "no assignment column" in err and "--reward-per-answer" in err
    assert main(["report", str(_long_table(tmp_path)), "--reward-per-answer", "0.02", "--format", "json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["cost"]["total"] == pytest.approx(0.13) and rep["cost"]["per_label"] == pytest.approx(0.13 / 3)
    export = write_export(tmp_path / "x.tsv", [])  # a Toloka export is priced per suite, not per answer
    with pytest.raises(ValueError, match="prices a long table"):
        read_files([export], ReadOptions(reward_per_answer=0.01))


def test_one_fee_default_for_every_path(tmp_path):
    from analytics.sources import toloka
    from analytics.versions import toloka as version_toloka

    assert toloka.DEFAULT_FEE_RATE == Pricing.DEFAULT_FEE_RATE == 0.3
    assert ReadOptions().fee_rate is None  # the default: Pricing.DEFAULT_FEE_RATE, marked as assumed
    run = read_files([_long_table(tmp_path)], ReadOptions())
    assert run.pricing.fee_rate == 0.3 and run.pricing.fee_assumed
    ws = Workspace(tmp_path / "ws")
    stored = ws.open_run(import_run(ws, run, name="long", version="1.0.0").id)
    assert stored.pricing.fee_assumed and stored.pricing.fee_note() == run.pricing.fee_note()
    given = read_files([_long_table(tmp_path)], ReadOptions(fee_rate=0.0))
    assert given.pricing.fee_rate == 0.0 and given.pricing.fee_note() is None
    assert version_toloka.import_from_toloka.__kwdefaults__["fee_rate"] in (None, Pricing.DEFAULT_FEE_RATE)
