"""CSV tables written by the product, neutralised against formula injection (SPEC §9)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path

# Half-width and full-width signs: spreadsheet software folds ＝＋－＠ to =+-@ on input.
_FORMULA_SIGNS = ("=", "+", "-", "@", "＝", "＋", "－", "＠")
_CONTROL_STARTS = ("\t", "\r")


def safe_csv_cell(value: object) -> object:
    """A text cell that a spreadsheet could take for a formula gets a leading `'`: one that
    starts with a tab or a carriage return, or with a sign after any leading whitespace
    (" =1+1" is a formula to most spreadsheets). Numbers stay numbers."""
    if isinstance(value, str) and (value.startswith(_CONTROL_STARTS)
                                   or value.lstrip().startswith(_FORMULA_SIGNS)):
        return "'" + value
    return value


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Path:
    """Write a UTF-8 (with BOM, for spreadsheet software) CSV, every cell through safe_csv_cell."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([safe_csv_cell(h) for h in header])
        for row in rows:
            writer.writerow([safe_csv_cell(v) for v in row])
    return path
