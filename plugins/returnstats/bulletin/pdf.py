"""The PDF edition: A4, Chinese then English, set in the CJK font of the font package."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

from .context import BulletinContext, DisplayTable
from .fonts import cjk_font_path

FONT = "NotoSansSC"
# Section headings of the text editions: "一、分方式返岗情况" / "RETURNS BY MODE".
_HEADING = re.compile(r"^([一二三四五六七八九十]+、.+|[A-Z][A-Z -]+)$")


def _table(pdf: FPDF, table: DisplayTable, lang: str) -> None:
    if not table.rows:
        return
    pdf.set_font(FONT, size=10)
    pdf.multi_cell(0, 6, table.title(lang), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=9)
    n = len(table.headers(lang))
    widths = (3,) + (1.4,) * (n - 1) if n <= 4 else (2,) + (1,) * (n - 1)
    with pdf.table(col_widths=widths, text_align=("LEFT",) + ("RIGHT",) * (n - 1),
                   headings_style=FontFace(emphasis=None, fill_color=(235, 235, 235)),
                   line_height=5.5, first_row_as_headings=True) as grid:
        grid.row(list(table.headers(lang)))
        for row in table.rows:
            grid.row([row.label_zh if lang == "zh" else row.label_en,
                      *(getattr(cell, lang) for cell in row.cells)])
    pdf.ln(3)


def _edition(pdf: FPDF, context: BulletinContext, text: str, lang: str,
             charts: dict[str, Path]) -> None:
    """One edition: its text paragraphs (tables are set as real tables), then its charts."""
    pdf.add_page()
    titles = {t.title(lang): t for t in context.tables}
    lines = text.splitlines()
    i = 0
    heading_lines = 0
    while i < len(lines):
        line = lines[i]
        if line in titles:
            _table(pdf, titles[line], lang)
            while i < len(lines) and lines[i].strip():
                i += 1
            continue
        if heading_lines < 2 and line.strip():  # title, then its date line, centred
            pdf.set_font(FONT, size=16 if heading_lines == 0 else 11)
            pdf.multi_cell(0, 9 if heading_lines == 0 else 7, line, align="C",
                           new_x="LMARGIN", new_y="NEXT")
            heading_lines += 1
        elif _HEADING.match(line):
            pdf.ln(2)
            pdf.set_font(FONT, size=13)
            pdf.set_text_color(150, 20, 20)
            pdf.multi_cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
            pdf.set_text_color(0, 0, 0)
        elif line.strip():
            pdf.set_font(FONT, size=10.5)
            pdf.multi_cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
        else:
            pdf.ln(2)
        i += 1
    for path in charts.values():
        if pdf.get_y() > 190:
            pdf.add_page()
        pdf.image(str(path), w=160, x=25)
        pdf.ln(2)


def write_pdf(context: BulletinContext, texts: dict[str, str], charts: dict[str, Path],
              path: Path) -> Path:
    pdf = FPDF(format="A4")
    pdf.set_margins(18, 16, 18)
    pdf.set_auto_page_break(True, margin=16)
    pdf.add_font(FONT, fname=str(cjk_font_path()))
    # A fixed creation date keeps the file the same when a day is rendered again.
    as_of = context.as_of
    pdf.set_creation_date(datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC))
    pdf.set_title(f"全国农民工点对点返岗复工日报 {as_of.isoformat()}")
    for lang in ("zh", "en"):
        _edition(pdf, context, texts[lang], lang, charts)
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))
    return path
