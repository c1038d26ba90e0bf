"""Small committed vintages for the warehouse tests."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
from returnstats.warehouse.commits import Commit
from returnstats.warehouse.schema import NATIONAL_SUMMARY
from returnstats.warehouse.vintages import commit_vintage


def summary(rows: list[tuple[date, int, int]]) -> pd.DataFrame:
    """national_summary rows from (date, returns_new, key_enterprises_resolved_cumulative)."""
    out = []
    for day, new, resolved in rows:
        row = dict.fromkeys(NATIONAL_SUMMARY.column_names, 0)
        row.update(date=day, returns_new=new, key_enterprises_resolved_cumulative=resolved)
        out.append(row)
    return pd.DataFrame(out)


def commit(root: Path | str, as_of: date, status: str = "approved",
           **tables: pd.DataFrame | pa.Table) -> Commit:
    """Commit a vintage of the given tables (the others absent) with `status`."""
    arrow = {name: t if isinstance(t, pa.Table) else pa.Table.from_pandas(t, preserve_index=False)
             for name, t in tables.items()}
    record, _ = commit_vintage(root, as_of, arrow, status=status, reason=None,
                               provinces_reporting=31, key_fingerprint="f" * 16)
    return record
