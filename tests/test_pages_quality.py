"""Agreement, Labels, Cost, Live monitor and Versions pages: the numbers shown are the analytics' numbers.

Each page is opened the way a pasted link opens it (pages_util.open_page) on the demo workspace,
for every demo version; the figures on the page are compared with the metric functions called
directly on the same run. CSV downloads are captured from Streamlit's media storage and compared
with the tables they export. The live monitor runs against the local Toloka stub on 127.0.0.1.
"""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
import toloka_payloads as P
from pages_util import download, frame_with, ok, open_page, recording_downloads, texts
from streamlit.testing.v1 import AppTest
from toloka_stub import TolokaStub

from analytics.metrics import aggregation as A
from analytics.metrics import agreement, cost, labels, progress
from analytics.metrics.curve import cost_quality_curve
from analytics.report import headline_figures
from analytics.sources.workspace import Workspace
from dashboard import widgets


@pytest.fixture
def downloads(monkeypatch):
    """file id -> bytes of every download button's payload in this test (pages_util.download reads it)."""
    return recording_downloads(monkeypatch)


MY_PAGES = ["agreement.py", "labels.py", "cost.py", "live.py"]


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


# --------------------------------------------------------------------------------------------
# Agreement


def test_agreement_page_shows_the_metrics(demo_workspace, demo_versions):
    for v in demo_versions:
        run = demo_workspace.open_run(v.id)
        at = open_page(demo_workspace.root, "agreement.py", version=v.id)
        ok(at)
        s = agreement.run_agreement(run)
        m = metrics(at)
        assert m["Krippendorff's α (nominal)"] == f"{s.krippendorff_alpha:.3f}"
        assert m["Fleiss' κ"] == f"{s.fleiss_kappa:.3f}"
        assert m["Tasks measured"] == f"{s.items:,}" and m["Answers on them"] == f"{s.answers:,}"
        text = texts(at)
        assert ("Overlap varies between tasks" in text) == s.overlap_varies, v.version
        if not s.overlap_varies:
            assert f"Overlap (answers per aggregated task): {s.overlap_min}." in text
        # least-agreed tasks: first page of the sorted item agreement, with links to Task detail
        items = agreement.item_agreement(run)
        least = frame_with(at, "entropy_bits")
        expected = items[items["answers"] >= 2].sort_values(
            ["agreement", "entropy_bits", "answers"], ascending=[True, False, False], kind="stable"
        )
        assert list(least["task"]) == list(expected.index[: len(least)])
        assert "open" not in least.columns and least["task"].iloc[0] in set(run.answers["task_id"].astype(str))
        # aggregators: accuracy vs golden of each fast method, with counts and interval
        comp = frame_with(at, "golden: accuracy")
        assert list(comp["method"]) == [A.METHODS[x] for x in A.FAST_METHODS]
        comp = comp.set_index("method")
        for x in A.FAST_METHODS:
            acc = A.accuracy_vs_golden(run, A.aggregate(run, x))
            row = comp.loc[A.METHODS[x]]
            assert (row["golden: tasks"], row["golden: correct"]) == (acc.tasks, acc.correct)
            assert row["golden: accuracy"] == pytest.approx(acc.accuracy)
            assert (row["golden: 95 % CI low"], row["golden: 95 % CI high"]) == pytest.approx((acc.ci_low, acc.ci_high))
            assert row["tied"] == A.aggregate(run, x).n_tied
        assert A.TIE_RULE in text
        # disagreements between the four fast methods
        dis = A.disagreements(run, methods=A.FAST_METHODS)
        assert f"{len(dis):,} of {len(A.aggregate(run, 'mv').labels):,} tasks" in text
        table = frame_with(at, "onecoin_confidence")
        assert list(table["task"]) == list(dis.index[: len(table)])


