"""crowdlens' Streamlit dashboard: a router (app.py), small pages, pure chart builders."""
