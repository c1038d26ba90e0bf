"""
### statistics_weekly_extract — the approved week, for the statisticians

Runs whenever `return_to_work_daily` approves a vintage (Asset `returnstats.approved`, the
figures the `latest_*` views show; a held vintage never triggers it). `write_extract`
writes the seven days ending on the newest approved as-of date D to
`<RETURNSTATS_OUTPUT>/extracts/`: `returns_week_<D>.csv` (the national summary) and
`returns_week_<D>.xlsx` (national summary, returns by flow and mode).

**Who to call:** the statistics data-engineering on-call (`RETURNSTATS_ONCALL`).
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import dag, task
from returnstats_airflow.assets import APPROVED


@dag(
    dag_id="statistics_weekly_extract",
    schedule=[APPROVED],
    start_date=pendulum.datetime(2020, 2, 10, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    description="The approved week's figures as CSV and Excel for the statisticians",
    tags=["statistics", "extract"],
    default_args={"owner": os.environ.get("RETURNSTATS_OWNER", "statistics-data-engineering"),
                  "retries": 2},
)
def statistics_weekly_extract():
    @task
    def write_extract() -> dict:
        """Write the CSV and Excel extract of the newest approved vintage's week."""
        from returnstats.config import load_settings
        from returnstats.operations.extract import write_weekly_extract

        settings = load_settings()
        settings.ensure_dirs()
        extract = write_weekly_extract(settings)
        return {"as_of": extract.as_of.isoformat(), "csv": str(extract.csv),
                "excel": str(extract.excel), "days": extract.days}

    write_extract()


statistics_weekly_extract()
