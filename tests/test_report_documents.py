"""The report documents: the HTML and the PDF lead with the answer, hold the report JSON's figures, escape data and
load nothing from elsewhere; the PDF opens with pypdf, its text holds the figures and its charts are images."""

from __future__ import annotations

import copy
import dataclasses
import io
import re
from html.parser import HTMLParser

import pytest
from conftest import shared

from analytics.report import build_report
from analytics.report_documents import (
    ChartRenderError,
    ancestors,
    charts_missing,
    file_name,
    images,
    report_html,
    report_pdf,
    write_report,
)
from analytics.report_documents import fmt as F
from analytics.report_documents.content import answer_facts, build_document
from analytics.sources import read_files

GENERATED = "2024-09-21T09:30:00Z"
REMOTE = re.compile(r"^\s*(https?:)?//", re.I)
URL_ATTRS = {"src", "href", "srcset", "action", "data", "poster", "background", "formaction", "xlink:href"}


class _Page(HTMLParser):
    """The page's visible text, its URL attributes, its scripts and its styles."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.urls: list[tuple[str, str, str]] = []
        self.scripts: list[dict] = []
        self.styles: list[str] = []
        self.links: list[dict] = []
        self.policy: dict[str, str] = {}
        self._in: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.urls += [(tag, k, v or "") for k, v in attrs if k in URL_ATTRS]
        if "style" in a:
            self.styles.append(a["style"] or "")
        if tag == "script":
            self.scripts.append({"attrs": a, "text": ""})
        if tag == "link":
            self.links.append(a)
        if tag == "meta" and a.get("http-equiv"):
            self.policy[a["http-equiv"]] = a.get("content") or ""
        self._in.append(tag)

    def handle_endtag(self, tag):
        if self._in and self._in[-1] == tag:
            self._in.pop()

    def handle_data(self, data):
        where = self._in[-1] if self._in else ""
        if where == "script":
            self.scripts[-1]["text"] += data
        elif where == "style":
            self.styles.append(data)
        else:
            self.text.append(data)


def parse(html_text: str) -> _Page:
    page = _Page()
    page.feed(html_text)
    return page


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def expected_figures(rep: dict) -> list[str]:
    """The report JSON's figures as the documents show them (analytics.report_documents.fmt)."""
    co, a, g, c = rep["cost"], rep["aggregation"], rep["agreement"], rep["control"]
    out = [F.count(rep["answers"]), F.count(rep["tasks"]), F.count(rep["workers"]), F.number(g["krippendorff_alpha"])]
    if co["total"] is not None:
        cur = co["currency"]
        out += [F.money(co["total"], cur), F.money(co["per_label"], cur), F.count(co["final_labels"])]
        out += [F.money(co[k], cur) for k in ("rewards", "fees", "bonuses")]
    for ref, what in (("golden", "control tasks with a known answer"), ("truth", "tasks with ground truth")):
        if a.get(ref):
            d = a[ref]
            out += [F.pct(d["accuracy"]), F.interval(d["ci_low"], d["ci_high"]), F.of(d["correct"], d["tasks"], what)]
    if c["answers"]:
        out += [F.pct(c["accuracy"]), F.of(c["correct"], c["answers"], "control answers")]
    return out


@pytest.fixture(scope="module")
def demo(demo_versions, demo_run):
    v = next(v for v in demo_versions if v.version == "1.1.0")
    lineage = ancestors(demo_versions, v.id)
    rep = build_report(demo_run)
    html_text = report_html(demo_run, v, lineage=lineage, generated_at=GENERATED)
    return dict(run=demo_run, version=v, lineage=lineage, rep=rep, html=html_text, page=parse(html_text))


@pytest.fixture(scope="module")
def demo_pdf(demo):
    why = charts_missing()
    if why:
        pytest.skip(f"the PDF's charts need a Chromium: {why}")
    return report_pdf(demo["run"], demo["version"], lineage=demo["lineage"], generated_at=GENERATED)


@pytest.fixture(scope="module")
def duck():
    folder = shared("zheng2017-truth-inference", "duck")
    run = read_files([folder / "answer.csv"], truth=folder / "truth.csv")
    html_text = report_html(run, generated_at=GENERATED)
    return dict(run=run, rep=build_report(run), html=html_text, page=parse(html_text))


def pdf_text(data: bytes) -> tuple[str, int, object]:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    text = flat(" ".join(page.extract_text() or "" for page in reader.pages))
    return text, sum(len(page.images) for page in reader.pages), reader


# --- HTML ---------------------------------------------------------------------------------------


