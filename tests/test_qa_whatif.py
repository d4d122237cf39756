"""QA what-ifs: rules with other thresholds on a toy pool worked by hand, the false-ban risk against
binomial sums and brute force, the ban audit on the demo's wrong golden labels, the exam review,
QA proposals in the reviews database, and the ``rules`` / ``audit`` / ``exam-review`` commands."""

from __future__ import annotations

import itertools
import json
import math
import shutil
import sqlite3

import numpy as np
import pandas as pd
import pytest

from analytics import qa_records, reviews
from analytics.cli import main
from analytics.metrics import banrisk, registry
from analytics.metrics.whatif import normalize_settings, rules_whatif
from analytics.model import PoolInfo, Pricing, RunMeta, build_run

T0 = pd.Timestamp("2024-05-01T10:00:00", tz="UTC")
FAST = {"type": "fast_responses", "history_size": 3, "count": 2, "fast_submit_threshold_seconds": 15}
GOLD = {"type": "golden_set", "history_size": 4, "min_answers": 3, "min_correct_percent": 50}
REWARD, FEE_RATE, FEE_MIN = 0.05, 0.3, 0.001
SUITE_COST = REWARD + max(REWARD * FEE_RATE, FEE_MIN)

# (worker, assignment, start minute, seconds, control answer right?)
SUITES = [
    # w1: right, wrong, wrong, wrong, right: 1 of 3 right after a3 -> banned there (a4, a5 after)
    ("w1", "a1", 0, 60, True),
    ("w1", "a2", 2, 60, False),
    ("w1", "a3", 4, 60, False),
    ("w1", "a4", 6, 60, False),
    ("w1", "a5", 8, 60, True),
    # w2: 10 s, 60 s, 12 s, 60 s: 2 fast of the last 3 after b3 (under 15 s) -> banned there
    ("w2", "b1", 0, 10, True),
    ("w2", "b2", 2, 60, True),
    ("w2", "b3", 4, 12, True),
    ("w2", "b4", 6, 60, True),
    # w3: 20 s suites, all right: banned by nothing at 15 s; at 25 s after c2 (c3 after it)
    ("w3", "c1", 0, 20, True),
    ("w3", "c2", 2, 20, True),
    ("w3", "c3", 4, 20, True),
    # w4: slow and right
    ("w4", "d1", 0, 60, True),
    ("w4", "d2", 2, 60, True),
]
RECORDED = [{"worker_id": "w1", "pool_id": "p1", "rule": "golden_set", "reason": "control", "scope": "PROJECT"}]


def toy_run(suites=SUITES):
    rows = []
    for w, a, minute, secs, right in suites:
        start = T0 + pd.Timedelta(minutes=minute)
        common = {
            "assignment_id": a,
            "worker_id": w,
            "pool_id": "p1",
            "started_at": start,
            "submitted_at": start + pd.Timedelta(seconds=secs),
            "status": "ACCEPTED",
            "reward": REWARD,
        }
        rows.append({**common, "task_id": f"r-{a[1]}", "label": "x", "golden": None})
        rows.append({**common, "task_id": f"ctl-{a}", "label": "x" if right else "y", "golden": "x"})
    restr = pd.DataFrame([{**r, "created_at": T0 + pd.Timedelta(minutes=5, seconds=0.5)} for r in RECORDED])
    return build_run(
        pd.DataFrame(rows),
        file="toy",
        meta=RunMeta(pools=(PoolInfo("p1", kind="main", rules=(FAST, GOLD)),)),
        pricing=Pricing(fee_rate=FEE_RATE, fee_minimum=FEE_MIN),
        labels=["x", "y"],
        restrictions=restr,
    )


@pytest.fixture(scope="module")
def toy():
    return toy_run()


def test_the_recorded_thresholds_change_nothing(toy):
    w = rules_whatif(toy)
    assert w.banned[["worker_id", "rule", "change"]].values.tolist() == [
        ["w1", "golden_set", "same"],
        ["w2", "fast_responses", "same"],
    ]
    assert w.banned["recorded"].tolist() == [True, False]
    assert w.newly_banned.empty and w.no_longer_banned.empty
    assert (w.suites_removed, w.suites_restored, w.spend_removed) == (0, 0, 0.0)
    # every answer is a pool answer: 14 suites x 2; the replay takes away a4, a5 and b4
    assert w.quality["recorded"]["answers"] == 28
    assert w.quality["replayed"]["answers"] == w.quality["as_set"]["answers"] == 22


