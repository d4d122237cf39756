"""The report document as a PDF (fpdf2): selectable text, tables, and the charts as static images.

The text is drawn in DejaVu Sans where the machine has it (Debian's fonts-dejavu-core; any label
or name in any script it covers); elsewhere in the PDF's built-in Helvetica, with the characters
Latin-1 lacks replaced. The charts come from analytics.report_documents.images (kaleido + Chromium).
"""

from __future__ import annotations

import io
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

from analytics.report_documents import figures, images
from analytics.report_documents.model import Document, Fact, Section, Table, groups

FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/usr/local/share/fonts")
INK, MUTED, LINE, SOFT, ACCENT = (31, 39, 51), (91, 102, 120), (221, 226, 234), (244, 246, 250), (47, 111, 222)
MARGIN = 16  # mm
GAP = 4  # mm between the first page's boxes
LATIN1 = str.maketrans({"→": "->", "–": "-", "—": "-", "α": "alpha", "κ": "kappa", "…": "...", "≥": ">=", "≤": "<="})


def _font_files() -> tuple[Path, Path] | None:
    for folder in FONT_DIRS:
        regular, bold = Path(folder, "DejaVuSans.ttf"), Path(folder, "DejaVuSans-Bold.ttf")
        if regular.exists() and bold.exists():
            return regular, bold
    return None


