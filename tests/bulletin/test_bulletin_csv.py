"""CSV cells that a spreadsheet would run as formulas are neutralised."""

import csv

from returnstats.bulletin.csvout import safe_csv_cell, write_csv


def test_formula_like_text_cells_are_prefixed_and_numbers_stay_numbers(tmp_path):
    for text in ("=1+1", "+86", "-2", "@SUM(A1)", "\tx", "\rx"):
        assert safe_csv_cell(text) == "'" + text
    assert safe_csv_cell("广东省") == "广东省"
    assert safe_csv_cell(-12) == -12
    path = write_csv(tmp_path / "t.csv", ["label", "n"], [["=HYPERLINK(\"x\")", -3], ["ok", 5]])
    with open(path, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows == [["label", "n"], ["'=HYPERLINK(\"x\")", "-3"], ["ok", "5"]]
