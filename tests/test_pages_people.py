"""The people pages (Exam, Annotators, Annotator detail, Task detail) under AppTest on the demo.

Each test opens a page the way a pasted link would and checks that the numbers on screen are
the analytics results, that drill-down links carry the right ids, that bad links give a clear
message instead of a traceback, and that the ban-review form records a decision.
"""

from __future__ import annotations

import dataclasses
import shutil

import pandas as pd
import pytest
from pages_util import download, frame_with, open_page, ran, recording_downloads, texts

from analytics import people, reviews
from analytics.metrics import aggregation, control, exam, registry
from analytics.model import build_run
from analytics.sources.workspace import Workspace
from analytics.versions import import_run
from dashboard import widgets


@pytest.fixture
def downloads(monkeypatch):
    """file id -> bytes of every download button's payload in this test (pages_util.download reads it)."""
    return recording_downloads(monkeypatch)


@pytest.fixture(scope="module")
def ws(demo_workspace, tmp_path_factory):
    """A private copy of the demo workspace: the decision tests write into it."""
    root = tmp_path_factory.mktemp("people-ws")
    shutil.copytree(demo_workspace.root, root, dirs_exist_ok=True)
    return Workspace(root)


@pytest.fixture(scope="module")
def v11(ws):
    return next(v for v in ws.versions() if v.version == "1.1.0")


@pytest.fixture(scope="module")
def run11(ws, v11):
    return ws.open_run(v11.id)


def banned_worker(run) -> str:
    return str(sorted(run.restrictions["worker_id"].astype(str))[0])


# ---- Exam


def test_exam_page_shows_the_trap_item_with_its_pass_rate(ws, v11, run11):
    at = ran(open_page(ws.root, "exam.py", version=v11.id))
    items = exam.exam_item_pass_rate(run11)
    summary = exam.exam_summary(run11)
    trap = items.index[items["golden"] == "other"][0]
    row = items.loc[trap]
    page = texts(at)
    assert f"Candidates: {summary.candidates:,}" in page
    assert f"Passed: {summary.passed:,} of {summary.candidates:,}" in page
    assert f"Pass rate: {widgets.pct(summary.pass_rate)}" in page
    # the trap stands out: a warning naming it, its counts, interval and reading
    warning = " ".join(str(w.value) for w in at.warning)
    assert trap in warning
    assert (
        widgets.rate_with_counts(row["correct"], row["answers"], row["ci_low"], row["ci_high"], "candidates") in warning
    )
    assert "trap" in warning and f"Discrimination {row['discrimination']:.2f}" in warning
    assert not at.error  # no item in the demo looks broken
    # the counts table is the metric, verdicts and low flags included
    table = frame_with(at, "pass_rate").set_index("task_id")
    assert table.loc[trap, "correct"] == row["correct"] and table.loc[trap, "answers"] == row["answers"]
    assert table.loc[trap, "pass_rate"] == pytest.approx(row["pass_rate"])
    assert table.loc[trap, "verdict"] == "trap" and bool(table.loc[trap, "low_pass_rate"])
    assert int(table["low_pass_rate"].sum()) == 1
    # score distribution: pass / fail counts
    failed = int(exam.exam_scores(run11)["score"].notna().sum()) - summary.passed
    assert f"{summary.passed:,} passed, {failed:,} failed at ≥ 100 %" in page
    # the item drill-down opens on the lowest pass rate: the trap, with links to every candidate
    assert at.selectbox(key="exam_item").value == trap
    answers = frame_with(at, "exam_score")
    assert len(answers) == min(50, row["answers"])
    assert f"of {row['answers']:,} answers" in page  # "Showing the first 50 of 105 answers"
    assert answers["open"].isin(set(run11.answers["worker_id"].astype(str))).all()  # a row click opens them
    assert (answers["check"] == "wrong").sum() == min(50, row["answers"] - row["correct"])


