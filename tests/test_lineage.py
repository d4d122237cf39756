"""Closing the re-annotation loop: a plan's answers imported as a child merged with its parent, and the lineage diff.

A seeded synthetic run with known truth and annotator accuracies, its plan, new answers to the
plan's tasks drawn from the known accuracies and written as Toloka's results TSV of a new pool
(tasks identified by their inputs), imported with --parent --merge-parent --plan; the diff's
figures recomputed by hand on the same data; the same pool with new assignments as a long table;
refusing repeated (assignment, task) pairs; the demo's 1.0.0 -> 1.1.0; the CLI; lineage_figures.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from analytics import versions
from analytics.cli import main
from analytics.metrics import cost, registry
from analytics.metrics.lineage import lineage_diff
from analytics.model import PoolInfo, Pricing, ValidationError, build_run
from analytics.sources.workspace import Workspace

LABELS = ("a", "b", "c")
METHOD = "onecoin"
REWARD = 0.02
POOL = "P1"


def simulated_answers(rng, accs, truth, tasks, per_task, tag):
    """(task, worker, label, assignment) rows: ``per_task`` distinct annotators of the known accuracies."""
    rows = []
    for t in tasks:
        for w in rng.choice(len(accs), per_task, replace=False):
            right = rng.random() < accs[w]
            lab = truth[t] if right else (truth[t] + rng.integers(1, len(LABELS))) % len(LABELS)
            rows.append((f"t{t:04d}", f"w{w:02d}", LABELS[lab], f"{tag}{t}-{w}"))
    return rows


def synthetic(seed, n_tasks=300, n_workers=20, overlap=3, n_control=30):
    """A run of one named pool with known truth and accuracies: (run, accuracies, truth codes, rng)."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, len(LABELS), n_tasks)
    accs = rng.uniform(0.55, 0.9, n_workers)
    df = pd.DataFrame(
        simulated_answers(rng, accs, truth, range(n_tasks), overlap, "s"),
        columns=["task_id", "worker_id", "label", "assignment_id"],
    )
    is_control = df["task_id"].str[1:].astype(int) < n_control
    df["golden"] = np.where(is_control, [LABELS[truth[int(t[1:])]] for t in df["task_id"]], None)
    df["kind"] = np.where(is_control, "control", "regular")
    df["status"], df["reward"], df["pool_id"] = "ACCEPTED", REWARD, POOL
    tasks = pd.DataFrame({"task_id": [f"t{t:04d}" for t in range(n_tasks)]})
    tasks["image"] = [f"img/{t}.jpg" for t in range(n_tasks)]
    tr = pd.Series([LABELS[x] for x in truth], index=tasks["task_id"])
    run = build_run(df, file="synthetic", labels=LABELS, truth=tr, tasks=tasks, pricing=Pricing(fee_rate=0.3))
    return run.with_meta(pools=(PoolInfo(POOL, kind="main", overlap=overlap),)), accs, truth, rng


@pytest.fixture()
def parent(tmp_path):
    run, accs, truth, rng = synthetic(7)
    ws = Workspace(tmp_path / "ws")
    info = versions.import_run(ws, run, name="synthetic", version="1.0.0")
    return ws, info, run, accs, truth, rng


def write_results(path, upload: pd.DataFrame, accs, truth, rng, per_task=3, pool="777"):
    """Toloka's results download of the upload answered by the known annotators (a new pool, no task ids)."""
    rows = []
    for i, r in upload.iterrows():
        t = int(r["INPUT:image"].split("/")[1].split(".")[0])
        for _, worker, label, _ in simulated_answers(rng, accs, truth, [t], per_task, "r"):
            rows.append(
                {
                    "INPUT:image": r["INPUT:image"],
                    "OUTPUT:result": label,
                    "GOLDEN:result": r.get("GOLDEN:result", "") or "",
                    "ASSIGNMENT:assignment_id": f"new-{i}-{worker}",
                    "ASSIGNMENT:worker_id": worker,
                    "ASSIGNMENT:status": "APPROVED",
                    "ASSIGNMENT:reward": f"{REWARD}",
                    "ASSIGNMENT:link": f"https://toloka.ai/task/{pool}/x",
                }
            )
    pd.DataFrame(rows).to_csv(path, sep="\t", index=False)
    return path


