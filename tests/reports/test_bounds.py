"""The column and range limits hold whatever the shape (SPEC §3.1): Hypothesis draws
widths, key sets and cell positions on both sides of small limits, and the readers reject
exactly the shapes past them, before building any table."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from returnstats.config import Limits
from returnstats.reports.errors import PackageRejected
from returnstats.reports.readers import parse_file

from tests.corpus.hostile import _column, _workbook

LIMITS = Limits(max_columns=16, xlsx_sparsity=4, xlsx_sparse_allowance=1000)
QUICK = settings(max_examples=40, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow])


def _outcome(data: bytes, name: str) -> str:
    try:
        parse_file(data, name, "workers", LIMITS)
    except PackageRejected as rejection:
        return rejection.reason
    return "read"


@QUICK
@given(width=st.integers(1, 40), rows=st.lists(st.integers(1, 40), max_size=5))
def test_csv_wider_than_the_limit_is_rejected_before_parsing(width, rows):
    header = ",".join(f"c{j}" for j in range(width))
    body = "".join(",".join("x" * n) + "\n" for n in rows)
    outcome = _outcome(f"{header}\n{body}".encode(), "workers.csv")
    if width > LIMITS.max_columns:
        assert outcome == "package.file.too_many_columns"
    elif any(n > width for n in rows):  # a row wider than the header fails the parser
        assert outcome == "package.file.unparseable"
    else:
        assert outcome == "read"


@QUICK
@given(st.lists(st.sets(st.integers(0, 39), max_size=6), min_size=1, max_size=30))
def test_json_whose_keys_together_pass_the_limit_is_rejected(key_sets):
    records = [{f"k{k}": "x" for k in sorted(keys)} for keys in key_sets]
    union = set().union(*key_sets)
    outcome = _outcome(json.dumps(records).encode(), "workers.json")
    assert outcome == ("package.file.too_many_columns" if len(union) > LIMITS.max_columns
                       else "read")


def _sheet(cells: set[tuple[int, int]], declared: str | None) -> bytes:
    rows: dict[int, list[int]] = {}
    for row, column in sorted(cells):
        rows.setdefault(row, []).append(column)
    data = "".join(f'<row r="{r}">' + "".join(f'<c r="{_column(c - 1)}{r}"><v>1</v></c>'
                                              for c in columns) + "</row>"
                   for r, columns in rows.items())
    dimension = f'<dimension ref="{declared}"/>' if declared else ""
    xml = ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.'
           f'openxmlformats.org/spreadsheetml/2006/main">{dimension}<sheetData>{data}'
           '</sheetData></worksheet>')
    return _workbook({"xl/worksheets/sheet1.xml": xml,
                      "xl/sharedStrings.xml": '<sst xmlns="http://schemas.openxmlformats.org/'
                                              'spreadsheetml/2006/main" uniqueCount="0"/>'})


_ROWS, _COLUMNS = st.integers(1, 1 << 20), st.integers(1, 1 << 14)


@QUICK
@given(cells=st.sets(st.tuples(st.integers(1, 3000), st.integers(1, 30)), max_size=30)
       | st.sets(st.tuples(_ROWS, _COLUMNS), max_size=4),
       declared=st.none() | st.tuples(_ROWS, _COLUMNS))
def test_xlsx_ranges_wider_or_sparser_than_the_limits_are_rejected(cells, declared):
    cells = {(1, 1), *cells}
    (top, bottom), (left, right) = ((min(r for r, _ in cells), max(r for r, _ in cells)),
                                    (min(c for _, c in cells), max(c for _, c in cells)))
    spans = [(bottom - top + 1, right - left + 1)]
    ref = None
    if declared:
        ref = f"A1:{_column(declared[1] - 1)}{declared[0]}"
        spans.append(declared)
    allowed = LIMITS.xlsx_sparsity * len(cells) + LIMITS.xlsx_sparse_allowance
    outcome = _outcome(_sheet(cells, ref), "workers.xlsx")
    if any(columns > LIMITS.max_columns for _, columns in spans):
        assert outcome == "package.file.too_many_columns"
    elif any(rows * columns > allowed for rows, columns in spans):
        assert outcome == "package.file.sparse_range"
    else:
        assert outcome == "read"


def test_shared_strings_declaring_more_than_they_hold_are_refused():
    sst = ('<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
           'uniqueCount="4000000000"><si><t>a</t></si></sst>')
    data = _workbook({"xl/worksheets/sheet1.xml": '<worksheet><sheetData/></worksheet>',
                      "xl/sharedStrings.xml": sst})
    assert _outcome(data, "workers.xlsx") == "package.file.text_too_large"


def test_a_dtd_in_an_xlsx_part_is_refused():
    sheet = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]>'
             '<worksheet><sheetData/></worksheet>')
    assert _outcome(_workbook({"xl/worksheets/sheet1.xml": sheet}), "workers.xlsx") == \
        "package.file.unparseable"


@pytest.mark.parametrize("name", ["workers.xlsx"])
def test_a_zip_that_is_no_xlsx_workbook_is_refused(name):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("content.xml", "<office:document-content/>")  # an ODS, say
    assert _outcome(buffer.getvalue(), name) == "package.file.unparseable"