def test_exam_item_deep_link(ws, v11, run11):
    items = exam.exam_item_pass_rate(run11)
    item = items["pass_rate"].idxmax()
    at = ran(open_page(ws.root, "exam.py", version=v11.id, item=item))
    assert at.selectbox(key="exam_item").value == item
    right = people.exam_item_answers(run11, item)
    shown = frame_with(at, "exam_score")
    expected = right.head(50)
    assert shown["label"].astype(str).tolist() == expected["label"].astype(str).tolist()
    assert shown["open"].tolist() == [str(w) for w in expected["worker_id"]]
    assert f"{int(items.loc[item, 'correct'])} of {int(items.loc[item, 'answers'])} answers right" in texts(at)


def test_exam_unknown_item_says_so(ws, v11):
    at = ran(open_page(ws.root, "exam.py", version=v11.id, item="no-such-item"))
    assert any("no-such-item" in str(e.value) for e in at.error)


def test_exam_without_exam_answers_explains(tmp_path):
    ws = Workspace(tmp_path / "ws")
    frame = pd.DataFrame(
        {"worker_id": ["a", "b", "a", "b"], "task_id": ["t1", "t1", "t2", "t2"], "label": ["x", "y", "x", "x"]}
    )
    v = import_run(ws, build_run(frame, file="toy", labels=["x", "y"]), name="no-exam", version="1.0.0")
    at = ran(open_page(ws.root, "exam.py", version=v.id))
    assert "no exam answers" in texts(at)


# ---- Annotators


def test_annotators_page_numbers_equal_the_metrics(ws, v11, run11):
    at = ran(open_page(ws.root, "annotators.py", version=v11.id))
    page = texts(at)
    table = people.annotator_table(run11)
    assert f"Annotators: {len(table):,}" in page
    assert f"Banned: {run11.restrictions['worker_id'].nunique():,}" in page
    assert f"{len(table):,} of {len(table):,} annotators match" in page
    shown = frame_with(at, "control_accuracy")
    assert len(shown) == 50  # one page of rows, not the whole table
    # sorted by answers, most first, over the whole table
    assert shown["answers"].tolist() == sorted(table["answers"], reverse=True)[:50]
    ctl = control.control_accuracy(run11)
    for _, r in shown.iterrows():
        w = r["open"]
        assert r["answers"] == int((run11.answers["worker_id"] == w).sum())
        if w in ctl.index:
            assert r["control_answers"] == ctl.loc[w, "answers"]
            assert r["control_accuracy"] == pytest.approx(ctl.loc[w, "accuracy"], nan_ok=True)


def test_annotators_filters_and_search(ws, v11, run11):
    at = ran(open_page(ws.root, "annotators.py", version=v11.id))
    at.toggle(key="flagged_only").set_value(True).run()
    ran(at)
    shown = frame_with(at, "control_accuracy")
    flagged = people.annotator_table(run11)
    flagged = flagged[flagged["flagged"]]
    assert len(shown) == len(flagged) == 13  # the demo's control rule bans on one wrong control answer
    assert set(shown["ban_status"]) <= set(flagged["ban_status"])
    w = banned_worker(run11)
    at.text_input(key="search").input(w[:10].upper()).run()
    shown = frame_with(ran(at), "control_accuracy")
    assert len(shown) == 1 and shown["open"].iloc[0] == str(w)
    ctl = control.control_accuracy(run11).loc[w]
    assert shown["control_correct"].iloc[0] == ctl["correct"] and shown["control_answers"].iloc[0] == ctl["answers"]
    assert bool(shown["control_enough"].iloc[0]) == bool(ctl["enough"])


