"""crowdlens dashboard entry: page config, navigation, the shared sidebar."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# `streamlit run dashboard/app.py` puts dashboard/ on sys.path, not the project root
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dashboard import auth, nav, sources  # noqa: E402

# st.navigation's own menu drops the query string; the sidebar draws the pages with the version
pg = st.navigation(nav.navigation_pages(), position="hidden")

with st.sidebar:
    listing = sources.listing()  # the local workspace, or the ClearML project picked on Versions
    if pg.url_path in ("versions", "import", ""):
        version = nav.url_version(listing) if nav.param("version") else None
    else:
        version = nav.version_picker(listing)
    user = auth.current_user()
    auth.sidebar(user)
    nav.menu(version, user)
    st.caption(sources.describe())

st.set_page_config(page_title=nav.tab_title(pg.title, version), page_icon=":material/troubleshoot:", layout="wide")
# the one gate: a page the user's role may not open says so and links to those it may
auth.gate(user, nav.page_file(pg.url_path), nav.SPECS)
pg.run()
