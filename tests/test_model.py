"""The canonical run: each validation check on a tiny hand-built frame, merge_runs' errors, source field names."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

import analytics.model as model
from analytics.model import RunMeta, ValidationError, build_run, merge_runs
from analytics.model.columns import statuses
from analytics.model.raw import RawAnswers
from analytics.model.times import read_times, submitted_before_started
from analytics.model.validation import (
    answers_without_id,
    answers_without_label,
    duplicate_assignment_tasks,
    golden_outside_label_set,
    invalid_rewards,
    missing_columns,
    no_answers,
    unknown_statuses,
)

TSV = {
    "assignment_id": "ASSIGNMENT:assignment_id",
    "task_id": "INPUT:image",
    "worker_id": "ASSIGNMENT:worker_id",
    "label": "OUTPUT:result",
    "golden": "GOLDEN:result",
    "status": "ASSIGNMENT:status",
    "started_at": "ASSIGNMENT:started",
    "submitted_at": "ASSIGNMENT:submitted",
    "reward": "ASSIGNMENT:reward",
}


def answers(**overrides) -> pd.DataFrame:
    """Three answers in one assignment, every check passing; ``overrides`` replace whole columns."""
    cols = {
        "assignment_id": ["a1", "a1", "a1"],
        "task_id": ["t1", "t2", "t3"],
        "worker_id": ["w1", "w1", "w1"],
        "label": ["cat", "dog", "cat"],
        "golden": [None, "dog", None],
        "status": ["APPROVED", "APPROVED", "APPROVED"],
        "started_at": ["2024-03-01T12:00:00"] * 3,
        "submitted_at": ["2024-03-01T12:01:00"] * 3,
        "reward": ["0.02"] * 3,
    }
    cols.update(overrides)
    return pd.DataFrame(cols)


def raw(frame: pd.DataFrame, columns=TSV) -> RawAnswers:
    return RawAnswers(frame, "results.tsv", columns)


def only(problems):
    assert len(problems) == 1, problems
    return problems[0]


# --------------------------------------------------------------------------------------------
# the package keeps every name the single module had


def test_every_public_name_is_importable_from_the_package():
    for name in model.__all__:
        assert getattr(model, name) is not None
    assert model.KINDS == ("regular", "control", "training", "exam")
    assert model.STATUSES_WITHOUT_ANSWER == ("SKIPPED", "EXPIRED")


# --------------------------------------------------------------------------------------------
# one check at a time


def test_a_clean_frame_has_no_problem_in_any_check():
    r = raw(answers())
    status = statuses(r)
    assert no_answers(r) == [] and missing_columns(r) == []
    assert answers_without_id(r, "worker_id") == [] and unknown_statuses(r, status) == []
    assert answers_without_label(r, r.text("label"), status) == []
    assert golden_outside_label_set(r, r.text("golden"), ["cat", "dog"]) == []
    assert invalid_rewards(r) == [] and duplicate_assignment_tasks(r) == []


def test_no_answers():
    p = only(no_answers(raw(answers().iloc[:0])))
    assert (p.file, p.message) == ("results.tsv", "there are no answers in it.")


def test_missing_column_is_named_as_the_source_calls_it():
    p = only(missing_columns(raw(answers().drop(columns="label"))))
    assert p.message == "required column OUTPUT:result is missing."
    assert p.column == "OUTPUT:result"
    assert p.fix.startswith("include OUTPUT:result in the export")


def test_answer_without_a_worker():
    p = only(answers_without_id(raw(answers(worker_id=["w1", None, " "])), "worker_id"))
    assert p.message == "2 answer(s) have no worker id."
    assert (p.column, p.rows, p.count) == ("ASSIGNMENT:worker_id", (3, 4), 2)
    assert p.fix == "fill ASSIGNMENT:worker_id on every row, or drop the rows that are not answers."


def test_lines_come_from_the_readers_line_column():
    frame = answers(task_id=["t1", None, "t3"]).assign(_line=[10, 12, 15])
    assert only(answers_without_id(raw(frame), "task_id")).rows == (12,)


def test_unknown_status_after_toloka_aliases():
    r = raw(answers(status=["approved", "DONE", "ACTIVE"]))
    p = only(unknown_statuses(r, statuses(r)))
    assert p.message == "unknown assignment status on 1 row(s)."
    assert (p.column, p.rows, p.values) == ("ASSIGNMENT:status", (3,), ("DONE",))


def test_a_skipped_answer_may_have_no_label_a_submitted_one_may_not():
    r = raw(answers(label=["cat", None, None], status=["SKIPPED", "SKIPPED", "SUBMITTED"]))
    p = only(answers_without_label(r, r.text("label"), statuses(r)))
    assert p.message == "1 answer(s) have no label."
    assert (p.column, p.rows) == ("OUTPUT:result", (4,))


def test_golden_outside_the_label_set():
    r = raw(answers(golden=[None, "dgo", "cat"]))
    p = only(golden_outside_label_set(r, r.text("golden"), ["cat", "dog"]))
    assert p.message == "golden (known correct) label is not in the label set (cat, dog)."
    assert (p.column, p.rows, p.values) == ("GOLDEN:result", (3,), ("dgo",))


def test_duplicate_assignment_task_rows():
    r = raw(answers(task_id=["t1", "t2", "t1"]))
    p = only(duplicate_assignment_tasks(r))
    assert p.message == ("1 duplicate (assignment, task) row(s): the same task appears twice in one assignment.")
    assert (p.column, p.rows) == ("ASSIGNMENT:assignment_id + INPUT:image", (2, 4))


@pytest.mark.parametrize("together", [True, False])
@pytest.mark.parametrize("suite", [3, 10, 80])  # 80: longer than the runs the unsorted check looks along
def test_duplicates_are_found_wherever_an_assignment_s_rows_lie(together, suite):
    rng = np.random.default_rng(suite)
    for trial in range(20):
        n_suites = 30
        rows = [(f"a{s}", f"t{int(t)}") for s in range(n_suites) for t in rng.choice(500, suite, replace=False)]
        if trial % 2:  # one task twice in one suite, somewhere in it
            s, i = int(rng.integers(n_suites)), int(rng.integers(1, suite))
            rows[s * suite + i] = (rows[s * suite][0], rows[s * suite + int(rng.integers(i))][1])
        if not together:
            rows = [rows[i] for i in rng.permutation(len(rows))]
        frame = answers(
            **{c: [v] * len(rows) for c, v in answers().iloc[0].items()},
        ).assign(assignment_id=[a for a, _ in rows], task_id=[t for _, t in rows])
        found = duplicate_assignment_tasks(raw(frame))
        expected = frame.duplicated(["assignment_id", "task_id"], keep=False)
        assert bool(found) == bool(trial % 2) == expected.any()
        if found:
            assert only(found).rows == tuple(int(i) + 2 for i in np.flatnonzero(expected))


def test_rows_without_an_assignment_are_never_duplicates():
    assert duplicate_assignment_tasks(raw(answers(assignment_id=[None] * 3, task_id=["t1"] * 3))) == []


def test_a_timestamp_that_does_not_parse():
    r = raw(answers(submitted_at=["2024-03-01T12:01:00", "yesterday", ""]))
    times, problems = read_times(r, "submitted_at")
    p = only(problems)
    assert p.message == "timestamp does not parse."
    assert (p.column, p.rows, p.values) == ("ASSIGNMENT:submitted", (3,), ("yesterday",))
    assert times.isna().tolist() == [False, True, True]


def test_an_absent_time_column_is_all_missing_and_no_problem():
    times, problems = read_times(raw(answers().drop(columns="started_at")), "started_at")
    assert problems == [] and times.isna().all()


def test_submitted_before_started_is_a_warning():
    r = raw(answers(submitted_at=["2024-03-01T11:00:00", "2024-03-01T12:01:00", "2024-03-01T12:01:00"]))
    started, _ = read_times(r, "started_at")
    submitted, _ = read_times(r, "submitted_at")
    p = only(submitted_before_started(r, started, submitted))
    assert p.message == "an assignment is submitted before it was started."
    assert (p.severity, p.column, p.rows) == ("warning", "ASSIGNMENT:submitted", (2,))


def test_a_reward_that_is_not_a_non_negative_number():
    p = only(invalid_rewards(raw(answers(reward=["0.02", "-1", "free"]))))
    assert p.message == "reward is not a non-negative number."
    assert (p.column, p.rows, set(p.values)) == ("ASSIGNMENT:reward", (3, 4), {"-1", "free"})


def test_build_run_reports_every_check_at_once_in_order():
    frame = answers(worker_id=["w1", None, "w1"], status=["DONE"] * 3, task_id=["t1", "t1", "t3"])
    with pytest.raises(ValidationError) as err:
        build_run(frame, file="results.tsv", columns=TSV)
    messages = [p.message for p in err.value.problems]
    assert messages == [
        "1 answer(s) have no worker id.",
        "unknown assignment status on 3 row(s).",
        "1 duplicate (assignment, task) row(s): the same task appears twice in one assignment.",
    ]
    assert str(err.value).startswith("3 problems found; nothing was imported.\n- results.tsv, line 3, column")


def test_a_handed_over_frame_gives_the_same_run_and_its_time_text_is_dropped():
    kept = answers()
    handed = answers()
    run = build_run(handed, file="results.tsv", columns=TSV, handed_over=True)
    pd.testing.assert_frame_equal(run.answers, build_run(kept, file="results.tsv", columns=TSV).answers)
    assert "started_at" in kept.columns and "submitted_at" in kept.columns  # not handed over: untouched
    assert "started_at" not in handed.columns and "submitted_at" not in handed.columns
    assert str(run.answers["submitted_at"].iloc[0]) == "2024-03-01 12:01:00+00:00"


def test_a_handed_over_frame_still_names_the_lines_of_bad_times():
    frame = answers(started_at=["2024-03-01T12:00:00", "soon", "2024-03-01T12:00:00"])
    with pytest.raises(ValidationError) as err:
        build_run(frame, file="results.tsv", columns=TSV, handed_over=True)
    p = only(err.value.problems)
    assert (p.message, p.column, p.rows, p.values) == (
        "timestamp does not parse.",
        "ASSIGNMENT:started",
        (3,),
        ("soon",),
    )


# --------------------------------------------------------------------------------------------
# the source's names for the canonical fields


def test_build_run_keeps_the_source_names_and_kind():
    run = build_run(answers(), file="results.tsv", columns=TSV, source_kind="Toloka TSV")
    assert run.meta.source_kind == "Toloka TSV"
    assert run.meta.source_fields["submitted_at"] == "ASSIGNMENT:submitted"
    assert run.meta.source_name("reward") == "ASSIGNMENT:reward"
    # a field the source has no name for is called by its canonical name
    assert run.meta.source_name("pool_id") == "pool_id"
    # a kind given on the meta is kept when build_run is not told one
    kept = build_run(answers(), file="results.tsv", meta=RunMeta(source_kind="long table"))
    assert kept.meta.source_kind == "long table" and kept.meta.source_fields == {}


def test_source_names_survive_json_and_old_stored_runs_still_load():
    meta = build_run(answers(), file="results.tsv", columns=TSV, source_kind="Toloka TSV").meta
    back = RunMeta.from_dict(json.loads(json.dumps(meta.to_dict())))
    assert back == meta
    old = meta.to_dict()
    del old["source_fields"], old["source_kind"]
    loaded = RunMeta.from_dict(old)
    assert (loaded.source_fields, loaded.source_kind) == ({}, "")
    assert dataclasses.replace(loaded, source_fields=meta.source_fields, source_kind="Toloka TSV") == meta


# --------------------------------------------------------------------------------------------
# merging runs


def pool_run(pool_id: str, file: str, *, assignment: str, columns=TSV, kind="Toloka TSV"):
    frame = answers(assignment_id=[assignment] * 3).assign(pool_id=pool_id)
    meta = RunMeta(source_files=(file,))
    return build_run(frame, file=file, columns=columns, meta=meta, source_kind=kind)


def test_a_pool_in_two_runs_is_an_error_naming_the_pool_and_both_files():
    a = pool_run("p1", "a.tsv", assignment="a1")
    b = pool_run("p1", "b.tsv", assignment="a2")  # other assignments: no (assignment, task) repeats
    with pytest.raises(ValidationError) as err:
        merge_runs([a, b], file="a.tsv, b.tsv")
    p = only(err.value.problems)
    assert p.message == "pool p1 has answers in two of the merged runs: run 1 (a.tsv) and run 2 (b.tsv)."
    assert p.fix.startswith("merge each pool's results once (drop the repeated file)")
    assert (p.file, p.column, p.count) == ("a.tsv, b.tsv", "pool_id", 3)


def test_the_same_run_merged_twice_reports_the_pool_and_the_repeated_rows():
    a = pool_run("p1", "a.tsv", assignment="a1")
    with pytest.raises(ValidationError) as err:
        merge_runs([a, a])
    assert [p.message for p in err.value.problems] == [
        "pool p1 has answers in two of the merged runs: run 1 (a.tsv) and run 2 (a.tsv).",
        "6 (assignment, task) rows appear in more than one of the merged runs.",
    ]


def test_distinct_pools_merge_and_keep_the_source_names_they_agree_on():
    a = pool_run("p1", "a.tsv", assignment="a1")
    b = pool_run("p2", "b.tsv", assignment="a2")
    merged = merge_runs([a, b])
    assert len(merged.answers) == 6 and set(merged.answers["pool_id"]) == {"p1", "p2"}
    assert merged.meta.source_fields == a.meta.source_fields and merged.meta.source_kind == "Toloka TSV"
    long_names = {**TSV, "label": "answer"}
    c = pool_run("p3", "c.csv", assignment="a3", columns=long_names, kind="long table")
    mixed = merge_runs([a, c])
    # a field the runs name differently falls back to its canonical name
    assert mixed.meta.source_name("label") == "label"
    assert mixed.meta.source_name("submitted_at") == "ASSIGNMENT:submitted"
    assert mixed.meta.source_kind == "Toloka TSV + long table"
    given = merge_runs([a, c], meta=RunMeta(source_kind="workspace", source_fields={"label": "x"}))
    assert (given.meta.source_kind, dict(given.meta.source_fields)) == ("workspace", {"label": "x"})


def test_parts_of_one_long_table_are_not_a_pool_read_twice(tmp_path):
    """Files that name no pool get the reader's own pool id: merging them is not the repeated-pool error."""
    from analytics.sources import read_files

    (tmp_path / "a.csv").write_text("task,worker,label\nt1,w1,x\nt1,w2,y\n")
    (tmp_path / "b.csv").write_text("task,worker,label\nt2,w1,x\nt2,w3,x\n")
    run = read_files([tmp_path / "a.csv", tmp_path / "b.csv"])
    assert len(run.answers) == 4 and run.answers["task_id"].nunique() == 2


