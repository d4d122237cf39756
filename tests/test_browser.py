"""One real-browser run: Versions → a version → Annotators → an annotator → one of their tasks.

Serves the dashboard with `streamlit run` on 127.0.0.1 and drives Debian's Chromium through
Playwright, checking what a reviewer would see on each page. Skipped (with the reason) where
Chromium or Playwright is missing, unless CROWDLENS_REQUIRE_BROWSER=1, where that is a failure.
"""

from __future__ import annotations

import os
import re
import time

import browser_util
import pytest

from analytics import people

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser_ready():
    why = browser_util.missing()
    if why:
        if os.environ.get("CROWDLENS_REQUIRE_BROWSER") == "1":
            pytest.fail(f"CROWDLENS_REQUIRE_BROWSER=1 but no browser test is possible: {why}")
        pytest.skip(f"no real browser here: {why}")


def test_drill_down_in_chromium(browser_ready, demo_workspace, demo_versions):
    from playwright.sync_api import expect, sync_playwright

    started = time.monotonic()
    v = next(v for v in demo_versions if v.version == "1.1.0")
    run = demo_workspace.open_run(v.id)
    table = people.annotator_table(run)
    worker = str(table[table["flagged"]].index[0])  # the ban review's first annotator
    answers = people.annotator_answers(run, worker)
    wrong = answers[(answers["kind"] == "control") & (answers["check"] == "wrong")]
    assert len(wrong), "the demo's first flagged annotator has wrong control answers"
    task = str(wrong["task_id"].iloc[0])
    task_answers = int((run.answers["task_id"] == task).sum())

    with browser_util.served_dashboard(demo_workspace.root) as base, sync_playwright() as p:
        browser = browser_util.chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(20_000)
            # the entry URL: Versions is the default page (a fresh server's first deep link would
            # run a page without the router; see browser_util.open_app)
            browser_util.open_app(page, base)
            main = browser_util.main_area(page)
            expect(main.get_by_role("heading", name="Dataset versions")).to_be_visible()
            sidebar = page.locator("[data-testid='stSidebar']")
            expect(sidebar.get_by_text("Drill-down")).to_be_visible()

            # pick the version by its link in "Open a version"
            main.get_by_role("link", name=re.compile(rf"1\.1\.0 · {v.id[:8]}")).click()
            page.wait_for_url(re.compile(rf"/overview\?version={v.id}"))
            browser_util.wait_for_app(page)

            main.get_by_role("link", name="Annotators", exact=True).click()
            page.wait_for_url(re.compile(rf"/annotators\?version={v.id}"))
            browser_util.wait_for_app(page)
            main = browser_util.main_area(page)
            expect(main.get_by_text(f"{len(table):,} of {len(table):,} annotators match")).to_be_visible()
            # the router's sidebar: the version picker shows the version picked
            expect(sidebar.get_by_role("combobox", name="Dataset version")).to_have_value(re.compile(v.id[:8]))
            expect(main.locator("[data-testid='stDataFrame']").first).to_be_visible()

            # the ban review's link to the annotator picked in it
            main.get_by_role("link", name="All of this annotator's answers").click()
            page.wait_for_url(re.compile(rf"/annotator\?version={v.id}&annotator={worker}"))
            browser_util.wait_for_app(page)
            main = browser_util.main_area(page)
            expect(main.get_by_role("heading", name=f"Annotator {worker}")).to_be_visible()
            tile = main.locator("[data-testid='stMetric']").filter(has_text="Answers").first
            expect(tile.locator("[data-testid='stMetricValue']")).to_have_text(f"{len(answers):,}")

            # one of their wrong control answers
            main.get_by_role("link", name=re.compile(rf"^{task}")).first.click()
            page.wait_for_url(re.compile(rf"/task\?version={v.id}&task={task}"))
            browser_util.wait_for_app(page)
            main = browser_util.main_area(page)
            expect(main.get_by_role("heading", name=f"Task {task}")).to_be_visible()
            expect(main.get_by_text(f"{task_answers:,} answers · kind: control")).to_be_visible()
            expect(main.get_by_text("Golden label")).to_be_visible()
            assert not main.locator("[data-testid='stException']").count()
        finally:
            browser.close()
    assert time.monotonic() - started < 60
