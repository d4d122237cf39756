"""crowdlens dashboard entry: page config, navigation, the shared sidebar."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# `streamlit run dashboard/app.py` puts dashboard/ on sys.path, not the project root
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dashboard import data, nav, widgets  # noqa: E402

st.set_page_config(page_title="crowdlens", page_icon=":material/troubleshoot:", layout="wide")

pg = st.navigation(nav.navigation_pages())

with st.sidebar:
    root = data.workspace_root()
    listing = data.listing(str(root))
    if pg.url_path not in ("versions", "import", ""):
        nav.version_picker(listing)
    damaged = f" · {len(listing.damaged)} damaged" if listing.damaged else ""
    st.caption(f"Workspace {widgets.md_code(root)} · {len(listing.versions)} version(s){damaged}")

pg.run()
