"""Versions: the workspace's dataset versions, their lineage and headline figures."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import data

st.title("Dataset versions")
root = str(data.workspace_root())
ls = data.listing(root)
for p in ls.problems:
    st.warning(str(p))
if not ls.versions:
    st.info(f"No dataset versions in `{root}` yet. Import a Toloka export with `crowdlens import` or build the demo with `crowdlens demo`.")
    st.stop()
if any(v.simulated for v in ls.versions):
    st.caption("⚠️ Versions marked *simulated* hold generated demo data, not real annotators.")
rows = []
for v in ls.versions:
    md = v.metadata
    rows.append(
        {
            "id": v.id[:8],
            "name": v.name,
            "version": v.version,
            "created": v.created,
            "parents": ", ".join(p[:8] for p in v.parents),
            "answers": md.get("answers"),
            "annotators": md.get("workers"),
            "tasks": md.get("tasks"),
            "cost": md.get("annotation_cost"),
            "currency": md.get("currency"),
            "simulated": v.simulated,
        }
    )
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