def test_agreement_matrix_follows_the_min_shared_setting(demo_workspace, demo_run, demo_versions):
    v = next(v for v in demo_versions if v.version == "1.1.0")
    at = open_page(demo_workspace.root, "agreement.py", version=v.id)
    pairs = agreement.pairwise_kappa(demo_run, 10)
    assert f"{len(pairs):,} pairs share ≥ 10 tasks" in texts(at)
    at.number_input(key="min_shared").set_value(5).run()
    ok(at)
    assert f"{len(agreement.pairwise_kappa(demo_run, 5)):,} pairs share ≥ 5 tasks" in texts(at)
    at.number_input(key="min_shared").set_value(1000).run()
    assert "No two annotators answered 1,000 or more of the same tasks" in texts(at)


def test_slow_aggregators_run_only_after_the_button(demo_workspace, demo_run, demo_versions, monkeypatch):
    monkeypatch.setattr(A.os, "getloadavg", lambda: (0.5, 0.5, 0.5))  # the estimate the page and the test see
    v = next(v for v in demo_versions if v.version == "1.1.0")
    at = open_page(demo_workspace.root, "agreement.py", version=v.id)
    at.multiselect(key="methods").select("glad").run()
    ok(at)
    est = A.estimate_seconds(demo_run, "glad")
    assert f"GLAD on {len(A.pool_rows(demo_run)):,} answers takes about {est:,.0f} s (estimated)." in texts(at)
    assert "GLAD" not in list(frame_with(at, "golden: accuracy")["method"])
    at.button(key="start_glad").click().run(timeout=180)
    ok(at)
    comp = frame_with(at, "golden: accuracy")
    acc = A.accuracy_vs_golden(demo_run, A.aggregate(demo_run, "glad"))
    assert comp.loc[comp["method"] == "GLAD", "golden: accuracy"].item() == pytest.approx(acc.accuracy)


# --------------------------------------------------------------------------------------------
# Labels


def test_labels_page_shows_the_distributions(demo_workspace, demo_versions):
    for v in demo_versions:
        run = demo_workspace.open_run(v.id)
        at = open_page(demo_workspace.root, "labels.py", version=v.id)
        ok(at)
        raw = labels.label_distribution(run)
        agg = labels.distribution_of(A.aggregate(run, "mv").labels["label"], run.labels)
        dist = frame_with(at, "share of answers").set_index("label")
        assert dist["answers"].to_dict() == raw["count"].to_dict()
        assert dist["tasks"].to_dict() == agg["count"].to_dict()
        assert dist["share of tasks"].to_numpy() == pytest.approx(agg["share"].to_numpy())
        m = metrics(at)
        assert (
            m["Answers counted"] == f"{int(raw['count'].sum()):,}"
            and m["Aggregated tasks"] == f"{int(agg['count'].sum()):,}"
        )
        use = labels.annotator_label_use(run)
        assert m["Over-use a label"] == f"{int(use.annotators['flagged'].sum()):,}"
        assert m["Tested"] == f"{int(use.annotators['p_value'].notna().sum()):,}"
        flagged_shown = frame_with(at, "over_used_label")
        assert set(flagged_shown.loc[flagged_shown["flagged"], "worker_id"]) <= set(
            use.annotators.index[use.annotators["flagged"]]
        )
        # side by side with the parent (or the last other version): compare_distributions
        others = [o for o in demo_versions if o.id != v.id]
        other = next((o for o in others if o.id in v.parents), others[-1])
        cmp = labels.compare_distributions(raw, labels.label_distribution(demo_workspace.open_run(other.id)))
        table = frame_with(at, "B − A (pp)").set_index("label")
        assert table["A answers"].to_dict() == cmp.table["count_a"].to_dict()
        assert table["B answers"].to_dict() == cmp.table["count_b"].to_dict()
        assert m["Total variation distance"] == widgets.pct(cmp.total_variation)


