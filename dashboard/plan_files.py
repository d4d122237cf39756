"""The Delivery page's downloads of a re-annotation plan: the Toloka task file (TSV) and the plan as JSON."""

from __future__ import annotations

import json

import streamlit as st

from analytics.model import Run
from analytics.sources.toloka_tasks import task_upload_frame

EAGER_PLAN_TASKS = 5_000  # above this many tasks the files are built when a button is clicked, not on each rerun


def plan_downloads(run: Run, version_id: str, slug: str, plan) -> None:
    """The plan's Toloka task file and JSON: built on each run for a short plan, on click for a long
    one (a plan of 10^5 tasks took seconds to write, on every rerun of the page)."""

    def tsv() -> bytes:
        upload = task_upload_frame(run, plan.tasks.index, plan.control["golden"])
        return upload.to_csv(sep="\t", index=False, na_rep="", lineterminator="\n").encode("utf-8")

    def doc() -> bytes:
        return json.dumps({"version": version_id, **plan.as_dict()}, indent=1, default=str).encode("utf-8")

    eager = len(plan.tasks) <= EAGER_PLAN_TASKS
    c = st.columns([1, 1, 3])
    c[0].download_button(
        "Toloka task file (TSV)",
        data=tsv() if eager else tsv,
        file_name=f"reannotate-{slug}.tsv",
        mime="text/tab-separated-values",
        key="plan_tsv",
        icon=":material/download:",
        help=f"{len(plan.tasks) + len(plan.control):,} tasks: INPUT: columns, and GOLDEN: for the "
        f"{len(plan.control):,} control tasks",
    )
    c[1].download_button(
        "The plan (JSON)",
        doc() if eager else doc,
        f"plan-{slug}.json",
        "application/json",
        key="plan_json",
        icon=":material/download:",
    )
    c[2].caption(
        "Upload the TSV to a Toloka pool (Upload tasks); import the answers back with "
        "`crowdlens import … --parent ID --merge-parent` to see what the plan bought."
    )