def test_html_holds_the_report_figures_as_shown(demo):
    text = flat(" ".join(demo["page"].text))
    for figure in expected_figures(demo["rep"]):
        assert figure in text, f"{figure!r} is not in the HTML's text"
    # the demo's own figures, spelled out once (the formats themselves under test)
    a = demo["rep"]["aggregation"]["golden"]
    assert f"{100 * a['accuracy']:.1f} %" in text
    assert f"{a['correct']} of {a['tasks']} control tasks" in text


def test_html_leads_with_the_answer_then_the_breakdown_in_order(demo):
    text = flat(" ".join(demo["page"].text))
    order = [
        "Total spend",
        "Cost per final label",
        "Accuracy against control tasks",
        "Expected wrong labels",
        "Where the money went",
        "Spend on annotators later banned",
        "What more or fewer answers per task would buy",
        "Agreement between annotators",
        "Label distribution",
        "About this report",
    ]
    at = [text.find(s) for s in order]
    assert -1 not in at, dict(zip(order, at, strict=True))
    assert at == sorted(at)
    ew = demo["rep"]["quality"]["expected_wrong"]  # the report's own estimate leads with the answer
    assert f"{F.count(round(ew['expected']))}" in text and "aggregated labels" in text
    assert "Accuracy against ground truth" not in text  # the demo has no truth


def test_html_states_version_lineage_date_and_method(demo):
    text = flat(" ".join(demo["page"].text))
    v, a = demo["version"], demo["rep"]["aggregation"]
    parent = demo["lineage"][0]
    assert v.label in text and v.id in text
    assert f"{parent.name} {parent.version}" in text and v.id != parent.id
    assert "2024-09-18 10:00 UTC" in text  # created
    assert "2024-09-21 09:30 UTC" in text  # generated_at
    assert a["method_name"] in text and a["tie_rule"] in text
    assert "simulated data" in text


def test_html_is_self_contained(demo):
    page, html_text = demo["page"], demo["html"]
    assert not [u for u in page.urls if REMOTE.match(u[2])], [u for u in page.urls if REMOTE.match(u[2])]
    assert not [s for s in page.scripts if "src" in s["attrs"]]
    assert not page.links  # no stylesheet, icon or font to fetch
    for css in page.styles:
        assert not re.search(r"@import|url\(\s*['\"]?\s*(https?:)?//", css, re.I), css[:200]
    # plotly.js inlined once (the head), one small script per chart
    big = [s for s in page.scripts if len(s["text"]) > 1_000_000]
    assert len(big) == 1 and "Plotly" in big[0]["text"]
    assert html_text.count("Plotly.newPlot") == 4  # spend, curve, agreement, labels
    assert page.policy["Content-Security-Policy"].startswith("default-src 'none';")


@pytest.mark.browser
def test_html_opened_in_chromium_fetches_nothing_and_draws_every_chart(demo, tmp_path):
    import browser_util

    why = browser_util.missing()
    if why:
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    path = tmp_path / "report.html"
    path.write_text(demo["html"], encoding="utf-8")
    requests: list[str] = []
    with sync_playwright() as p:
        browser = browser_util.chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.on("request", lambda r: requests.append(r.url))
            page.goto(path.as_uri())
            page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 4", timeout=20000)
        finally:
            browser.close()
    assert [u for u in requests if not u.startswith("file:")] == []


def test_data_text_is_escaped(tmp_path, demo):
    csv = tmp_path / "answers.csv"
    rows = ["task,worker,label"]
    labels = ["<script>alert(1)</script>", "fish & <b>chips</b>"]
    rows += [f"t{t},w{w},{labels[(t + (w == 2 and t % 3 == 0)) % 2]}" for t in range(12) for w in range(3)]
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    run = read_files([csv])
    v = dataclasses.replace(
        demo["version"],
        name='<img src="http://example.invalid/x.png">',
        metadata={"description": "<a href='https://example.invalid'>click</a>"},
    )
    html_text = report_html(run, v, generated_at=GENERATED)
    # (plotly.js itself holds "<a href=" and the like: these are the data's own strings)
    for raw in ("<script>alert(1)", "<b>chips</b>", '<img src="http://example', "<a href='https://example"):
        assert raw not in html_text
    page = parse(html_text)
    assert not [u for u in page.urls if REMOTE.match(u[2])]
    text = " ".join(page.text)
    assert "fish & <b>chips</b>" in text and '<img src="http://example.invalid/x.png">' in text  # shown as is


