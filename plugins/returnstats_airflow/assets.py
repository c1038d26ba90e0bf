"""The warehouse as Airflow Assets, for DAGs downstream of `return_to_work_daily`.

- One Asset per warehouse table (SPEC §6, `vintages` included): `publish_warehouse` lists
  them as outlets, so each publish (a vintage committed *held*) records an event on each.
- `APPROVED`: the approved figures, the `latest_*` views of the catalog. An event is
  recorded only when a vintage is approved (by `auto` in `release_bulletin`, by a person in
  `record_decision`), through the alias `RELEASES`: a branch that approves nothing records
  none. Downstream consumers (`statistics_weekly_extract`) schedule on this one, so they
  never see a held vintage.
"""

from __future__ import annotations

from airflow.sdk import Asset, AssetAlias

# returnstats.warehouse.schema.TABLES, named here so that parsing the DAG imports no pyarrow
# (tests/dags checks that the two agree).
TABLES = ("national_summary", "returns_daily", "enterprises_daily", "person_returns",
          "quarantine", "record_flags", "report_checks", "ledger", "vintages")
TABLE_ASSETS: dict[str, Asset] = {
    name: Asset(name=f"returnstats.{name}", uri=f"x-returnstats://warehouse/{name}",
                group="returnstats")
    for name in TABLES
}
APPROVED = Asset(name="returnstats.approved", uri="x-returnstats://warehouse/latest",
                 group="returnstats")
RELEASES = AssetAlias(name="returnstats.releases")


def record_approval(outlet_events, as_of: str, by: str) -> None:
    """Record an event on `APPROVED` for the vintage of `as_of`, approved by `by`."""
    outlet_events[RELEASES].add(APPROVED, extra={"as_of": as_of, "approved_by": by})
