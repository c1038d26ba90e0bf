"""Which record speaks for a person (SPEC §4), and the person key and lineage (SPEC §6).

One DuckDB query over the linked records of the touched persons; only the HMAC of each
person's anchor runs in Python.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from returnstats.linkage.keys import person_keys
from returnstats.privacy import public_record_id_sql
from returnstats.warehouse.schema import PERSON_RETURNS

RECORD_PERSON_COLUMNS = ["package", "file", "row_number", "record_id", "person_key", "merged"]

# A record's lineage in the source_records list and in an anchor: the package's province
# and report date, the version (not in anchors), the record id.
_PACKAGE_DAY = "province || '/' || strftime(report_date, '%Y%m%d')"
# A record id that is an ID or phone number is published as row<row_number> (SPEC §6).
_PUBLIC_ID = public_record_id_sql().replace("{", "{{").replace("}", "}}")  # PERSONS_SQL.format


def _pick(column: str, preferred_role: str) -> str:
    """The preferred role's record if any, else the earliest; ties broken by arrival_date,
    then founding order (`rid`). Its value is taken as it is, null included."""
    return (f"first({column} ORDER BY role IS DISTINCT FROM '{preferred_role}', "
            f"arrival_date NULLS LAST, rid)")


PERSONS_SQL = f"""
SELECT
    person,
    coalesce('id:' || arg_min(id_number, rid) FILTER (WHERE id_number IS NOT NULL),
             'record:' || arg_min({_PACKAGE_DAY} || '/' || record_id, rid)) AS anchor,
    min(arrival_date) AS return_date,
    {_pick('mode', 'sending')} AS mode,
    left({_pick('origin_county', 'sending')}, 2) AS origin_province,
    {_pick('origin_county', 'sending')} AS origin_county,
    {_pick('destination_province', 'receiving')} AS destination_province,
    {_pick('employer_uscc', 'receiving')} AS employer_uscc,
    count(*)::BIGINT AS n_records,
    list({_PACKAGE_DAY} || '/v' || version::VARCHAR || '/' || {_PUBLIC_ID}
         ORDER BY {_PACKAGE_DAY} || '/v' || version::VARCHAR || '/' || {_PUBLIC_ID}) AS source_records
FROM {{records}}
GROUP BY person
ORDER BY person
"""


def survive(connection: Any, records: str, key: bytes) -> tuple[pa.Table, pa.Table]:
    """(persons, person keys) of the linked records in relation `records` of `connection`.

    `records` has the state columns, `rid` (founding order) and `person` (rid of the
    person's founding record; every record of a person is present). `persons` has the
    person_returns columns, in person order; `person keys` maps `person` → `person_key`.
    The anchor of a person is `id:<valid ID>`, else its founding record without the
    version, so a corrected package that keeps its record ids keeps its person keys.
    """
    table = connection.sql(PERSONS_SQL.format(records=records)).to_arrow_table()
    keys = pa.array(person_keys(key, table["anchor"].to_pylist()), pa.string())
    persons = table.drop_columns(["person", "anchor"]).add_column(0, "person_key", keys)
    persons = persons.select(PERSON_RETURNS.column_names).cast(PERSON_RETURNS.schema)
    return persons, pa.table({"person": table["person"], "person_key": keys})