def test_expected_wrong_labels_come_from_the_report_when_it_has_them(demo):
    rep = copy.deepcopy(demo["rep"])
    rep["quality"] = {"expected_wrong": {"expected": 41.6, "ci_low": 30.2, "ci_high": 55.9, "of": 880}}
    fact = next(f for f in answer_facts(rep, False) if f.label == "Expected wrong labels")
    assert (fact.value, fact.known) == ("42", True)
    assert "30–56" in fact.detail and "880 final labels" in fact.detail
    rep["quality"] = {"expected_wrong": 12}
    assert next(f for f in answer_facts(rep, False) if f.label == "Expected wrong labels").value == "12"
    rep["quality"] = {}
    plain = next(f for f in answer_facts(rep, False) if f.label == "Expected wrong labels")
    assert (plain.value, plain.known) == ("not estimated", False)
    own = next(f for f in answer_facts(demo["rep"], False) if f.label == "Expected wrong labels")
    assert own.known and own.value == F.count(round(demo["rep"]["quality"]["expected_wrong"]["expected"]))


@pytest.mark.shared_data
def test_long_table_with_truth_leads_with_accuracy_against_truth(duck):
    text = flat(" ".join(duck["page"].text))
    t = duck["rep"]["aggregation"]["truth"]
    for figure in expected_figures(duck["rep"]):
        assert figure in text, figure
    assert f"{F.count(t['tasks'] - t['correct'])} wrong" in text
    assert text.index("Accuracy against ground truth") < text.index("Where the money went")
    assert "The spend of this run is not known." in text  # a long table has no prices
    assert not [u for u in duck["page"].urls if REMOTE.match(u[2])]


# --- PDF ----------------------------------------------------------------------------------------


def test_pdf_opens_and_its_text_holds_the_figures(demo, demo_pdf):
    text, n_images, reader = pdf_text(demo_pdf)
    assert demo_pdf.startswith(b"%PDF-")
    assert len(reader.pages) >= 2
    for figure in expected_figures(demo["rep"]):
        assert figure in text, f"{figure!r} is not in the PDF's text"
    v = demo["version"]
    assert v.label in text and v.id in text and demo["rep"]["aggregation"]["method_name"] in text
    assert text.index("Total spend") < text.index("Where the money went") < text.index("Label distribution")
    assert n_images >= 4  # spend, curve, agreement, labels as images
    assert reader.metadata.title == f"{v.label}: labeling report"


@pytest.mark.shared_data
def test_pdf_of_a_long_table_with_truth(duck):
    why = charts_missing()
    if why:
        pytest.skip(f"the PDF's charts need a Chromium: {why}")
    text, n_images, _ = pdf_text(report_pdf(duck["run"], generated_at=GENERATED))
    for figure in expected_figures(duck["rep"]):
        assert figure in text, figure
    assert n_images >= 2


def test_pdf_without_a_browser_says_why(demo, monkeypatch):
    monkeypatch.setattr(images, "browser_path", lambda: None)
    with pytest.raises(ChartRenderError, match="chromium"):
        report_pdf(demo["run"], demo["version"])


# --- files --------------------------------------------------------------------------------------


def test_write_report_takes_the_format_from_the_suffix(demo, tmp_path):
    out = write_report(tmp_path / "r.html", demo["run"], demo["version"], generated_at=GENERATED)
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert not list(tmp_path.glob("*.part"))
    with pytest.raises(ValueError, match="--format html or pdf"):
        write_report(tmp_path / "r.txt", demo["run"], demo["version"])


def test_file_names_and_ancestors(demo_versions):
    by_version = {v.version: v for v in demo_versions}
    assert file_name(by_version["1.1.0"], "pdf") == "food-types-1.1.0-report.pdf"
    odd = dataclasses.replace(by_version["1.1.0"], name="a/b <c>", version="2")
    assert file_name(odd, "html") == "a-b-c-2-report.html"
    assert file_name(None, "html") == "crowdlens-report.html"
    chain = ancestors(demo_versions, by_version["1.2.0"].id)
    assert [v.version for v in chain] == ["1.0.0", "1.1.0"]
    assert ancestors(demo_versions, by_version["1.0.0"].id) == []


def test_document_model_is_what_both_renderers_draw(demo):
    doc = build_document(demo["run"], demo["version"], lineage=demo["lineage"], generated_at=GENERATED)
    assert [f.group for f in doc.answer][:2] == ["cost", "cost"]
    assert {s.figure for s in doc.sections if s.figure} == set(doc.figures) == {"spend", "curve", "agreement", "labels"}
    assert dict(doc.provenance)["Lineage"].endswith("→ this version")
