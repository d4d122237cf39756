"""A served dashboard and a headless Chromium for the real-browser test and the README screenshot.

``served_dashboard(workspace)`` starts ``streamlit run dashboard/app.py`` on a free port of
127.0.0.1 with CROWDLENS_WORKSPACE set and stops it (the whole process group) on exit;
``chromium(p)`` launches Debian's Chromium through Playwright with no network extras;
``served_dashboard_in(workspace, cwd, port)`` serves it from a folder of
its own (its ``.streamlit/secrets.toml``); ``oidc_provider()`` serves oidc-provider-mock on 127.0.0.1;
``save_screenshot(path)`` builds a demo workspace and saves the Annotators page as a PNG:

    .venv/bin/python -c "import sys; sys.path.insert(0, 'tests'); import browser_util; \\
        browser_util.save_screenshot('dashboard/screenshots/annotators.png')"
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # every host name but this machine resolves to nothing: the demo's image URLs (*.invalid) and
    # anything else a page links to are never looked up, let alone fetched
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]


def missing() -> str | None:
    """Why a real-browser run is impossible here, or None."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is absent (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install playwright)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def served_dashboard(workspace: Path | str, timeout: float = 30):
    """Yield the base URL of the dashboard served on ``workspace``; stop the server on exit."""
    port = free_port()
    env = {**os.environ, "CROWDLENS_WORKSPACE": str(workspace), "PYTHONUNBUFFERED": "1"}
    log = tempfile.TemporaryFile()
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(ROOT / "dashboard" / "app.py"),
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(proc, log, base, timeout)
        yield base
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # the server's own process group, started above
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        log.close()


def chromium(p):
    return p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def wait_for_app(page, timeout: float = 30_000) -> None:
    """Wait until Streamlit has finished running the page's script."""
    page.wait_for_selector("[data-testid='stApp']", timeout=timeout)
    page.wait_for_function(
        "() => { const a = document.querySelector(\"[data-testid='stApp']\"); "
        "return a && a.getAttribute('data-test-script-state') === 'notRunning'; }",
        timeout=timeout,
    )
    # the status widget shows while a rerun is in flight
    page.wait_for_selector("[data-testid='stStatusWidget']", state="detached", timeout=timeout)


def open_app(page, base: str, path: str = "") -> None:
    """Open the dashboard at ``path`` (e.g. "annotators?version=…"), as a pasted link would.

    The pages live in dashboard/views/, not pages/: a pages/ folder would switch a fresh server
    into Streamlit's v1 multipage mode, where a deep link runs the page without the router.
    """
    page.goto(f"{base}/{path}")
    wait_for_app(page)
    page.wait_for_selector("[data-testid='stSidebar'] >> text=Drill-down")


def main_area(page):
    return page.locator("[data-testid='stMain']")


def save_screenshot(path: str | Path, workspace: str | Path | None = None) -> Path:
    """Save the Annotators page of the demo's annotated version (1.1.0) as a PNG at ``path``."""
    from playwright.sync_api import sync_playwright

    from analytics.sources.demo import build_demo
    from analytics.sources.workspace import Workspace

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        if workspace is None:
            workspace = Path(tmp) / "ws"
            build_demo(Workspace(workspace))
        v = next(v for v in Workspace(workspace).versions() if v.version == "1.1.0")
        with served_dashboard(workspace) as base, sync_playwright() as p:
            browser = chromium(p)
            try:
                page = browser.new_page(viewport={"width": 1440, "height": 1700})
                open_app(page, base, f"annotators?version={v.id}")
                page.wait_for_selector("[data-testid='stDataFrame'] canvas", timeout=30_000)
                page.wait_for_timeout(1500)  # let the grid paint
                page.screenshot(path=str(path), full_page=True)
            finally:
                browser.close()
    return path


@contextlib.contextmanager
def served_dashboard_in(workspace: Path | str, cwd: Path | str, port: int, timeout: float = 30):
    """As :func:`served_dashboard`, but run from ``cwd`` (so its ``.streamlit/`` holds the config and
    secrets, e.g. an [auth] table) on a given ``port`` (a redirect URI written before the start names it)."""
    env = {**os.environ, "CROWDLENS_WORKSPACE": str(workspace), "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "app.py")]
    cmd += ["--server.address", "127.0.0.1", "--server.port", str(port), "--server.headless", "true"]
    cmd += ["--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            _wait_healthy(proc, log, base, timeout)
            yield base
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)  # the server's own process group, started above
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)


def _wait_healthy(proc, log, base: str, timeout: float) -> None:
    """Wait until the server ``proc`` answers ``base``/_stcore/health (raise with its log if it exits)."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(
                f"streamlit exited with {proc.returncode}:\n{log.read().decode(errors='replace')[-3000:]}"
            )
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the dashboard did not answer {base}/_stcore/health within {timeout:.0f} s")
        time.sleep(0.25)


@contextlib.contextmanager
def oidc_provider(**options):
    """Yield the issuer URL of oidc-provider-mock (any client id and secret; the subject picked on its
    authorization form) served on a free port of 127.0.0.1 in a thread; stop it on exit."""
    import threading

    import oidc_provider_mock
    import werkzeug.serving

    server = werkzeug.serving.make_server("127.0.0.1", 0, oidc_provider_mock.app(**options), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
