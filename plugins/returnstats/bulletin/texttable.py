"""Plain-text tables of the text editions: one writer and the parser the read-back uses.

A table is its title line, a header line, then one line per row, columns separated by at
least two spaces (labels hold single spaces only), ended by a blank line.
"""

from __future__ import annotations

import unicodedata

from .context import DisplayTable

GAP = "  "


def display_width(text: str) -> int:
    """Columns a monospace terminal gives `text`: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int, right: bool) -> str:
    fill = " " * (width - display_width(text))
    return fill + text if right else text + fill


def format_text_table(table: DisplayTable, lang: str) -> str:
    header = list(table.headers(lang))
    body = [[(row.label_zh if lang == "zh" else row.label_en),
             *(getattr(cell, lang) for cell in row.cells)] for row in table.rows]
    widths = [max(display_width(line[i]) for line in [header, *body]) for i in range(len(header))]
    lines = [table.title(lang)]
    for line in [header, *body]:
        lines.append(GAP.join(_pad(text, widths[i], i > 0) for i, text in enumerate(line)).rstrip())
    return "\n".join(lines)


def parse_text_table(text: str, title: str) -> list[list[str]] | None:
    """Rows (label, cell texts...) of the table titled `title` in `text`, header excluded."""
    lines = text.splitlines()
    try:
        start = lines.index(title)
    except ValueError:
        return None
    rows = []
    for line in lines[start + 2:]:
        if not line.strip():
            break
        rows.append([part for part in line.strip().split(GAP) if part.strip()])
        rows[-1] = [part.strip() for part in rows[-1]]
    return rows
