"""CSV cells that a spreadsheet would run as formulas are neutralised (SPEC §9)."""

import csv

import pytest
from returnstats.bulletin.csvout import safe_csv_cell, write_csv


@pytest.mark.parametrize("text", [
    "=1+1", "+86", "-2", "@SUM(A1)", "\tx", "\rx",
    " =1+1", "\t=1+1", "  @A1", "\u3000=1+1",     # a sign after leading whitespace
    "＝1+1", "＋1", "－1", "＠SUM(A1)", " ＝1+1",   # full-width signs
])
def test_formula_like_text_cells_are_prefixed(text):
    assert safe_csv_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["广东省", "a=b", "x-1", "", " ", "21 Feb 2020", -12, 3.5])
def test_other_cells_and_numbers_are_left_alone(value):
    assert safe_csv_cell(value) == value


def test_written_file_holds_neutralised_text_and_plain_numbers(tmp_path):
    path = write_csv(tmp_path / "t.csv", ["label", "n"],
                     [["=HYPERLINK(\"x\")", -3], [" ＝1+1", 4], ["ok", 5]])
    with open(path, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows == [["label", "n"], ["'=HYPERLINK(\"x\")", "-3"], ["' ＝1+1", "4"], ["ok", "5"]]
