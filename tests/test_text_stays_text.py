"""Text from data stays text: a run whose every text field carries Markdown, HTML, KaTeX and image
syntax is opened on every page, and no rendered element may hold that syntax unescaped.

Labels, ids, inputs, the project, pool names, instructions, the currency, the version's name and
description and a reviewer's note are typed by annotators and requesters; on a page they go
through widgets.text (or st.text / st.code / a table cell), never into Markdown as they are.
"""

from __future__ import annotations

import dataclasses
import re

import pandas as pd
import pytest
from google.protobuf.json_format import MessageToDict
from pages_util import open_page

from analytics import reviews
from analytics.sources.workspace import Workspace
from analytics.versions import import_run
from dashboard import widgets
from dashboard.nav import SPECS

PAYLOAD = "**b** <b>x</b> $x^2$ ![i](http://127.0.0.1:9/x.png) :red[r]"
# what the payload looks like where it was rendered instead of escaped
RAW = ("**b**", "<b>", "$x^2$", "![", ":red[")
# elements whose text is never parsed as Markdown (st.text, st.code, tables, charts, exceptions)
NOT_MARKDOWN = {"text", "code", "dataframe", "arrow_data_frame", "plotly_chart", "json", "exception"}
MARKDOWN_KEYS = {"body", "label", "help"}


def mark(value) -> str:
    return f"{value} {PAYLOAD}"


def _renamed(col: pd.Series, mapping: dict) -> pd.Series:
    return col.cat.rename_categories([mapping.get(c, mark(c)) for c in col.cat.categories])


def payload_run(run):
    """``run`` with the payload in every text field, ids and labels renamed consistently."""
    a = run.answers
    workers = {w: mark(w) for w in a["worker_id"].cat.categories}
    tasks = {t: mark(t) for t in a["task_id"].cat.categories}
    labels = {lab: mark(lab) for lab in run.meta.labels}
    answers = a.assign(
        worker_id=_renamed(a["worker_id"], workers),
        task_id=_renamed(a["task_id"], tasks),
        label=_renamed(a["label"], labels),
        golden=_renamed(a["golden"], labels),
    )
    inputs = run.tasks.rename(index=tasks)
    inputs = inputs.assign(**{c: [mark(x) for x in inputs[c]] for c in inputs.columns})
    restrictions = run.restrictions.assign(
        worker_id=run.restrictions["worker_id"].map(lambda w: workers.get(w, mark(w))),
        reason=[mark(r) for r in run.restrictions["reason"]],
    )
    bonuses = run.pricing.bonuses
    if bonuses is not None and len(bonuses):
        bonuses = bonuses.assign(worker_id=bonuses["worker_id"].map(lambda w: workers.get(w, mark(w))))
    pools = tuple(dataclasses.replace(p, name=mark(p.name or p.pool_id)) for p in run.meta.pools)
    meta = dataclasses.replace(
        run.meta,
        project=mark(run.meta.project),
        instructions=mark(run.meta.instructions or "instructions"),
        labels=tuple(labels[x] for x in run.meta.labels),
        pools=pools,
    )
    regular = answers[answers["kind"] == "regular"].drop_duplicates("task_id")
    truth = pd.Series(regular["label"].astype(str).to_numpy(), index=regular["task_id"].astype(str).to_numpy())
    truth.index.name = "task_id"
    return dataclasses.replace(
        run,
        answers=answers,
        tasks=inputs,
        restrictions=restrictions,
        pricing=dataclasses.replace(run.pricing, currency=mark("USD"), bonuses=bonuses),
        meta=meta,
        truth=truth.rename("truth"),
    )


@pytest.fixture(scope="module")
def payload_ws(demo_workspace, demo_run, tmp_path_factory):
    ws = Workspace(tmp_path_factory.mktemp("payload-ws"))
    run = payload_run(demo_run)
    v = import_run(ws, run, name=mark("food"), version="1.0.0", metadata={"description": mark("description")})
    stored = ws.open_run(v.id)
    banned = str(stored.restrictions["worker_id"].iloc[0])
    reviews.record_decision(ws, v.id, banned, reviews.DECISIONS[0], mark("Dana"), mark("note"), evidence="0" * 64)
    return ws, v, stored, banned