class _Pdf(FPDF):
    """A4 portrait with the version and the page number in the footer."""

    def __init__(self, footer_text: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.footer_text = footer_text
        fonts = _font_files()
        if fonts:
            self.add_font("DejaVu", "", str(fonts[0]))
            self.add_font("DejaVu", "B", str(fonts[1]))
            self.text_font, self.unicode_text = "DejaVu", True
        else:
            self.text_font, self.unicode_text = "Helvetica", False
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(True, margin=MARGIN)

    def t(self, text: object) -> str:
        """Text the font can draw."""
        text = str(text)
        if self.unicode_text:
            return text
        return text.translate(LATIN1).encode("latin-1", "replace").decode("latin-1")

    def style(self, size: float, bold: bool = False, colour: tuple[int, int, int] = INK) -> None:
        self.set_font(self.text_font, "B" if bold else "", size)
        self.set_text_color(*colour)

    def para(self, text: str, size: float = 10, colour: tuple[int, int, int] = INK, after: float = 2) -> None:
        self.style(size, colour=colour)
        self.multi_cell(0, size * 0.5, self.t(text), align="L", new_x="LMARGIN", new_y="NEXT")
        self.ln(after)

    def footer(self) -> None:
        self.set_y(-11)
        self.style(7.5, colour=MUTED)
        self.cell(0, 5, self.t(f"{self.footer_text} · page {self.page_no()} of {{nb}}"), align="C")


def _boxes(pdf: _Pdf, facts: tuple[Fact, ...], per_row: int, big: float) -> None:
    """Facts as boxes, ``per_row`` to a row, each row as tall as its longest detail."""
    width = (pdf.epw - GAP * (per_row - 1)) / per_row
    for start in range(0, len(facts), per_row):
        row = facts[start : start + per_row]
        pdf.style(7.5)
        lines = max(len(pdf.multi_cell(width - 6, 3.6, pdf.t(f.detail), dry_run=True, output="LINES")) for f in row)
        height = 7 + big * 0.45 + 3.6 * lines + 3
        if pdf.will_page_break(height):
            pdf.add_page()
        top = pdf.get_y()
        for i, f in enumerate(row):
            x = pdf.l_margin + i * (width + GAP)
            pdf.set_fill_color(*SOFT)
            pdf.set_draw_color(*LINE)
            pdf.rect(x, top, width, height, style="DF", round_corners=True, corner_radius=2)
            pdf.set_xy(x + 3, top + 2.5)
            pdf.style(7, colour=MUTED)
            pdf.cell(width - 6, 4, pdf.t(f.label))
            pdf.set_xy(x + 3, top + 7)
            pdf.style(big if f.known else big * 0.7, bold=True, colour=INK if f.known else MUTED)
            pdf.cell(width - 6, big * 0.45, pdf.t(f.value))
            pdf.set_xy(x + 3, top + 7 + big * 0.45 + 1)
            pdf.style(7.5, colour=MUTED)
            pdf.multi_cell(width - 6, 3.6, pdf.t(f.detail), align="L")
        pdf.set_xy(pdf.l_margin, top + height + GAP)


def _first_page(pdf: _Pdf, doc: Document) -> None:
    pdf.style(19, bold=True)
    pdf.multi_cell(0, 9, pdf.t(doc.title), align="L", new_x="LMARGIN", new_y="NEXT")
    if doc.project:
        pdf.para(doc.project + ("  (simulated data)" if doc.simulated else ""), size=11, colour=MUTED, after=1)
    meta = dict(doc.provenance)
    line = [meta.get("Version", "")]
    line += [f"{k.lower()} {meta[k]}" for k in ("Version id", "Version created", "Report generated") if k in meta]
    pdf.para(" · ".join(x for x in line if x), size=8, colour=MUTED, after=4)
    pdf.style(13)
    pdf.multi_cell(0, 6.2, pdf.t(doc.summary), align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    for row in groups(doc.answer):
        _boxes(pdf, row, max(2, len(row)), 20)
    _boxes(pdf, doc.run_facts, 5, 13)
    pdf.ln(1)
    for key in ("Lineage", "Method"):
        if key in meta:
            pdf.para(f"{key}: {meta[key]}", size=8, colour=MUTED, after=1)


def _table(pdf: _Pdf, t: Table) -> None:
    numeric = t.numeric or (False,) * len(t.header)
    pdf.style(8.5)
    pdf.set_draw_color(*LINE)
    heading = FontFace(emphasis="BOLD", fill_color=SOFT, color=INK)
    aligns = tuple("RIGHT" if n else "LEFT" for n in numeric)
    # each column as wide as its longest text (a long id capped), so that short figures never wrap
    widths = [min(max(len(str(r[i])) for r in (t.header, *t.rows)), 40) + 2 for i in range(len(t.header))]
    with pdf.table(
        text_align=aligns,
        col_widths=widths,
        headings_style=heading,
        line_height=4.6,
        borders_layout="HORIZONTAL_LINES",
        width=pdf.epw,
    ) as table:
        for values in (t.header, *t.rows):
            row = table.row()
            for v in values:
                row.cell(pdf.t(v))
    pdf.ln(2)


def _section(pdf: _Pdf, s: Section, png: dict[str, bytes], doc: Document) -> None:
    if pdf.will_page_break(40):
        pdf.add_page()
    pdf.ln(3)
    pdf.set_draw_color(*LINE)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + pdf.epw, pdf.get_y())
    pdf.ln(2)
    pdf.style(13, bold=True)
    pdf.multi_cell(0, 7, pdf.t(s.title), align="L", new_x="LMARGIN", new_y="NEXT")
    for p in s.paragraphs:
        pdf.para(p, size=9.5)
    if s.figure in png:
        fig = doc.figures[s.figure]
        height = pdf.epw * (fig.layout.height or 400) / figures.WIDTH
        if pdf.will_page_break(height):
            pdf.add_page()
        pdf.image(io.BytesIO(png[s.figure]), x=pdf.l_margin, w=pdf.epw, h=height, alt_text=pdf.t(s.title))
        pdf.ln(2)
    if s.table is not None:
        _table(pdf, s.table)
    for n in s.notes:
        pdf.para(n, size=7.5, colour=MUTED, after=1)


def _about(pdf: _Pdf, doc: Document) -> None:
    _section(pdf, Section("about", "About this report"), {}, doc)
    label_w = 34
    for k, v in doc.provenance:
        pdf.style(8.5, bold=True, colour=MUTED)
        top = pdf.get_y()
        pdf.cell(label_w, 4.6, pdf.t(k))
        pdf.style(8.5)
        pdf.set_xy(pdf.l_margin + label_w, top)
        pdf.multi_cell(pdf.epw - label_w, 4.6, pdf.t(v), align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(0.8)
    if doc.unavailable:
        pdf.ln(2)
        pdf.style(10, bold=True)
        pdf.cell(0, 6, pdf.t("Figures not available"), new_x="LMARGIN", new_y="NEXT")
        for k, v in doc.unavailable:
            pdf.para(f"{k}: {v}", size=8, colour=MUTED, after=0.5)


def render(doc: Document) -> bytes:
    """The document as PDF bytes (the charts drawn first: ChartRenderError where they cannot be)."""
    keys = [s.figure for s in doc.sections if s.figure and s.figure in doc.figures]
    drawn = images.png_images([doc.figures[k] for k in keys], figures.WIDTH)
    png = dict(zip(keys, drawn, strict=True))
    meta = dict(doc.provenance)
    footer = " · ".join(x for x in (doc.title, meta.get("Version id", "")) if x)
    pdf = _Pdf(footer)
    pdf.set_title(pdf.t(doc.title))
    pdf.set_subject(pdf.t(doc.project))
    pdf.set_creator("crowdlens")
    pdf.add_page()
    _first_page(pdf, doc)
    for s in doc.sections:
        _section(pdf, s, png, doc)
    _about(pdf, doc)
    return bytes(pdf.output())