@pytest.mark.parametrize(
    "texts",
    [
        ["2024-03-01T12:00:00", "2024-03-01 12:00:01.5", "2024-02-29T23:59:59.123456789"],  # the fast way
        ["2024-03-01T12:00:00", "2024-03-01T12:00:00Z", "2024-03-01T14:00:00+02:00"],  # offsets: pandas
        ["2024-03-01T12:00:00", "2024-13-01T12:00:00", "Mon Mar 25 07:39:42 PDT 2019"],  # out of range, other forms
    ],
)
def test_times_parse_to_the_instants_pandas_gives(texts):
    from analytics.model.times import _parse_time_text

    got = _parse_time_text(pd.Index(texts, dtype="str")).astype("datetime64[ns, UTC]")
    first = pd.to_datetime(pd.Series(texts[:1]), utc=True, format="ISO8601")
    assert got[0] == first[0]
    for text, stamp in zip(texts, got, strict=True):
        expected = pd.to_datetime(text.replace("PDT", "-0700"), utc=True, errors="coerce", format="mixed")
        assert (pd.isna(stamp) and pd.isna(expected)) or stamp == expected, text


def test_used_codes_marks_the_categories_some_row_names():
    from analytics.model.categories import used_codes

    codes = np.array([2, -1, 0, 2, -1], dtype=np.int8)
    for step in (1, 2, 1 << 20):  # slices that split the rows, and one that does not
        assert used_codes(codes, 4, step=step).tolist() == [True, False, True, False]
    assert used_codes(np.array([-1, -1], np.int32), 3).tolist() == [False, False, False]
    rng = np.random.default_rng(3)
    many = rng.integers(-1, 5000, 100_000).astype(np.int32)
    expected = np.bincount(many[many >= 0], minlength=6000) > 0
    assert (used_codes(many, 6000, step=777) == expected).all()
