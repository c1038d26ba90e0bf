"""The PDF editions: each HTML edition printed by headless Chromium (A4, tagged, with an
outline), so that paper shows the layout the screen shows."""

from __future__ import annotations

from datetime import date
from html import escape
from pathlib import Path

from .chromium import Page
from .dates import long_date

_FOOTER = ('<div style="width:100%;font-size:8px;color:#777;text-align:center;'
           "font-family:'Noto Sans SC',sans-serif;\">{title}　{page}</div>")
_TITLE = {"zh": "全国农民工点对点返岗复工日报（{d}）",
          "en": "Point-to-point return-to-work bulletin, {d}"}
_PAGE = {"zh": '第<span class="pageNumber"></span>页／共<span class="totalPages"></span>页',
         "en": 'page <span class="pageNumber"></span> of <span class="totalPages"></span>'}


def pdf_path(directory: Path, lang: str) -> Path:
    return directory / f"bulletin.{lang}.pdf"


def print_edition(page: Page, directory: Path, lang: str, as_of: date) -> Path:
    """Print the edition loaded in `page` to `bulletin.<lang>.pdf`, title and page on each
    page's foot."""
    title = escape(_TITLE[lang].format(d=long_date(as_of, lang)))
    return page.print_pdf(pdf_path(directory, lang),
                          footer=_FOOTER.format(title=title, page=_PAGE[lang]))