def test_labels_compare_link_and_aggregated_basis(demo_workspace, demo_versions):
    v = next(v for v in demo_versions if v.version == "1.2.0")
    first = next(v for v in demo_versions if v.version == "1.0.0")
    at = open_page(demo_workspace.root, "labels.py", version=v.id, compare=first.id[:8])
    ok(at)
    assert at.selectbox(key="compare_pick").value == first.id
    at.radio(key="compare_basis").set_value("aggregated").run()
    ok(at)
    a = labels.distribution_of(
        A.aggregate(demo_workspace.open_run(v.id), "mv").labels["label"], ["solid", "liquid", "other"]
    )
    b = labels.distribution_of(
        A.aggregate(demo_workspace.open_run(first.id), "mv").labels["label"], ["solid", "liquid", "other"]
    )
    table = frame_with(at, "B − A (pp)").set_index("label")
    assert table["A tasks"].to_dict() == a["count"].to_dict() and table["B tasks"].to_dict() == b["count"].to_dict()
    bad = open_page(demo_workspace.root, "labels.py", version=v.id, compare="ffffffff")
    assert not bad.exception
    assert any("No other dataset version has the id `ffffffff`" in e.value for e in bad.error)


# --------------------------------------------------------------------------------------------
# Cost


def test_cost_page_shows_the_breakdown_and_exports_its_tables(demo_workspace, demo_versions, downloads):
    # per version: every version of the workspace, opened on its own (the same table on each page)
    all_versions = cost.compare_versions_cost(
        {f"{o.label} · {o.id[:8]}": demo_workspace.open_run(o.id) for o in demo_versions}
    )
    for v in demo_versions:
        run = demo_workspace.open_run(v.id)
        at = open_page(demo_workspace.root, "cost.py", version=v.id)
        ok(at)
        b = cost.cost_breakdown(run)
        cur = b.currency
        m = metrics(at)
        assert m["Rewards"] == widgets.money(b.rewards, cur) and m["Platform fee"] == widgets.money(b.fees, cur)
        assert m["Bonuses"] == widgets.money(b.bonuses, cur) and m["Total"] == widgets.money(b.total, cur)
        assert m["Cost per answer"] == widgets.money(b.cost_per_answer, cur, 4)
        assert m["Cost per accepted suite"] == widgets.money(b.cost_per_accepted_assignment, cur, 4)
        assert m["Cost per final label"] == widgets.money(b.cost_per_final_label, cur, 4)
        text = texts(at)
        for n, what in [
            (b.answers, "labeled answers in paid suites"),
            (b.accepted_assignments, "accepted task suites"),
            (b.final_labels, "final labels"),
        ]:
            assert f"/ {n:,} {what}" in text
        # per pool: shown and exported, equal to cost_by_pool
        pools = cost.cost_by_pool(run).reset_index()
        shown = frame_with(at, "cost_per_answer")
        pd.testing.assert_frame_equal(shown.reset_index(drop=True), pools, check_dtype=False)
        pd.testing.assert_frame_equal(download(at, downloads, "csv_pools"), pools, check_dtype=False)
        # per version: every version of the workspace, opened on its own
        per_version = all_versions
        got = download(at, downloads, "csv_versions").set_index("version")
        assert list(got.index) == list(per_version.index)
        assert got["cost_per_final_label"].to_numpy() == pytest.approx(per_version["cost_per_final_label"].to_numpy())
        assert got["this version"].tolist() == [o.id == v.id for o in demo_versions]
        # banned annotators
        sb = cost.spend_on_banned(run)
        assert m["Annotators banned"] == f"{sb.banned_workers:,}" and m["Paid before their ban"] == widgets.money(
            sb.spend_before_ban, cur
        )
        assert m["Share of total spend"] == widgets.pct(sb.share_of_spend)
        banned = download(at, downloads, "csv_banned").set_index("worker_id")
        assert banned["spend"].to_numpy() == pytest.approx(sb.per_worker["spend"].to_numpy())
        assert list(banned.index) == list(sb.per_worker.index)
        # the cost-quality curve: the analytics' figures, exported whole
        cq = cost_quality_curve(run, repeats=5)
        K = cq.max_overlap
        assert (
            m[f"Cost per final label at overlap {K}"]
            == widgets.money(cq.points.loc[K, "cost_per_final_label"], cur, 4)
            == m["Cost per final label"]
        )
        assert m[f"Accuracy vs golden at overlap {K}"] == widgets.pct(cq.points.loc[K, "golden_accuracy"])
        assert m[f"Projected at overlap {K + 2} (model)"] == widgets.pct(cq.points.loc[K + 2, "model_accuracy"])
        curve = download(at, downloads, "csv_curve").set_index("overlap")
        assert list(curve["basis"]) == list(cq.points["basis"])
        for col in (
            "golden_accuracy",
            "golden_std",
            "agreement_with_full",
            "model_accuracy",
            "cost_per_label",
            "cost_per_final_label",
        ):
            assert curve[col].to_numpy() == pytest.approx(cq.points[col].to_numpy(), nan_ok=True), col
        assert f"Overlap {K + 1}–{K + 2} is a projection, not a measurement." in text