def test_a_lower_fast_threshold_lifts_a_ban_and_gives_its_suites_back(toy):
    w = rules_whatif(toy, {"fast_responses.fast_submit_threshold_seconds": 11})
    assert w.banned["worker_id"].tolist() == ["w1"]
    gone = w.no_longer_banned
    assert gone["worker_id"].tolist() == ["w2"] and gone["rule"].tolist() == ["fast_responses"]
    assert gone["at"].iloc[0] == T0 + pd.Timedelta(minutes=4, seconds=12)
    assert (w.suites_removed, w.suites_restored) == (0, 1)  # b4 comes back
    assert w.spend_restored == pytest.approx(SUITE_COST)
    assert w.quality["as_set"]["answers"] == 24


def test_a_higher_fast_threshold_bans_someone_new(toy):
    w = rules_whatif(toy, ["fast_responses.fast_submit_threshold_seconds=25"])
    new = w.newly_banned.set_index("worker_id")
    assert list(new.index) == ["w3"]
    assert new.loc["w3", "at"] == T0 + pd.Timedelta(minutes=2, seconds=20)
    assert (new.loc["w3", "suites_before"], new.loc["w3", "suites_after"]) == (2, 1)
    assert math.isnan(new.loc["w3", "false_ban_risk"])  # a speed rule: no accuracy risk
    assert (w.suites_removed, w.suites_restored) == (1, 0)  # c3
    assert w.spend_removed == pytest.approx(SUITE_COST)
    assert w.quality["as_set"]["answers"] == 20
    d = w.as_dict()
    assert {"banned", "newly_banned", "no_longer_banned", "suites_removed", "spend_removed"} <= set(d)
    assert d["newly_banned"][0]["worker_id"] == "w3" and isinstance(d["newly_banned"][0]["at"], str)
    json.dumps(d, default=str)


def test_a_longer_golden_window_bans_later(toy):
    w = rules_whatif(toy, {"golden_set": {"min_answers": 5, "history_size": None}})
    b = w.banned.set_index("worker_id")
    # 2 of 5 right = 40 % < 50 % only after a5
    assert b.loc["w1", "change"] == "later" and b.loc["w1", "suites_before"] == 5
    assert b.loc["w1", "at"] == T0 + pd.Timedelta(minutes=9)
    assert (w.suites_removed, w.suites_restored) == (0, 2)  # a4 and a5 stay
    assert w.rules["p1"][1] == {**GOLD, "min_answers": 5, "history_size": None}


def test_the_false_ban_risk_of_a_banned_annotator_is_by_hand(toy):
    w = rules_whatif(toy).banned.set_index("worker_id")
    p = 2 / 5  # w1: 2 of 5 control answers right
    assert w.loc["w1", "control_accuracy"] == pytest.approx(p)
    assert w.loc["w1", "false_ban_risk"] == pytest.approx(brute_force([1] * 5, p, 4, 3, 50, None))
    assert w.loc["w1", "risk_method"] == banrisk.EXACT_WINDOW


def test_unknown_and_bad_settings_are_refused_naming_the_choices(toy):
    with pytest.raises(ValueError, match=r"settable ones are: fast_responses.history_size, .*golden_set.min_answers"):
        normalize_settings({"golden_set.min_answer": 5})
    with pytest.raises(ValueError, match="whole number"):
        normalize_settings(["golden_set.min_answers=2.5"])
    with pytest.raises(ValueError, match="percentage"):
        normalize_settings({"golden_set.min_correct_percent": 120})
    with pytest.raises(ValueError, match="no golden_set rule"):
        rules_whatif(build_run_without_golden(toy), {"golden_set.min_answers": 2})


def build_run_without_golden(run):
    import dataclasses

    pools = (PoolInfo("p1", kind="main", rules=(FAST,)),)
    return dataclasses.replace(run, meta=dataclasses.replace(run.meta, pools=pools))


# ---- the false-ban risk by hand


def brute_force(counts, p, h, min_answers, lo, hi):
    """Every sequence of right/wrong answers, its probability, and whether the rule fires on it."""
    total = sum(counts)
    ends = np.cumsum(counts)
    risk = 0.0
    for seq in itertools.product([0, 1], repeat=total):
        fired = False
        for e in ends:
            window = seq[max(0, e - (h or total)) : e]
            n, k = len(window), sum(window)
            if n >= min_answers and (
                (lo is not None and 100 * k / n < lo) or (hi is not None and 100 - 100 * k / n > hi)
            ):
                fired = True
        if fired:
            risk += p ** sum(seq) * (1 - p) ** (total - sum(seq))
    return risk