def test_ban_review_shows_the_evidence_and_records_a_decision(ws, v11, run11):
    w = banned_worker(run11)
    at = ran(open_page(ws.root, "annotators.py", version=v11.id, annotator=w))
    assert at.selectbox(key="review_annotator").value == w
    bans = frame_with(at, "recorded_rule")
    assert bans["rule"].iloc[0] == bans["recorded_rule"].iloc[0] and bool(bans["agrees"].iloc[0])
    assert "No decision recorded yet" in texts(at)

    # a decision without a reviewer is refused and nothing is written
    at.radio(key="decision").set_value("overturn")
    at.text_area(key="note").input("no name")
    next(b for b in at.button if b.label == "Record decision").click().run()
    ran(at)
    assert any("reviewer" in str(e.value) for e in at.error)
    assert reviews.decisions(ws, v11.id).empty

    at.radio(key="decision").set_value("overturn")
    at.text_input(key="reviewer").input("Dana QA")
    at.text_area(key="note").input("the fast suite was a re-submit <b>after</b> a crash")
    next(b for b in at.button if b.label == "Record decision").click().run()
    ran(at)
    d = reviews.decisions(ws, v11.id)
    assert len(d) == 1
    assert d.iloc[0][["worker_id", "decision", "reviewer"]].tolist() == [w, "overturn", "Dana QA"]
    # stored with the full version id and the hash of the evidence shown (anyone can recompute it)
    (stored,) = reviews.decision_rows(ws, v11.id)
    assert stored.version_id == v11.id
    assert stored.evidence_sha256 == reviews.evidence_hash(registry.compute(run11, "ban_evidence", worker_id=w))
    assert any("Recorded" in str(s.value) and w in str(s.value) for s in at.success)
    history = frame_with(at, "reviewer")
    assert history["decision"].tolist() == ["overturn"]
    # the note an annotator reviewer typed is data in a table, not Markdown
    assert history["note"].iloc[0] == "the fast suite was a re-submit <b>after</b> a crash"
    assert not any("<b>" in str(m.value) for m in at.markdown)
    # and the table's last decision column shows it after the rerun
    at.text_input(key="search").input(w).run()
    assert frame_with(ran(at), "control_accuracy")["last_decision"].tolist() == ["overturn"]


def test_a_decision_that_cannot_be_saved_is_an_error_not_a_traceback(ws, v11, run11, monkeypatch):
    def refuse(*args, **kwargs):
        raise reviews.DecisionNotSaved("The decision was not saved: reviews.sqlite3 could not be written (disk full).")

    monkeypatch.setattr(reviews, "record_decision", refuse)
    w = banned_worker(run11)
    before = len(reviews.decisions(ws, v11.id))
    at = ran(open_page(ws.root, "annotators.py", version=v11.id, annotator=w))
    at.text_input(key="reviewer").input("Dana QA")
    next(b for b in at.button if b.label == "Record decision").click().run()
    ran(at)
    assert any("not saved" in str(e.value) for e in at.error)
    assert not at.success
    assert len(reviews.decisions(ws, v11.id)) == before


def test_a_damaged_reviews_database_is_an_error_and_the_figures_stay(demo_workspace, tmp_path):
    root = tmp_path / "ws"
    shutil.copytree(demo_workspace.root, root)
    (root / reviews.DATABASE).write_bytes(b"this is not an SQLite database" * 100)
    v = next(v for v in Workspace(root).versions() if v.version == "1.1.0")
    run = Workspace(root).open_run(v.id)
    answers = int((run.answers["worker_id"] == banned_worker(run)).sum())
    for page, params, tile in [
        ("annotators.py", {}, f"Annotators: {run.answers['worker_id'].nunique():,}"),
        ("annotator.py", {"annotator": banned_worker(run)}, f"Answers: {answers:,}"),
    ]:
        at = ran(open_page(root, page, version=v.id, **params))
        assert any("damaged" in str(e.value) for e in at.error), page
        assert tile in texts(at), page


def test_annotators_csv_download_is_the_filtered_table(ws, v11, run11, downloads):
    at = ran(open_page(ws.root, "annotators.py", version=v11.id))
    at.toggle(key="flagged_only").set_value(True).run()
    csv = ran(at).get("download_button")[0]
    assert csv.label.startswith("Download these annotators")
    # the file holds every flagged annotator (not one page of them), and only those
    expected = people.filter_annotators(people.annotator_table(run11), flagged_only=True)
    got = download(at, downloads, key="annotators_csv")
    assert len(expected) > 0
    assert sorted(got["worker_id"]) == sorted(expected.index)


# ---- Annotator detail


