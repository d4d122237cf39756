"""Overview of one version's run: tiles, progress over time, status mix, links into every page."""

from __future__ import annotations

import streamlit as st

from analytics.metrics.progress import FREQS
from dashboard import charts, data, nav, widgets

version = nav.require_version("overview.py")
run = data.current_run(version.id)
s = run.summary()
st.title(widgets.md_escape(version.label))
description = version.metadata.get("description")
st.caption(
    f"id {widgets.md_code(version.id)} · created {widgets.md_escape(version.created)} · "
    f"project {widgets.md_escape(run.meta.project or 'n/a')}"
    + (f" · {widgets.md_escape(description)}" if description else "")
)

money = widgets.available(data.metric(version.id, "spend"), quiet=True)
c = st.columns(5)
c[0].metric("Answers", f"{s['answers']:,}")
c[1].metric("Tasks", f"{s['tasks']:,}")
c[2].metric("Annotators", f"{s['workers']:,}")
c[3].metric("Task suites", "n/a" if s["assignments"] is None else f"{s['assignments']:,}")
c[4].metric(
    "Spend",
    "n/a" if money is None else widgets.money(money.total, money.currency),
    help=(money.missing if money is not None else None) or "rewards + platform fee + bonuses, paid suites only",
)
st.caption(
    "Answers by kind: "
    + ", ".join(f"{widgets.md_escape(k)} {v:,}" for k, v in s["kinds"].items())
    + f" · labels: {', '.join(widgets.md_escape(x) for x in run.labels)}"
)
for n in run.notes:
    st.caption(f":material/info: {widgets.md_escape(n.message)}")

st.subheader("Progress")
freq = st.radio("Period", FREQS, index=1, horizontal=True, key="freq")
throughput = widgets.available(data.metric(version.id, "throughput", freq=freq))
if throughput is not None:
    st.plotly_chart(charts.throughput_chart(throughput), width="stretch")

st.subheader("Assignment status")
status = widgets.available(data.metric(version.id, "status_mix"))
if status is not None:
    st.plotly_chart(charts.status_chart(status), width="stretch")

st.subheader("Look closer")
cols = st.columns(3)
for i, f in enumerate(["exam.py", "annotators.py", "agreement.py", "labels.py", "cost.py", "live.py"]):
    if (nav.PAGES_DIR / f).exists():
        with cols[i % 3]:
            nav.link(f, version=version.id)