def test_one_check_is_a_binomial_tail():
    # 5 control answers in one suite, whole history, at least 5 answers, < 60 % right: fewer than 3 right
    p = 0.7
    by_hand = sum(math.comb(5, k) * p**k * (1 - p) ** (5 - k) for k in range(3))
    risk, method = banrisk.window_rule_risk([5], p, None, 5, 60)
    assert risk == pytest.approx(by_hand) and method == banrisk.EXACT_HISTORY
    # the demo's rule (one wrong answer bans): 1 - p^n
    assert banrisk.window_rule_risk([1, 2, 1], 0.9, 10, 1, 100)[0] == pytest.approx(1 - 0.9**4)


@pytest.mark.parametrize(
    "counts,h,min_answers,lo,hi",
    [([1, 1, 1], 2, 2, 100, None), ([2, 1, 3, 1], 3, 3, 50, None), ([1, 1, 2, 1, 1, 2], 4, 2, None, 40)],
)
def test_a_window_rule_matches_brute_force(counts, h, min_answers, lo, hi):
    for p in (0.3, 0.75, 0.95):
        risk, method = banrisk.window_rule_risk(counts, p, h, min_answers, lo, hi)
        assert risk == pytest.approx(brute_force(counts, p, h, min_answers, lo, hi), abs=1e-12)
        assert method == banrisk.EXACT_WINDOW
    # h=2, at least 2 answers, 100 % needed, three single answers: safe only if all three are right
    assert banrisk.window_rule_risk([1, 1, 1], 0.8, 2, 2, 100)[0] == pytest.approx(1 - 0.8**2 * 0.8)


def test_a_long_window_is_estimated_close_to_exact(monkeypatch):
    counts, h = [1] * 20, 17
    mc, method = banrisk.window_rule_risk(counts, 0.8, h, 10, 75)
    assert method == banrisk.MONTE_CARLO
    monkeypatch.setattr(banrisk, "MAX_EXACT_WINDOW", 20)
    exact, _ = banrisk.window_rule_risk(counts, 0.8, h, 10, 75)
    assert abs(mc - exact) < 4 * 0.5 / math.sqrt(banrisk.DRAWS)


def test_risk_edges():
    assert math.isnan(banrisk.window_rule_risk([1], float("nan"), 3)[0])
    assert banrisk.window_rule_risk([], 0.5, 3, 1, 100)[0] == 0.0
    assert banrisk.window_rule_risk([3], 1.0, None, 1, 100)[0] == 0.0


# ---- the ban audit on the demo


def wrong_golden(run) -> set[str]:
    """The demo's control tasks whose golden label is not what the image shows (from the simulation)."""
    from analytics.sources import demo

    if run.truth is not None and len(run.truth):
        truth = run.truth.astype(str)
    else:
        images = demo.simulate()["images"]
        url = run.tasks.iloc[:, 0].astype(str)
        truth = url.map(lambda u: demo.LABELS[images[u]] if u in images else None)
    a = run.answers[run.answers["golden"].notna()]
    golden = a.groupby("task_id", observed=True)["golden"].first().astype(str)
    return {t for t, g in golden.items() if t in truth.index and truth[t] is not None and truth[t] != g}


@pytest.fixture(scope="module")
def demo_audit(demo_run):
    return registry.compute(demo_run, "ban_audit")


def test_the_audit_finds_the_demos_wrong_golden_labels(demo_run, demo_audit):
    wrong = wrong_golden(demo_run)
    assert len(wrong) == 2  # analytics/sources/demo.py: control tasks 7 and 41 carry a wrong known answer
    suspects = set(demo_audit.control_tasks.index[demo_audit.control_tasks["suspect"]])
    assert suspects == wrong
    assert demo_audit.overrides == {t: None for t in sorted(wrong)}  # by default: dropped
    assert set(demo_audit.suspect_answers["task_id"]) == wrong


def test_the_bans_resting_on_them_are_listed_and_lifted(demo_run, demo_audit):
    wrong = wrong_golden(demo_run)
    resting = demo_audit.bans[demo_audit.bans["rests_on_suspect"]]
    assert len(resting) >= 1
    for r in resting.itertuples():
        assert r.rule == "golden_set" and set(r.suspect_tasks.split(", ")) <= wrong
        # they answered that task with something other than its (wrong) golden label
        mine = demo_audit.suspect_answers[demo_audit.suspect_answers["worker_id"] == r.worker_id]
        assert (~mine["correct"].astype(bool)).any()
    lifted = set(demo_audit.lifted["worker_id"])
    assert lifted and lifted <= set(resting["worker_id"])
    assert demo_audit.bans.loc[demo_audit.bans["lifted"], "worker_id"].tolist() == sorted(lifted)
    assert demo_audit.new_bans.empty
    before, after = demo_audit.headline["before"], demo_audit.headline["after"]
    assert after["control_accuracy"] > before["control_accuracy"]
    assert after["control_answers"] == before["control_answers"] - len(demo_audit.suspect_answers)


