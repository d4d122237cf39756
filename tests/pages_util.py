"""Open a dashboard page under AppTest the way a pasted link would: app.py, a page, query params."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"


def open_page(workspace: Path | str, page: str, *, timeout: float = 60, **params: str) -> AppTest:
    """Run ``dashboard/app.py`` on ``workspace`` switched to ``views/<page>`` with ``params`` in the URL.

    The workspace is passed as a secret (the dashboard reads CROWDLENS_WORKSPACE from st.secrets
    before the environment), so tests never depend on the caller's environment.
    """
    at = AppTest.from_file(str(APP), default_timeout=timeout)
    at.secrets["CROWDLENS_WORKSPACE"] = str(workspace)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.switch_page(f"views/{page}")
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    return at


def texts(at: AppTest) -> str:
    """Every markdown, caption, info, warning, error and metric on the page as one string (for `in` checks)."""
    parts = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success", "title", "header", "subheader", "text"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [f"{m.label}: {m.value}" for m in at.metric]
    return "\n".join(parts)