def by_hand(parent_run, child_run, plan_doc):
    """The diff's figures recomputed here from the two aggregates, the truth and the spends."""
    before = registry.compute(parent_run, "aggregate", method=METHOD).labels["label"].astype(str)
    after = registry.compute(child_run, "aggregate", method=METHOD).labels["label"].astype(str)
    common = before.index.intersection(after.index)
    b, a = before[common], after[common]
    truth = parent_run.truth.astype(str)[common]
    changed = set(common[b != a])
    plan_tasks = [t["task_id"] for t in plan_doc["tasks"]]
    fixed = int(((b != truth) & (a == truth))[plan_tasks].sum())
    broken = int(((b == truth) & (a != truth))[plan_tasks].sum())
    money = registry.compute(child_run, "spend").total - registry.compute(parent_run, "spend").total
    return {
        "changed": changed,
        "right_before": int((b == truth).sum()),
        "right_after": int((a == truth).sum()),
        "tasks": len(common),
        "fixed": fixed,
        "broken": broken,
        "money": money,
    }


def test_plan_answers_merged_into_a_child_and_the_diff_by_hand(parent, tmp_path):
    ws, info, run, accs, truth, rng = parent
    plan_json, upload_tsv = tmp_path / "plan.json", tmp_path / "tasks.tsv"
    common = ["plan", info.id[:8], "--workspace", str(ws.root), "--method", METHOD, "--budget", "3"]
    assert main([*common, "--control-share", "0.1", "--out", str(upload_tsv), "--json", str(plan_json)]) == 0
    upload = pd.read_csv(upload_tsv, sep="\t", dtype=str, keep_default_na=False)
    results = write_results(tmp_path / "results.tsv", upload, accs, truth, rng)
    args = ["import", str(results), "--workspace", str(ws.root), "--name", "synthetic", "--version", "1.1.0"]
    args += ["--labels", "a,b,c", "--fee-rate", "0.3", "--parent", info.id[:8], "--merge-parent", "--plan"]
    assert main([*args, str(plan_json)]) == 0
    child = next(v for v in ws.versions() if v.version == "1.1.0")
    assert child.parents == (info.id,) and child.metadata["plan"]["expected_fixes"] > 0
    merge = child.metadata["merge"]
    assert merge["new_answers"] == 3 * len(upload) and merge["tasks_matched_by_inputs"] == len(upload)
    assert merge["new_tasks"] == 0 and merge["new_pools"] == ["777"] and merge["shared_pools"] == []
    child_run = ws.open_run(child.id)
    assert len(child_run.answers) == len(run.answers) + 3 * len(upload)
    assert set(child_run.answers["task_id"].astype(str)) == set(run.answers["task_id"].astype(str))
    assert child_run.meta.pool("777").kind == "reannotation" and child_run.truth is not None

    plan_doc = json.loads(plan_json.read_text())
    d = versions.compare(ws, child.id[:8], method=METHOD)
    hand = by_hand(run, child_run, plan_doc)
    assert d.parent_id == info.id and d.child_id == child.id
    assert d.answers_added == 3 * len(upload) and d.tasks_compared == hand["tasks"]
    assert set(d.changed.index) == hand["changed"] and d.labels_changed == len(hand["changed"])
    assert d.money_added == pytest.approx(hand["money"]) and d.money_added == pytest.approx(
        3 * len(upload) * REWARD * 1.3
    )
    assert d.spend_added["bonuses"] == 0 and d.spend_added["fees"] == pytest.approx(3 * len(upload) * REWARD * 0.3)
    acc = d.accuracy["truth"]
    assert (acc.before.correct, acc.after.correct, acc.before.tasks) == (
        hand["right_before"],
        hand["right_after"],
        hand["tasks"],
    )
    assert acc.before.ci_low < acc.before.accuracy < acc.before.ci_high
    assert acc.overall_after.accuracy == registry.compute(child_run, "accuracy_vs_truth", method=METHOD).accuracy
    r = d.realised
    assert r.reference == "truth" and r.plan_tasks == len(plan_doc["tasks"]) == r.known
    assert (r.fixed, r.broken) == (hand["fixed"], hand["broken"]) and r.net_fixes == r.fixed - r.broken
    assert r.predicted_fixes == pytest.approx(plan_doc["expected_fixes"])
    assert r.money_per_fix == pytest.approx(hand["money"] / r.net_fixes)
    print(f"realised {r.net_fixes} of {r.predicted_fixes:.1f} predicted fixes; {r.money_per_fix:.3f} per fix")
    assert r.net_fixes >= 0.5 * r.predicted_fixes
    assert d.changed["in_plan"].sum() == r.changed
    json.dumps(d.as_dict())  # plain JSON for the CLI and the pages