def test_correcting_a_golden_label_and_changing_nothing(demo_run, demo_audit):
    task = sorted(wrong_golden(demo_run))[0]
    right = demo_audit.control_tasks.loc[task, "most_common_answer"]
    fixed = registry.compute(demo_run, "ban_audit", golden_overrides={task: str(right)})
    assert fixed.overrides == {task: str(right)}
    assert set(fixed.lifted["worker_id"]) <= set(demo_audit.lifted["worker_id"])
    assert len(fixed.lifted) >= 1
    none = registry.compute(demo_run, "ban_audit", golden_overrides={})
    assert none.lifted.empty and none.headline["before"] == none.headline["after"]
    with pytest.raises(ValueError, match="not a control task"):
        registry.compute(demo_run, "ban_audit", golden_overrides={"nope": None})
    with pytest.raises(ValueError, match="label set"):
        registry.compute(demo_run, "ban_audit", golden_overrides={task: "soup"})


# ---- the exam review


def exam_run(pass_mark=0.4):
    """Five candidates (scores 0.2 .. 1.0 on 5 items); those at >= 0.4 worked in the main pool with
    a control accuracy that grows with their score."""
    rows = []
    scores = {"e1": 1, "e2": 2, "e3": 3, "e4": 4, "e5": 5}  # items right of 5
    later = {"e2": (2, 4), "e3": (3, 4), "e4": (3, 4), "e5": (4, 4)}  # (right, of) control answers
    for w, right in scores.items():
        for i in range(5):
            rows.append(_row(w, f"x{i}", "exam", "x" if i < right else "y", "x", "px", f"ex-{w}"))
    for w, (k, n) in later.items():
        for i in range(n):
            rows.append(_row(w, f"c{i}", "control", "x" if i < k else "y", "x", "pm", f"m-{w}"))
            rows.append(_row(w, f"t{i}", "regular", "x", None, "pm", f"m-{w}"))
    pools = (PoolInfo("px", kind="exam", pass_threshold=pass_mark), PoolInfo("pm", kind="main"))
    frame = pd.DataFrame(rows)
    for col in ("started_at", "submitted_at"):  # exam_scores keeps times at nanoseconds (as the readers give them)
        frame[col] = frame[col].astype("datetime64[ns, UTC]")
    return build_run(frame, file="exam", meta=RunMeta(pools=pools), labels=["x", "y"])


def _row(w, task, kind, label, golden, pool, assignment):
    return {
        "worker_id": w,
        "task_id": task,
        "kind": kind,
        "label": label,
        "golden": golden,
        "pool_id": pool,
        "assignment_id": assignment,
        "status": "ACCEPTED",
        "started_at": T0 + pd.Timedelta(minutes=int(w[1:])),  # distinct times (one repeated value reads as none)
        "submitted_at": T0 + pd.Timedelta(minutes=int(w[1:]) + 1),
    }


def test_exam_review_by_hand():
    e = registry.compute(exam_run(), "exam_review", min_control=4)
    t = e.candidates
    assert t["exam_score"].tolist() == [0.2, 0.4, 0.6, 0.8, 1.0]
    assert t["control_accuracy"].tolist()[1:] == [0.5, 0.75, 0.75, 1.0] and math.isnan(t["control_accuracy"].iloc[0])
    x, y = np.array([0.4, 0.6, 0.8, 1.0]), np.array([0.5, 0.75, 0.75, 1.0])
    r = np.corrcoef(x, y)[0, 1]
    c = e.correlation
    assert c["n"] == 4 and c["pearson_r"] == pytest.approx(r)
    z = math.atanh(r)
    assert c["ci_low"] == pytest.approx(math.tanh(z - 1.959964 / math.sqrt(1)), abs=1e-5)
    assert c["ci_high"] == pytest.approx(math.tanh(z + 1.959964), abs=1e-5)
    # a pass mark of 0.7 keeps out e2 and e3 (worked: 5 of 8 control answers right)
    e7 = registry.compute(exam_run(), "exam_review", pass_mark=0.7)
    assert e7.candidates.loc[e7.candidates["change"] == "kept out"].index.tolist() == ["e2", "e3"]
    assert e7.kept_out == {"candidates": 2, "worked": 2, "control_answers": 8, "control_accuracy": 5 / 8}
    assert e7.kept["control_accuracy"] == pytest.approx(7 / 8)
    # a pass mark of 0.2 lets in e1, who never worked: no later accuracy
    e2 = registry.compute(exam_run(), "exam_review", pass_mark=0.2)
    assert e2.let_in == {"candidates": 1, "worked": 0, "control_answers": 0, "control_accuracy": None}
    with pytest.raises(ValueError, match="from 0 to 1"):
        registry.compute(exam_run(), "exam_review", pass_mark=80)