def test_annotator_deep_link_numbers(ws, v11, run11):
    w = banned_worker(run11)
    at = ran(open_page(ws.root, "annotator.py", version=v11.id, annotator=w))
    page = texts(at)
    assert w in at.title[0].value
    mine = run11.answers[run11.answers["worker_id"] == w]
    assert f"Answers: {len(mine):,}" in page
    ctl = control.control_accuracy(run11).loc[w]
    assert f"Control accuracy: {widgets.pct(ctl['accuracy'])}" in page
    assert (
        widgets.rate_with_counts(ctl["correct"], ctl["answers"], ctl["ci_low"], ctl["ci_high"], "control answers")
        in page
    )
    table = people.annotator_table(run11).loc[w]
    assert f"Agreement with MV: {widgets.pct(table['agreement'])}" in page
    assert f"Median s/task: {table['median_seconds_per_task']:.1f} s" in page
    assert f"Exam score: {widgets.pct(table['exam_score'], 0)}" in page
    assert "Ban: banned" in page
    # every answer (a row click opens its task in the same tab), wrong control answers marked with the word
    shown = frame_with(at, "task_id")
    assert len(shown) == min(1_000, len(mine))
    wrong_ctl = int(((mine["kind"] == "control") & (mine["label"].astype(str) != mine["golden"].astype(str))).sum())
    assert f"{wrong_ctl:,} wrong control answers" in page
    assert set(shown.loc[shown["kind"] == "control", "check"]) <= {"right", "wrong"}
    ds = aggregation.aggregate(run11, "ds")
    regular = shown[shown["kind"] == "regular"].iloc[0]
    tid = regular["task_id"]
    assert regular["ds_label"] == ds.labels.loc[tid, "label"]
    assert regular["ds_confidence"] == pytest.approx(ds.labels.loc[tid, "confidence"])
    # the wrong-only filter
    at.toggle(key="wrong_only").set_value(True).run()
    assert (frame_with(ran(at), "task_id")["check"] == "wrong").all()


def test_annotator_with_exam_only(ws, v11, run11):
    t = people.annotator_table(run11)
    w = t.index[t["labeling_answers"] == 0][0]
    at = ran(open_page(ws.root, "annotator.py", version=v11.id, annotator=w))
    page = texts(at)
    assert "Control accuracy: n/a" in page and "No regular answers" in page


# ---- Task detail


def test_task_deep_link_numbers(ws, v11, run11):
    a = run11.answers
    tid = str(a.loc[a["kind"] == "control", "task_id"].iloc[0])
    at = ran(open_page(ws.root, "task.py", version=v11.id, task=tid))
    page = texts(at)
    assert tid in at.title[0].value
    mine = a[a["task_id"] == tid]
    assert f"{len(mine):,} answers" in page
    golden = str(mine["golden"].dropna().iloc[0])
    assert f"Golden label: {golden}" in page
    votes = frame_with(at, "confidence")
    expected = aggregation.task_votes(run11, tid).reset_index()
    assert votes["method"].tolist() == expected["method"].tolist()
    assert votes["label"].astype(str).tolist() == expected["label"].astype(str).tolist()
    assert votes["confidence"].tolist() == pytest.approx(expected["confidence"].tolist())
    answers = frame_with(at, "worker_id")  # a row click opens the annotator in the same tab
    assert sorted(answers["worker_id"]) == sorted(mine["worker_id"].astype(str))
    # the image input: its URL as text (st.code) whatever the image does
    url = run11.tasks.loc[tid, "image"]
    assert url in [c.value for c in at.code]


def test_task_inputs_are_text_never_markup(tmp_path):
    """Inputs and ids typed by people are shown as text: no Markdown or HTML comes out of them."""
    ws = Workspace(tmp_path / "ws")
    evil = "<img src=x onerror=alert(1)> [click](javascript:alert(1)) **bold**"
    frame = pd.DataFrame(
        {
            "worker_id": ["w_*1*", "w2", "w_*1*", "w2"],
            "task_id": ["t[1]", "t[1]", "t2", "t2"],
            "label": ["x", "y", "x", "x"],
        }
    )
    tasks = pd.DataFrame({"task_id": ["t[1]", "t2"], "text": [evil, "plain"]})
    v = import_run(ws, build_run(frame, file="toy", labels=["x", "y"], tasks=tasks), name="evil", version="1.0.0")
    at = ran(open_page(ws.root, "task.py", version=v.id, task="t[1]"))
    assert evil in [c.value for c in at.code]
    rendered = "\n".join(str(m.value) for m in [*at.markdown, *at.title, *at.caption])
    assert "<img" not in rendered and "](javascript" not in rendered
    assert at.title[0].value == "Task t\\[1\\]"
    at = ran(open_page(ws.root, "annotator.py", version=v.id, annotator="w_*1*"))
    assert at.title[0].value == "Annotator w\\_\\*1\\*"


