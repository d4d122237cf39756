"""Open a dashboard page under AppTest the way a pasted link would: app.py, a page, query params."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"


def open_page(
    workspace: Path | str, page: str, *, timeout: float = 60, secrets: dict | None = None, **params: str
) -> AppTest:
    """Run ``dashboard/app.py`` on ``workspace`` switched to ``views/<page>`` with ``params`` in the URL.

    The dashboard reads the workspace in analytics.settings' order (environment, then
    secrets.toml), so CROWDLENS_WORKSPACE is set in the environment (and left set for later reruns
    of this AppTest; conftest's monkeypatch restores it after the test) as well as in the secrets;
    ``secrets`` adds others (e.g. TOLOKA_TOKEN).
    """
    os.environ["CROWDLENS_WORKSPACE"] = str(workspace)
    at = AppTest.from_file(str(APP), default_timeout=timeout)
    at.secrets["CROWDLENS_WORKSPACE"] = str(workspace)
    for k, v in (secrets or {}).items():
        at.secrets[k] = v
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


def ran(at: AppTest) -> AppTest:
    """``at`` after asserting the page raised nothing (it may show an st.error, e.g. for a bad link)."""
    assert not at.exception, [e.value for e in at.exception]
    return at


def ok(at: AppTest) -> AppTest:
    """``at`` after asserting the page raised nothing and showed no st.error."""
    ran(at)
    assert not at.error, [e.value for e in at.error]
    return at


def frame_with(at: AppTest, column: str) -> pd.DataFrame:
    """The first dataframe on the page that has ``column``."""
    for d in at.dataframe:
        if column in d.value.columns:
            return d.value
    raise AssertionError(
        f"no dataframe with a {column!r} column; columns: {[list(d.value.columns) for d in at.dataframe]}"
    )


def recording_downloads(monkeypatch) -> dict[str, bytes]:
    """file id -> bytes of every st.download_button payload of the AppTest runs in this test, from
    now on (use with :func:`download`; a test module wraps it in its ``downloads`` fixture)."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
    from streamlit.testing.v1 import app_test

    files: dict[str, bytes] = {}

    class Recording(MemoryMediaFileStorage):
        def load_and_get_id(self, path_or_data, mimetype, kind, filename=None):
            file_id = super().load_and_get_id(path_or_data, mimetype, kind, filename)
            files[file_id] = self._files_by_id[file_id].content
            return file_id

    monkeypatch.setattr(app_test, "MemoryMediaFileStorage", Recording)
    return files


def download(at: AppTest, files: dict, key: str | None = None, label: str | None = None) -> pd.DataFrame:
    """The CSV behind the download button with ``key`` (or whose label starts with ``label``)."""
    button = next(
        b
        for b in at.download_button
        if (key is not None and b.key == key) or (label is not None and b.label.startswith(label))
    )
    file_id = Path(button.proto.url).stem
    return pd.read_csv(io.BytesIO(files[file_id]), dtype={"pool_id": str, "worker_id": str})