def test_cost_curve_repeats_setting(demo_workspace, demo_run, demo_versions, downloads):
    v = next(v for v in demo_versions if v.version == "1.1.0")
    at = open_page(demo_workspace.root, "cost.py", version=v.id)
    at.number_input(key="cq_repeats").set_value(12).run()
    ok(at)
    curve = download(at, downloads, "csv_curve").set_index("overlap")
    cq = cost_quality_curve(demo_run, repeats=12)
    assert curve["golden_accuracy"].to_numpy() == pytest.approx(cq.points["golden_accuracy"].to_numpy(), nan_ok=True)
    assert "subsampled 12×" in texts(at)


# --------------------------------------------------------------------------------------------
# Live monitor


def test_live_page_without_credentials_shows_the_runs_progress(demo_workspace, demo_versions):
    for v in demo_versions:
        run = demo_workspace.open_run(v.id)
        at = open_page(demo_workspace.root, "live.py", version=v.id)
        ok(at)
        text = texts(at)
        assert "none is configured" in text and "TOLOKA_TOKEN" in text
        tp = progress.throughput(run, "1h")
        busy = tp[tp["answers"] > 0]
        m = metrics(at)
        assert m["Answers per hour"] == f"{busy['answers'].mean():,.1f}"
        assert m["Active annotators, peak"] == f"{int(tp['active_annotators'].max()):,}"
        assert m["Active annotators, last hour"] == f"{int(tp['active_annotators'].iloc[-1]):,}"
        assert m["Busiest hour (answers)"] == f"{int(tp['answers'].max()):,}"
        assert f"Last hour: {int(tp['answers'].iloc[-1]):,} answers by" in text
        comp = frame_with(at, "expected_answers").set_index("pool_id")
        main = next(p for p in run.meta.pools if p.kind == "main")
        pool_answers = run.answers[run.answers["pool_id"] == main.pool_id]
        assert comp.loc[main.pool_id, "expected_answers"] == pool_answers["task_id"].nunique() * main.overlap
        assert comp.loc[main.pool_id, "submitted_answers"] == int(pool_answers["label"].notna().sum())
        assert pd.isna(comp.loc[next(p.pool_id for p in run.meta.pools if p.kind == "exam"), "expected_answers"])