def test_same_pool_with_new_assignments_as_a_long_table(parent):
    ws, info, run, accs, truth, rng = parent
    tasks = [0, 5, 100, 200]
    new = pd.DataFrame(
        simulated_answers(rng, accs, truth, tasks, 2, "again"),
        columns=["task_id", "worker_id", "label", "assignment_id"],
    )
    new["pool_id"], new["reward"] = POOL, REWARD
    new_run = build_run(new, file="more.csv", labels=LABELS, pricing=Pricing(fee_rate=0.3))
    new_run = new_run.with_meta(pools=(PoolInfo(POOL, kind="main"),))
    child = versions.import_run(
        ws, new_run, name="synthetic", version="1.0.1", parents=[info.id[:8]], merge_parent=True
    )
    assert child.metadata["merge"]["shared_pools"] == [POOL] and child.metadata["merge"]["new_pools"] == []
    merged = ws.open_run(child.id)
    assert list(merged.answers["pool_id"].cat.categories) == [POOL]
    assert [(p.pool_id, p.kind) for p in merged.meta.pools] == [(POOL, "main")]
    assert len(merged.answers) == len(run.answers) + 8
    d = lineage_diff(run, merged)
    assert d.realised is None and d.answers_added == 8 and d.tasks_labeled_only_after == 0


def test_a_merge_repeating_the_parents_answers_is_refused(parent, tmp_path, capsys):
    ws, info, run, _, _, _ = parent
    again = run.answers.iloc[:50][["task_id", "worker_id", "label", "assignment_id", "pool_id", "reward"]]
    repeat = build_run(again.astype(object), file="again.csv", labels=LABELS)
    with pytest.raises(ValidationError, match="already in the parent version"):
        versions.import_run(ws, repeat, name="synthetic", version="1.0.2", parents=[info.id], merge_parent=True)
    path = tmp_path / "again.csv"
    again.to_csv(path, index=False)
    args = ["import", str(path), "--workspace", str(ws.root), "--name", "synthetic", "--version", "1.0.2"]
    args += ["--columns", "task=task_id,worker=worker_id,assignment=assignment_id,pool=pool_id,reward=reward"]
    assert main([*args, "--parent", info.id[:8], "--merge-parent"]) == 1
    assert "50 (assignment, task) pairs" in capsys.readouterr().err
    assert [v.version for v in ws.versions()] == ["1.0.0"]
    assert main([*args, "--merge-parent"]) == 2  # no parent to merge with
    with pytest.raises(ValueError, match="exactly one parent"):
        versions.import_run(ws, repeat, name="synthetic", version="1.0.3", merge_parent=True)


def test_a_plan_of_another_version_is_refused(parent, tmp_path):
    ws, info, run, _, _, _ = parent
    plan = {"version": "ffffffff", "tasks": [], "expected_fixes": 0.0}
    with pytest.raises(ValueError, match="not a parent"):
        versions.import_run(ws, run, name="synthetic", version="2.0.0", parents=[info.id], plan=plan)
    with pytest.raises(ValueError, match="not a re-annotation plan"):
        versions.import_run(ws, run, name="synthetic", version="2.0.0", parents=[info.id], plan={"tasks": 1})


