"""crowdlens dashboard entry: page config, navigation, the shared sidebar."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# `streamlit run dashboard/app.py` puts dashboard/ on sys.path, not the project root
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dashboard import data  # noqa: E402

st.set_page_config(page_title="crowdlens", page_icon="🔎", layout="wide")

PAGES = Path(__file__).parent / "pages"
pages = {
    "Dataset versions": [
        st.Page(PAGES / "versions.py", title="Versions", icon="🗂️", default=True, url_path="versions"),
    ],
}
pg = st.navigation(pages)

with st.sidebar:
    st.caption(f"Workspace: `{data.workspace_root()}`")

pg.run()
