"""One real-browser run: Versions → a version → Annotators → an annotator → one of their tasks.

Serves the dashboard with `streamlit run` on 127.0.0.1 and drives Debian's Chromium through
Playwright, checking what a reviewer would see on each page. Skipped (with the reason) where
Chromium or Playwright is missing, unless CROWDLENS_REQUIRE_BROWSER=1, where that is a failure.
"""

from __future__ import annotations

import contextlib
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


@pytest.fixture(scope="module")
def demo_dashboard(browser_ready, demo_workspace):
    """One dashboard served on the demo workspace for this module's tests (each opens its own browser)."""
    with browser_util.served_dashboard(demo_workspace.root) as base:
        yield base


def test_drill_down_in_chromium(demo_dashboard, demo_workspace, demo_versions):
    from playwright.sync_api import expect, sync_playwright

    started = time.monotonic()
    v = next(v for v in demo_versions if v.version == "1.1.0")
    run = demo_workspace.open_run(v.id)
    table = people.annotator_table(run)
    # a flagged annotator of the ban review with a wrong control answer (the demo's control rule bans on one)
    for worker in map(str, table[table["flagged"]].index):
        answers = people.annotator_answers(run, worker)
        wrong = answers[(answers["kind"] == "control") & (answers["check"] == "wrong")]
        if len(wrong):
            break
    assert len(wrong), "a flagged annotator of the demo has a wrong control answer"
    task = str(wrong["task_id"].iloc[0])
    task_answers = int((run.answers["task_id"] == task).sum())

    base = demo_dashboard
    with sync_playwright() as p:
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

            # the ban review with that annotator picked (a pasted link), then its link to them
            page.goto(f"{base}/annotators?version={v.id}&annotator={worker}")
            browser_util.wait_for_app(page)
            main = browser_util.main_area(page)
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


def _served(base: str):
    """A browser page (1440 px) on the dashboard at ``base``, closed with the returned stack."""
    from playwright.sync_api import sync_playwright

    stack = contextlib.ExitStack()
    p = stack.enter_context(sync_playwright())
    browser = browser_util.chromium(p)
    stack.callback(browser.close)
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.set_default_timeout(20_000)
    return stack, base, page


def test_sidebar_keeps_the_version_and_the_tab_names_the_page(demo_dashboard, demo_versions):
    from playwright.sync_api import expect

    old = next(v for v in demo_versions if v.version == "1.0.0")
    stack, base, page = _served(demo_dashboard)
    with stack:
        browser_util.open_app(page, base, "overview")  # no version: the newest, written into the URL
        page.wait_for_url(re.compile(rf"/overview\?version={demo_versions[-1].id}"))
        sidebar = page.locator("[data-testid='stSidebar']")
        sidebar.get_by_role("combobox", name="Dataset version").click()
        page.get_by_role("option", name=re.compile(r"food-types 1\.0\.0")).click()
        page.wait_for_url(re.compile(rf"version={old.id}"))
        browser_util.wait_for_app(page)
        for name, path in (("Agreement", "agreement"), ("Cost", "cost"), ("Annotators", "annotators")):
            sidebar.get_by_role("link", name=name, exact=True).click()
            page.wait_for_url(re.compile(rf"/{path}\?version={old.id}"))
            browser_util.wait_for_app(page)
            expect(page).to_have_title(f"{name} · food-types 1.0.0 · crowdlens")
            expect(sidebar.get_by_role("combobox", name="Dataset version")).to_have_value(re.compile(old.id[:8]))
        assert len(page.context.pages) == 1  # every link opened in the same tab
        # /versions is a page of its own, not "Page not found" and a redirect
        page.goto(f"{base}/versions")
        browser_util.wait_for_app(page)
        expect(page).to_have_url(re.compile(r"/versions(\?|$)"))
        expect(page.get_by_text("Page not found")).to_have_count(0)
        expect(page).to_have_title("Versions · crowdlens")


def test_detail_pickers(demo_dashboard, demo_workspace, demo_versions):
    from playwright.sync_api import expect

    from analytics import people

    v = next(v for v in demo_versions if v.version == "1.1.0")
    run = demo_workspace.open_run(v.id)
    order = [str(w) for w in people.annotator_table(run).index]
    stack, base, page = _served(demo_dashboard)
    with stack:
        # from the sidebar, with no annotator in the URL: the first of the list, and previous / next
        browser_util.open_app(page, base, f"annotator?version={v.id}")
        main = browser_util.main_area(page)
        expect(main.get_by_role("heading", name=f"Annotator {order[0]}")).to_be_visible()
        main.get_by_role("button", name="Next").click()
        page.wait_for_url(re.compile(rf"annotator={order[1]}"))
        browser_util.wait_for_app(page)
        expect(main.get_by_role("heading", name=f"Annotator {order[1]}")).to_be_visible()
        # a row of their answers opens its task in the same tab
        main.locator("[data-testid='stDataFrame']").first.wait_for()
        # Task detail: search the picker by part of an id
        tasks = [str(t) for t in run.codes.task_names]
        target = tasks[5]
        page.goto(f"{base}/task?version={v.id}")
        browser_util.wait_for_app(page)
        main = browser_util.main_area(page)
        expect(main.get_by_role("heading", name=f"Task {tasks[0]}")).to_be_visible()
        main.get_by_role("combobox").first.click()
        page.keyboard.type(target[:12])
        page.get_by_role("option", name=target).click()
        page.wait_for_url(re.compile(rf"task={target}"))
        browser_util.wait_for_app(page)
        expect(main.get_by_role("heading", name=f"Task {target}")).to_be_visible()
        expect(main.locator("[data-testid='stImage'] img").first).to_be_visible()  # the demo's local image
        assert len(page.context.pages) == 1


def test_markdown_payload_is_shown_as_text(browser_ready, tmp_path):
    import pandas as pd
    from playwright.sync_api import expect

    from analytics.model import build_run
    from analytics.sources.workspace import Workspace
    from analytics.versions import import_run

    payload = "**bold** :red[red] $x^2$"
    ws = Workspace(tmp_path / "ws")
    frame = pd.DataFrame(
        {"worker_id": ["w1", "w2", "w1", "w2"], "task_id": ["t1", "t1", "t2", "t2"], "label": [payload, "y", "y", "y"]}
    )
    v = import_run(ws, build_run(frame, file="toy", labels=[payload, "y"]), name="md", version="1.0.0")
    stack = contextlib.ExitStack()
    base = stack.enter_context(browser_util.served_dashboard(ws.root))
    inner, base, page = _served(base)
    stack.enter_context(inner)
    with stack:
        browser_util.open_app(page, base, f"labels?version={v.id}")
        main = browser_util.main_area(page)
        expect(main.get_by_text(payload).first).to_be_visible()  # the caption's label set, as typed
        assert not main.locator("strong", has_text="bold").count()
        assert not main.locator(".katex").count()
