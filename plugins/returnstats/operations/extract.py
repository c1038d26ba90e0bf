"""The statisticians' weekly extract: the approved figures of the seven days ending on the
newest approved vintage, as CSV (the national summary) and Excel (national summary and
returns by flow and mode), written to `<output>/extracts/`.

It reads what the catalog's `latest_national_summary` and `latest_returns_daily` views show
(the newest *approved* vintage), never a held one. Run by the `statistics_weekly_extract`
DAG whenever a vintage is approved (Asset `returnstats.approved`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from returnstats.config import Settings
from returnstats.warehouse.commits import current_commits
from returnstats.warehouse.location import locate
from returnstats.warehouse.store import read_table

WEEK = 7
APPROVED = "approved"


class NothingApproved(LookupError):
    """The warehouse has no approved vintage yet: there is nothing to extract."""


@dataclass(frozen=True)
class Extract:
    as_of: date
    csv: Path
    excel: Path
    days: int


def latest_approved(settings: Settings) -> date:
    """The as-of date of the newest approved vintage (the one `latest_*` shows)."""
    approved = [d for d, c in current_commits(locate(settings.warehouse)).items()
                if c.status == APPROVED]
    if not approved:
        raise NothingApproved(f"no approved vintage in {settings.warehouse}")
    return max(approved)


def _week(frame: pd.DataFrame, as_of: date) -> pd.DataFrame:
    first = as_of - timedelta(days=WEEK - 1)
    week = frame[(frame["date"] >= first) & (frame["date"] <= as_of)]
    return week.drop(columns="as_of").reset_index(drop=True)


def write_weekly_extract(settings: Settings) -> Extract:
    """Write `returns_week_<D>.csv` and `.xlsx` for the newest approved vintage D."""
    as_of = latest_approved(settings)
    summary = _week(read_table(settings.warehouse, "national_summary", as_of), as_of)
    flows = _week(read_table(settings.warehouse, "returns_daily", as_of), as_of)
    directory = settings.output / "extracts"
    directory.mkdir(parents=True, exist_ok=True)
    csv = directory / f"returns_week_{as_of.isoformat()}.csv"
    excel = csv.with_suffix(".xlsx")
    summary.to_csv(csv, index=False)
    with pd.ExcelWriter(excel, engine="xlsxwriter") as writer:
        summary.to_excel(writer, sheet_name="national_summary", index=False)
        flows.to_excel(writer, sheet_name="returns_daily", index=False)
    return Extract(as_of=as_of, csv=csv, excel=excel, days=len(summary))
