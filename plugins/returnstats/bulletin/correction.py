"""What a correction bulletin corrects (SPEC §7): when the vintage of D revises figures
already approved for D, the national figures whose values differ between the approved
record and the current one."""

from __future__ import annotations

from datetime import date

from returnstats.warehouse.commits import Commit, current_commit, history
from returnstats.warehouse.location import Root, locate
from returnstats.warehouse.store import committed_files

from .context import CorrectedFigure
from .labels import FIGURE_LABELS


def _summary(location, commit: Commit) -> dict[tuple[date, str], int]:
    import duckdb
    import pyarrow.parquet as pq

    tables = []
    for path in committed_files(location, commit, "national_summary"):
        with location.fs.open(path, "rb") as handle:
            tables.append(pq.read_table(handle, columns=["date", *FIGURE_LABELS]))
    con = duckdb.connect()
    try:
        for i, table in enumerate(tables):
            con.register(f"t{i}", table)
        figures = ", ".join(FIGURE_LABELS)  # identifiers from this module, never input
        union = " UNION ALL ".join(f"SELECT * FROM t{i}" for i in range(len(tables)))
        rows = con.execute(f"UNPIVOT ({union}) ON {figures} INTO NAME figure VALUE value"
                           ).fetchall()
    finally:
        con.close()
    return {(day, figure): int(value) for day, figure, value in rows}


def corrected_figures(root: Root, as_of: date) -> tuple[CorrectedFigure, ...] | None:
    """The figures the current vintage of `as_of` changes against the approved record it
    corrects, or None when it corrects nothing (a first release)."""
    location = locate(root)
    current = current_commit(location, as_of)
    if current is None or current.corrects is None:
        return None
    corrected = next((c for c in history(location, as_of) if c.id == current.corrects), None)
    if corrected is None:
        return None
    before, now = _summary(location, corrected), _summary(location, current)
    return tuple(CorrectedFigure(day, figure, before.get((day, figure), 0), value)
                 for (day, figure), value in sorted(now.items())
                 if before.get((day, figure), 0) != value)