def test_demo_reviewed_version_against_the_raw_one(demo_workspace, demo_versions):
    v1, v2 = (next(v for v in demo_versions if v.version == x) for x in ("1.0.0", "1.1.0"))
    d = versions.compare(demo_workspace, v2.id[:8])
    r1, r2 = demo_workspace.open_run(v1.id), demo_workspace.open_run(v2.id)
    t2 = cost.assignment_table(r2)
    rejected = t2[t2["status"].astype(str) == "REJECTED"]
    assert len(rejected) > 0 and d.answers_added == 0 and d.parent_id == v1.id
    assert -d.spend_added["rewards"] == pytest.approx(rejected["reward"].sum())
    assert d.money_added == pytest.approx(registry.compute(r2, "spend").total - registry.compute(r1, "spend").total)
    assert d.money_added < 0 and d.cost_per_label_after < d.cost_per_label_before
    before = registry.compute(r1, "aggregate").labels["label"].astype(str)
    after = registry.compute(r2, "aggregate").labels["label"].astype(str)
    common = before.index.intersection(after.index)
    assert d.labels_changed == int((before[common] != after[common]).sum()) > 0
    assert "golden" in d.accuracy and d.realised is None
    with pytest.raises(ValueError, match="has no parent"):
        versions.compare(demo_workspace, v1.id)


def test_cli_diff_round_trip(demo_workspace, demo_versions, capsys):
    v2, v3 = (next(v for v in demo_versions if v.version == x) for x in ("1.1.0", "1.2.0"))
    ws = ["--workspace", str(demo_workspace.root)]
    assert main(["diff", v3.id[:8], *ws, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    d = versions.compare(demo_workspace, v3.id)
    assert doc["parent_id"] == v2.id and doc["labels_changed"] == d.labels_changed == len(doc["changed"])
    assert doc["answers_added"] == d.answers_added > 0 and doc["money_added"] == pytest.approx(d.money_added)
    assert main(["diff", v3.id[:8], "--parent", v2.id[:6], *ws, "--tasks", "3"]) == 0
    text = capsys.readouterr().out
    assert f"labels changed: {d.labels_changed:,}" in text and "accuracy vs golden" in text
    assert main(["diff", "zzz", *ws]) == 2


class _Stripped:
    """The demo workspace as a store whose manifests lack the lineage figures (an older crowdlens)."""

    def __init__(self, ws):
        self.ws = ws

    def listing(self):
        import dataclasses

        listing = self.ws.listing()
        drop = ("accuracy_vs_golden", "accuracy_vs_truth", "annotation_cost", "headline")
        vs = tuple(
            dataclasses.replace(v, metadata={k: x for k, x in v.metadata.items() if k not in drop})
            for v in listing.versions
        )
        return dataclasses.replace(listing, versions=vs)

    def open_run(self, version_id):
        return self.ws.open_run(version_id)


@pytest.mark.parametrize("figure", sorted(versions.LINEAGE_FIGURES))
def test_lineage_figures_from_the_manifest_equal_the_computed_ones(demo_workspace, figure):
    stored = versions.lineage_figures(demo_workspace, figure)
    computed = versions.lineage_figures(_Stripped(demo_workspace), figure)
    assert (stored["source"] == "manifest").all() and (computed["source"] == "computed").all()
    pd.testing.assert_series_equal(stored["value"], computed["value"], rtol=1e-6)
    assert stored.attrs["title"] == versions.LINEAGE_FIGURES[figure] and len(stored) == 3
    lazy = versions.lineage_figures(_Stripped(demo_workspace), figure, compute=False)
    assert (lazy["source"] == "not computed").all() and lazy["value"].isna().all()
    if figure == "accuracy_golden":
        assert (stored["ci_low"] <= stored["value"]).all() and stored["text"].str.contains("%").all()
