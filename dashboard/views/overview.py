"""Overview of one version's run: tiles, progress over time, status mix, links into every page."""

from __future__ import annotations

import streamlit as st

from analytics.metrics import progress
from analytics.metrics._base import MetricUnavailable
from analytics.metrics.cost import spend
from dashboard import charts, data, nav, widgets

version = nav.require_version("overview.py")
run = data.run(str(data.workspace_root()), version.id)
s = run.summary()
st.title(f"{version.label}")
st.caption(
    f"id `{version.id}` · created {version.created} · project {run.meta.project or 'n/a'}"
    + (f" · {version.metadata.get('description')}" if version.metadata.get("description") else "")
)

money = spend(run)
c = st.columns(5)
c[0].metric("Answers", f"{s['answers']:,}")
c[1].metric("Tasks", f"{s['tasks']:,}")
c[2].metric("Annotators", f"{s['workers']:,}")
c[3].metric("Task suites", "n/a" if s["assignments"] is None else f"{s['assignments']:,}")
c[4].metric(
    "Spend",
    widgets.money(money.total, money.currency),
    help=money.missing or "rewards + platform fee + bonuses, paid suites only",
)
st.caption(
    "Answers by kind: " + ", ".join(f"{k} {v:,}" for k, v in s["kinds"].items()) + f" · labels: {', '.join(run.labels)}"
)
for n in run.notes:
    st.caption(f":material/info: {n.message}")

st.subheader("Progress")
freq = st.radio("Period", progress.FREQS, index=1, horizontal=True, key="freq")
try:
    st.plotly_chart(charts.throughput_chart(progress.throughput(run, freq)), width="stretch")
except MetricUnavailable as err:
    widgets.unavailable(err)

st.subheader("Assignment status")
st.plotly_chart(charts.status_chart(progress.status_mix(run)), width="stretch")

st.subheader("Look closer")
cols = st.columns(3)
for i, f in enumerate(["exam.py", "annotators.py", "agreement.py", "labels.py", "cost.py", "live.py"]):
    if (nav.PAGES_DIR / f).exists():
        with cols[i % 3]:
            nav.link(f, version=version.id)
