"""Files shaped to exhaust a reader (issue 17): each is small on disk and asked for
gigabytes, or blocked, before the readers were bounded. Bytes only; the corpus puts them
into packages."""

from __future__ import annotations

import base64
import io
import json
import random
import zipfile

from tests.builders import WORKER_HEADERS

WIDE = 6000
"""Columns (CSV) or distinct keys (JSON): 6,000 × 6,000 rows was 36 million cells."""


def _openpyxl_sheet(rows: list[dict]):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "workers"
    sheet.append(WORKER_HEADERS)
    for row in rows:
        sheet.append([row[h] for h in WORKER_HEADERS])
    return book, sheet


def _saved(book) -> bytes:
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def sparse_columns_xlsx(rows: list[dict]) -> bytes:
    """A valid workers sheet plus one cell at XFD1048576: a 16384 × 1048576 grid."""
    book, sheet = _openpyxl_sheet(rows)
    sheet["XFD1048576"] = "x"
    return _saved(book)


def sparse_rows_xlsx(rows: list[dict]) -> bytes:
    """A valid workers sheet plus one cell at A1048576: a million rows of the sheet's width."""
    book, sheet = _openpyxl_sheet(rows)
    sheet["A1048576"] = "x"
    return _saved(book)


def shared_string_bomb_xlsx(cells: int = 50_000, text_bytes: int = 32 * 1024) -> bytes:
    """Every cell refers to one 32 KiB shared string: ~100 KB on disk, 1.6 GB of text."""
    text = base64.b64encode(random.Random(17).randbytes(text_bytes * 3 // 4)).decode()
    strings = [*WORKER_HEADERS, text]
    bomb = len(strings) - 1
    header = "".join(f'<c r="{_column(j)}1" t="s"><v>{j}</v></c>'
                     for j in range(len(WORKER_HEADERS)))
    body = "".join(f'<row r="{i}"><c r="A{i}" t="s"><v>{bomb}</v></c></row>'
                   for i in range(2, cells + 2))
    sheet = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
             '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             f'<sheetData><row r="1">{header}</row>{body}</sheetData></worksheet>')
    sst = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
           '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
           f'count="{cells + len(WORKER_HEADERS)}" uniqueCount="{len(strings)}">'
           + "".join(f"<si><t>{s}</t></si>" for s in strings) + "</sst>")
    return _workbook({"xl/worksheets/sheet1.xml": sheet, "xl/sharedStrings.xml": sst})


def _column(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _workbook(parts: dict[str, str]) -> bytes:
    main = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    base = {
        "[Content_Types].xml":
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.'
            'org/package/2006/content-types"><Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType='
            '"application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName='
            '"/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.'
            'xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
            'sharedStrings+xml"/></Types>',
        "_rels/.rels":
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
            'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="'
            f'{main}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml":
            '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.'
            f'openxmlformats.org/spreadsheetml/2006/main" xmlns:r="{main}"><sheets><sheet '
            'name="workers" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels":
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
            'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="'
            f'{main}/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="'
            f'{main}/sharedStrings" Target="sharedStrings.xml"/></Relationships>',
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in {**base, **parts}.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def wide_csv(rows: int = WIDE, columns: int = WIDE) -> bytes:
    """The worker headers, then thousands more; each row one short field."""
    header = [*WORKER_HEADERS, *(f"c{j}" for j in range(columns - len(WORKER_HEADERS)))]
    return (",".join(header) + "\n" + "x\n" * rows).encode()


def wide_json(rows: int = WIDE) -> bytes:
    """Each record adds a key of its own: the union of keys grows with the rows."""
    return json.dumps([{f"k{i}": "x"} for i in range(rows)]).encode()
