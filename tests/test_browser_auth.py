"""A real OpenID Connect sign-in in Chromium: st.login against oidc-provider-mock on 127.0.0.1.

The dashboard is served from a folder of its own whose ``.streamlit/secrets.toml`` has ``[auth]``
(the mock's discovery URL, any client id and secret) and ``[crowdlens.roles]``. A stakeholder signs
in and is kept out of Annotators, signs out, then a QA reviewer signs in and records a decision that
is stored under their e-mail. Skipped (with the reason) where Chromium, Playwright or
oidc-provider-mock is missing; CROWDLENS_REQUIRE_BROWSER=1 makes a missing browser a failure.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import time
import warnings

import browser_util
import pytest

pytestmark = [
    pytest.mark.browser,
    # oidc-provider-mock 0.3's own use of Authlib's deprecated APIs (in this process: the mock's thread)
    pytest.mark.filterwarnings("ignore::DeprecationWarning:authlib.*"),
]

QA, BOSS = "qa@corp.test", "boss@corp.test"


@pytest.fixture
def browser_ready():
    why = browser_util.missing()
    if why:
        if os.environ.get("CROWDLENS_REQUIRE_BROWSER") == "1":
            pytest.fail(f"CROWDLENS_REQUIRE_BROWSER=1 but no browser test is possible: {why}")
        pytest.skip(f"no real browser here: {why}")
    pytest.importorskip("authlib.deprecate", reason="Authlib is not installed (pip install -e .[dev])")
    with warnings.catch_warnings():  # after authlib.deprecate's own simplefilter("always"): the mock's import
        warnings.simplefilter("ignore", DeprecationWarning)  # of the deprecated authlib.jose says nothing
        pytest.importorskip("oidc_provider_mock", reason="oidc-provider-mock is not installed (pip install -e .[dev])")


def write_secrets(folder, port: int, issuer: str) -> None:
    """``folder``/.streamlit/ with the project's config.toml and a secrets.toml signing in through ``issuer``."""
    conf = folder / ".streamlit"
    conf.mkdir(parents=True)
    shutil.copy(browser_util.ROOT / ".streamlit" / "config.toml", conf / "config.toml")
    (conf / "secrets.toml").write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_hex(32)}"\n'
        'client_id = "crowdlens-test"\n'
        'client_secret = "not-a-secret"\n'
        f'server_metadata_url = "{issuer}/.well-known/openid-configuration"\n'
        "\n[crowdlens.roles]\n"
        f'qa = ["{QA}"]\n'
        f'stakeholder = ["{BOSS}"]\n'
    )


def sign_in(page, base: str, email: str) -> None:
    """Sign in from the sidebar's button through the mock's authorization form, as ``email``."""
    from playwright.sync_api import expect

    page.locator("[data-testid='stSidebar']").get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/oauth2/authorize\?"))
    page.get_by_placeholder("sub").fill(email)  # the mock's one field: the subject (its e-mail claim too)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(re.compile(rf"^{re.escape(base)}/"))
    browser_util.wait_for_app(page)
    expect(page.locator("[data-testid='stSidebar']").get_by_text(email)).to_be_visible()


def test_oidc_sign_in_roles_and_sign_out(browser_ready, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    from analytics import reviews
    from analytics.sources.demo import build_demo
    from analytics.sources.workspace import Workspace

    started = time.monotonic()
    ws = Workspace(tmp_path / "ws")  # a workspace of its own: this test records a decision
    build_demo(ws)
    v = next(v for v in ws.versions() if v.version == "1.1.0")
    port = browser_util.free_port()
    with browser_util.oidc_provider() as issuer:
        write_secrets(tmp_path / "app", port, issuer)
        with browser_util.served_dashboard_in(ws.root, tmp_path / "app", port) as base, sync_playwright() as p:
            browser = browser_util.chromium(p)
            try:
                page = browser.new_page(viewport={"width": 1440, "height": 1000})
                page.set_default_timeout(20_000)
                page.goto(base)
                browser_util.wait_for_app(page)
                sidebar = page.locator("[data-testid='stSidebar']")
                main = browser_util.main_area(page)
                expect(main.get_by_text("Sign in to use crowdlens")).to_be_visible()

                # (1) a stakeholder: their e-mail in the sidebar, Annotators refused with links elsewhere
                sign_in(page, base, BOSS)
                expect(sidebar.get_by_text(f"{BOSS} · stakeholder")).to_be_visible()
                expect(sidebar.get_by_role("link", name="Annotators", exact=True)).to_have_count(0)
                page.goto(f"{base}/annotators?version={v.id}")
                browser_util.wait_for_app(page)
                expect(main.get_by_text(f"Your account ({BOSS}, stakeholder) may not open Annotators.")).to_be_visible()
                expect(main.get_by_text("You may open:")).to_be_visible()
                for name in ("Versions", "Overview", "Cost", "Labels"):
                    expect(main.get_by_role("link", name=name, exact=True)).to_be_visible()
                expect(main.get_by_role("link", name="Annotators", exact=True)).to_have_count(0)

                # (2) sign out: through the mock's end-session form, back to a sidebar offering Sign in
                sidebar.get_by_role("button", name="Sign out").click()
                page.wait_for_url(re.compile(r"/oauth2/end_session\?"))
                page.get_by_role("button", name="End session").click()
                page.wait_for_url(re.compile(rf"^{re.escape(base)}/"))
                browser_util.wait_for_app(page)
                expect(sidebar.get_by_role("button", name="Sign in")).to_be_visible()
                expect(sidebar.get_by_text(BOSS)).to_have_count(0)

                # (3) a QA reviewer records a decision: no reviewer box, stored under their e-mail
                sign_in(page, base, QA)
                page.goto(f"{base}/annotators?version={v.id}")
                browser_util.wait_for_app(page)
                form = main.locator("[data-testid='stForm']")
                expect(form.get_by_text(f"Recorded as {QA} (signed in).")).to_be_visible()
                expect(form.get_by_label("Reviewer")).to_have_count(0)
                worker = main.get_by_role("combobox", name="Banned or flagged annotator").input_value()
                worker = worker.split(" · ")[0]
                form.get_by_text("uphold", exact=True).click()
                form.get_by_label("Note").fill("control answers checked in the browser test")
                form.get_by_role("button", name="Record decision").click()
                browser_util.wait_for_app(page)
                expect(main.get_by_text(re.compile(rf"by {re.escape(QA)}\. The form is cleared"))).to_be_visible()
                assert not main.locator("[data-testid='stException']").count()
            finally:
                browser.close()
    stored = reviews.decisions(ws, v.id)
    assert len(stored) == 1
    last = stored.iloc[-1]
    assert (last["reviewer"], last["decision"], last["worker_id"]) == (QA, "uphold", worker)
    assert time.monotonic() - started < 90