def markdown_sources(at) -> list[tuple[str, str]]:
    """(element type, text) of every string a page hands to Streamlit's Markdown renderer."""
    out: list[tuple[str, str]] = []

    def strings(d, kind):
        if isinstance(d, dict):
            for k, v in d.items():
                if isinstance(v, str) and (k in MARKDOWN_KEYS or (kind == "radio" and k == "options")):
                    out.append((kind, v))
                elif isinstance(v, list) and kind == "radio" and k == "options":
                    out.extend((kind, str(o)) for o in v)
                else:
                    strings(v, kind)
        elif isinstance(d, list):
            for v in d:
                strings(v, kind)

    def walk(node):
        kind = getattr(node, "type", None)
        proto = getattr(node, "proto", None)
        if kind not in NOT_MARKDOWN and proto is not None and hasattr(proto, "DESCRIPTOR"):
            strings(MessageToDict(proto), kind)
        for child in (getattr(node, "children", None) or {}).values():
            walk(child)

    walk(at._tree)
    return out


def shows_payload(at) -> bool:
    """Whether any element carries the data at all (escaped in Markdown, or as plain text in a
    select box, a code block or the like), so a page that passes did show the data."""
    seen = []

    def walk(node):
        proto = getattr(node, "proto", None)
        if proto is not None and hasattr(proto, "DESCRIPTOR"):
            seen.append(str(MessageToDict(proto)))
        for child in (getattr(node, "children", None) or {}).values():
            walk(child)

    walk(at._tree)
    text = "\n".join(seen)
    return ":red" in text


def leaks(at) -> list[tuple[str, str]]:
    """The Markdown sources holding the payload's syntax raw (outside inline code spans)."""
    found = []
    for kind, source in markdown_sources(at):
        outside_code = re.sub(r"(`+)(.+?)\1", "", source, flags=re.S)
        if any(r in outside_code for r in RAW):
            found.append((kind, source[:200]))
    return found


def _params(page: str, stored, banned: str) -> dict:
    a = stored.answers
    if page == "annotator.py":
        return {"annotator": str(a["worker_id"].value_counts().index[0])}
    if page == "task.py":
        return {"task": str(a.loc[a["kind"] == "regular", "task_id"].iloc[0])}
    if page == "annotators.py":
        return {"annotator": banned}
    return {}


def test_the_payload_reaches_the_run(payload_ws):
    _, v, stored, _ = payload_ws
    assert PAYLOAD in stored.meta.project and PAYLOAD in stored.pricing.currency and PAYLOAD in v.name
    assert all(PAYLOAD in lab for lab in stored.labels) and stored.truth is not None


@pytest.mark.parametrize("page", [s.file for s in SPECS])
def test_no_page_renders_data_as_markdown(payload_ws, page):
    ws, v, stored, banned = payload_ws
    at = open_page(ws.root, page, version=v.id, **_params(page, stored, banned))
    assert not at.exception, [e.value for e in at.exception]
    # the page shows the data (so the check is not vacuous); the Import page shows none before an upload
    assert shows_payload(at) or page == "import_run.py", page
    assert not leaks(at), leaks(at)


def test_the_check_catches_a_leak(payload_ws):
    """The detector itself: a page writing the payload unescaped is caught, an escaped one is not."""
    from streamlit.testing.v1 import AppTest

    def script():
        import streamlit as st

        st.markdown("**b** <b>x</b> $x^2$")
        st.caption("`**b**` in code is fine")

    at = AppTest.from_function(script).run()
    assert [k for k, _ in leaks(at)] == ["markdown"]
    assert widgets.text(PAYLOAD) and not any(r in widgets.text(PAYLOAD) for r in RAW)
