"""CSV tables written by the product, neutralised against formula injection (SPEC §9)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_csv_cell(value: object) -> object:
    """A text cell starting like a formula gets a leading `'`; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
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