# ---- bad links


@pytest.mark.parametrize("page", ["exam.py", "annotators.py", "annotator.py", "task.py"])
def test_unknown_version(ws, page):
    at = ran(open_page(ws.root, page, version="deadbeef", annotator="x", task="y"))
    assert any("No dataset version has the id `deadbeef`" in str(e.value) for e in at.error)


@pytest.mark.parametrize("page, param, what", [("annotator.py", "annotator", "annotator"), ("task.py", "task", "task")])
def test_unknown_and_missing_drill_down_ids(ws, v11, page, param, what):
    at = ran(open_page(ws.root, page, version=v11.id, **{param: "no-such-id"}))
    assert any(f"There is no {what} `no-such-id`" in str(e.value) for e in at.error)
    # no id in the URL: the picker shows the first of the version's list, and writes it into the URL
    at = ran(open_page(ws.root, page, version=v11.id))
    assert at.query_params[param] and at.title[0].value.startswith(what.capitalize())
    assert at.button(key=f"_pick_{param}_next") is not None


def test_every_people_page_on_every_demo_version(ws):
    for v in ws.versions():
        run = ws.open_run(v.id)
        a = run.answers
        w = str(a["worker_id"].value_counts().index[-1])  # the least active annotator
        t = str(a.loc[a["kind"] == "exam", "task_id"].iloc[0])
        for page, params in [
            ("exam.py", {}),
            ("annotators.py", {}),
            ("annotator.py", {"annotator": w}),
            ("task.py", {"task": t}),
        ]:
            at = open_page(ws.root, page, version=v.id, **params)
            assert not at.exception, (v.label, page, [e.value for e in at.exception])
            assert not at.error, (v.label, page, [e.value for e in at.error])


def test_a_run_with_rules_but_no_restrictions_is_reviewed_from_the_replay(tmp_path):
    """An annotator the replay bans without a recorded restriction is still offered for review."""
    from test_people import toy_run

    run = toy_run()
    run = dataclasses.replace(run, restrictions=run.restrictions.iloc[0:0])
    ws = Workspace(tmp_path / "ws")
    v = import_run(ws, run, name="toy", version="1.0.0")
    at = ran(open_page(ws.root, "annotators.py", version=v.id))
    assert at.selectbox(key="review_annotator").value == "w2"
    assert "Flagged, not banned: 1" in texts(at)
    table = frame_with(at, "ban_status")
    status = dict(zip(table["open"], table["ban_status"], strict=True))
    assert status["w2"] == "not banned; the replay of golden_set would ban"


def test_task_votes_caption_counts_what_the_aggregators_count(ws, v11, run11):
    # a task with an answer in a rejected suite: that answer is not a vote (as in aggregation)
    a = run11.answers
    rejected = a[(a["status"] == "REJECTED") & a["kind"].isin(["regular", "control"]) & a["label"].notna()]
    assert len(rejected), "the reviewed demo version has rejected suites"
    task = str(rejected["task_id"].iloc[0])
    at = ran(open_page(ws.root, "task.py", version=v11.id, task=task))
    mine = a[
        (a["task_id"] == task)
        & a["kind"].isin(["regular", "control"])
        & a["label"].notna()
        & (a["status"] != "REJECTED")
    ]
    counts = mine["label"].astype(str).value_counts()
    expected = (
        " · ".join(f"{widgets.md_escape(lab)} {int(counts.get(lab, 0)):,}" for lab in run11.labels)
        + f" (of {len(mine):,})"
    )
    assert expected in texts(at)


def test_exam_item_shows_its_image_from_the_workspace(ws, v11, run11):
    """The demo's exam items are images stored in the workspace: the item's own image is shown."""
    at = open_page(ws.root, "exam.py", version=v11.id)
    assert not at.exception and not at.error
    item = at.selectbox(key="exam_item").value
    if not len(run11.tasks.columns) or str(item) not in run11.tasks.index:
        pytest.skip("this demo's exam items carry no inputs")
    # widgets.task_input shows the image and always its address as text
    assert at.get("image") and any("media/" in str(c.value) for c in at.code)