def test_exam_review_on_the_demo_says_why_there_is_no_correlation(demo_run):
    e = registry.compute(demo_run, "exam_review", pass_mark=0.9)
    assert e.recorded_pass_mark == 1.0 and e.correlation["pearson_r"] is None
    assert "scored the same" in e.correlation["why"]
    assert e.let_in["candidates"] > 0 and e.let_in["worked"] == 0 and e.let_in["control_accuracy"] is None


# ---- proposals and the commands


@pytest.fixture
def own_demo(demo_workspace, tmp_path):
    """A copy of the demo workspace this test may write decisions and proposals into."""
    from analytics.sources.workspace import Workspace

    root = tmp_path / "ws"
    shutil.copytree(demo_workspace.root, root, ignore=shutil.ignore_patterns("reviews.sqlite3*"))
    return Workspace(root)


def test_proposals_are_append_only(own_demo):
    vid = next(v.id for v in own_demo.versions() if v.version == "1.1.0")
    p = qa_records.record_proposal(own_demo, vid[:8], "golden_overrides", {"t1": None}, "ana", "wrong golden")
    assert p.version_id == vid and p.change == {"t1": None}
    assert [x.id for x in qa_records.proposals(own_demo, vid)] == [p.id]
    con = sqlite3.connect(reviews.database_path(own_demo))
    for sql in ("UPDATE proposals SET note = 'x'", "DELETE FROM proposals"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute(sql)
    con.close()
    with pytest.raises(ValueError, match="kind"):
        qa_records.record_proposal(own_demo, vid, "edit", {"t1": None}, "ana")
    with pytest.raises(ValueError, match="Say who"):
        qa_records.record_proposal(own_demo, vid, "golden_overrides", {"t1": None}, " ")


def test_cli_rules_round_trip(own_demo, capsys):
    ws = ["--workspace", str(own_demo.root)]
    args = ["rules", "c00b4ca8", "--set", "golden_set.min_answers=3", "--format", "json", *ws]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["settings"] == {"golden_set": {"min_answers": 3}}
    assert {"banned", "newly_banned", "no_longer_banned", "suites_removed", "spend_removed", "quality"} <= set(out)
    assert all({"worker_id", "rule", "at"} <= set(b) for b in out["banned"])
    assert out["no_longer_banned"]  # the demo's one-answer bans need 3 answers now
    assert main(["rules", "c00b4ca8", *ws]) == 0
    assert "banned as set" in capsys.readouterr().out
    assert main(["rules", "c00b4ca8", "--set", "golden_set.min_answer=3", *ws]) == 2
    assert "golden_set.min_answers" in capsys.readouterr().err


def test_cli_audit_round_trip(own_demo, demo_run, capsys):
    ws = ["--workspace", str(own_demo.root)]
    assert main(["audit", "c00b4ca8", "--format", "json", *ws]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["overrides"]) == wrong_golden(demo_run) and out["lifted"]
    task = sorted(wrong_golden(demo_run))[0]
    assert main(["audit", "c00b4ca8", "--drop", task, "--propose", "--reviewer", "ana", *ws]) == 0
    text = capsys.readouterr().out
    assert "stored as proposal" in text and "LIFTED" in text
    (p,) = qa_records.proposals(own_demo, "c00b4ca8")
    assert p.kind == "golden_overrides" and p.change == {task: None} and p.reviewer == "ana"
    assert p.summary["lifted"] and "headline" in p.summary
    assert main(["audit", "c00b4ca8", "--propose", *ws]) == 2
    assert "--reviewer" in capsys.readouterr().err
    assert main(["exam-review", "c00b4ca8", "--pass-mark", "0.9", "--format", "json", *ws]) == 0
    assert json.loads(capsys.readouterr().out)["let_in"]["candidates"] > 0
