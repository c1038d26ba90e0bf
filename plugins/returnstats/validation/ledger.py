"""The ledger: where every received row of every package file ended (SPEC §3, §6)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from returnstats.warehouse.schema import LEDGER

LEDGER_COLUMNS = LEDGER.column_names
NO_FILE = "manifest.json"
"""The `file` of a ledger row for a package none of whose data files could be read."""


@dataclass(frozen=True)
class LedgerEntry:
    file: str
    rows_received: int
    rows_accepted: int
    rows_quarantined: int


def ledger_frame(package: str, province: str, report_date: date, version: int, status: str,
                 reason: str | None, entries: list[LedgerEntry]) -> pd.DataFrame:
    """Ledger rows of one package; a package without files still gets one row."""
    entries = entries or [LedgerEntry(NO_FILE, 0, 0, 0)]
    return pd.DataFrame(
        [{
            "package": package, "file": e.file, "report_date": report_date,
            "province": province, "version": version, "status": status,
            "rows_received": e.rows_received,
            "rows_accepted": e.rows_accepted if status == "accepted" else 0,
            "rows_quarantined": e.rows_quarantined if status == "accepted" else 0,
            "rows_merged": 0, "reason": reason,
        } for e in entries],
        columns=LEDGER_COLUMNS,
    )


def check_ledger(ledger: pd.DataFrame) -> list[str]:
    """Violations of the ledger invariant, one message per offending row (empty: balanced).

    Accepted files balance: rows_received = rows_accepted + rows_quarantined, and merge no
    more rows than they accept (rows_merged is 0 until linkage fills it). Rejected and
    superseded files accept nothing. Status is one of accepted, rejected, superseded.
    """
    problems: list[str] = []
    for row in ledger.itertuples(index=False):
        where = f"{row.package}/{row.file}"
        if row.status == "accepted":
            if row.rows_received != row.rows_accepted + row.rows_quarantined:
                problems.append(
                    f"{where}: rows_received {row.rows_received} != rows_accepted "
                    f"{row.rows_accepted} + rows_quarantined {row.rows_quarantined}")
            if getattr(row, "rows_merged", 0) > row.rows_accepted:
                problems.append(
                    f"{where}: rows_merged {row.rows_merged} > rows_accepted {row.rows_accepted}")
        elif row.status in ("rejected", "superseded"):
            if row.rows_accepted != 0:
                problems.append(f"{where}: {row.status} but rows_accepted {row.rows_accepted}")
        else:
            problems.append(f"{where}: unknown status {row.status!r}")
        if min(row.rows_received, row.rows_accepted, row.rows_quarantined) < 0:
            problems.append(f"{where}: negative row count")
    return problems