def test_live_page_with_credentials_reads_the_pool_from_toloka(demo_workspace, demo_versions, loopback_only):
    v = demo_versions[-1]
    with TolokaStub(token=P.TOKEN) as stub:
        pid = P.live_pool(stub, tasks=20)
        at = open_page(
            demo_workspace.root,
            "live.py",
            secrets={"TOLOKA_TOKEN": P.TOKEN, "TOLOKA_URL": stub.url},
            version=v.id,
            pool=pid,
        )
        ok(at)
        m = metrics(at)
        assert m["Pool status"] == "OPEN"
        assert m["Task suites submitted"] == "9 of 30"
        assert m["Annotators"] == "4"
        assert m["Spent on rewards"] == "0.12 USD" and m["Spent with fee"] == "0.16 USD"
        status = frame_with(at, "task suites").set_index("status")["task suites"].to_dict()
        assert status == {"SUBMITTED": 5, "ACCEPTED": 3, "REJECTED": 1, "SKIPPED": 2}
        text = texts(at)
        assert "Token from `secrets.toml` (not shown)" in text and "pool analytics" in text
        assert P.TOKEN not in text + json.dumps([str(x) for x in at.text_input])
        assert stub.requests and all(r.authorised for r in stub.requests)
        # refresh asks again
        before = len(stub.requests_to("/api/v1/pools/3000"))
        at.button(key="live_refresh").click().run()
        ok(at)
        assert len(stub.requests_to("/api/v1/pools/3000")) == before + 1
        # an unknown pool: Toloka's refusal, said clearly
        at.text_input(key="live_pool").input("4040").run()
        assert not at.exception and at.error and "4040" in at.error[0].value
        # a wrong token: an error, never the token
        wrong = "AQAAAAAwrongTOKEN000000000000"
        bad = open_page(
            demo_workspace.root,
            "live.py",
            secrets={"TOLOKA_TOKEN": wrong, "TOLOKA_URL": stub.url},
            version=v.id,
            pool=pid,
        )
        assert not bad.exception and bad.error
        assert wrong not in texts(bad)
        # the run's own progress is still there
        assert "This run's progress" in texts(bad)


# --------------------------------------------------------------------------------------------
# Versions


def test_versions_table_shows_stored_headline_figures(demo_workspace, demo_versions):
    at = open_page(demo_workspace.root, "versions.py")
    ok(at)
    table = frame_with(at, "cost per label").set_index("name")
    for v in demo_versions:
        h = v.metadata["headline"]
        row = table.loc[v.label]
        assert row["figures"] == "stored at import"
        assert (row["answers"], row["annotators"]) == (h["answers"], h["annotators"])
        assert row["alpha"] == pytest.approx(h["krippendorff_alpha"])
        assert (
            row["control accuracy"] == pytest.approx(h["control_accuracy"])
            and row["control answers"] == h["control_answers"]
        )
        assert row["cost per label"] == pytest.approx(h["cost_per_label"]) and row["currency"] == h["currency"]


def test_versions_table_computes_figures_a_version_does_not_store(demo_workspace, demo_versions, tmp_path):
    root = tmp_path / "ws"
    shutil.copytree(demo_workspace.root, root)
    old = next(v for v in demo_versions if v.version == "1.0.0")
    manifest = next(root.glob(f"versions/{old.id}*/manifest.json"))
    doc = json.loads(manifest.read_text())
    doc["metadata"].pop("headline", None)
    manifest.write_text(json.dumps(doc))
    at = open_page(root, "versions.py")
    ok(at)
    table = frame_with(at, "cost per label").set_index("name")
    row = table.loc[old.label]
    assert row["figures"] == "computed now"
    h = headline_figures(Workspace(root).open_run(old.id))
    assert (row["answers"], row["annotators"]) == (h["answers"], h["annotators"])
    assert row["alpha"] == pytest.approx(h["krippendorff_alpha"]) and row["cost per label"] == pytest.approx(
        h["cost_per_label"]
    )
    assert row["control accuracy"] == pytest.approx(h["control_accuracy"])
    assert (table.drop(index=old.label)["figures"] == "stored at import").all()


# --------------------------------------------------------------------------------------------
# bad links


@pytest.mark.parametrize("page", MY_PAGES)
def test_unknown_version_in_the_link_is_a_clear_error(demo_workspace, demo_versions, page):
    at = open_page(demo_workspace.root, page, version="0badc0ffee")
    assert not at.exception
    assert any("No dataset version has the id `0badc0ffee`" in e.value for e in at.error)
    # the known versions are offered instead
    assert len(at.get("page_link")) >= len(demo_versions)
