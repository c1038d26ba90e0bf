"""A record_id that is an ID or mobile number is not published (SPEC §6): `row<n>` in
quarantine and person_returns.source_records, flagged worker.record_id.personal."""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import pyarrow as pa
from returnstats.linkage.survivorship import survive
from returnstats.privacy import PERSONAL_RECORD_ID, public_record_id_sql, public_record_ids

from tests.builders import VALID_ID, worker_row
from tests.validation.test_rules import validate

PHONE = "13800138000"
SAMPLES = [VALID_ID, VALID_ID[:-1] + "X", "440301800101123", PHONE, "+86 13912345678",
           f" {PHONE} ", "W1", "4420200301000001", "1380013800", "ID-" + VALID_ID, None]
PERSONAL = {VALID_ID, VALID_ID[:-1] + "X", "440301800101123", PHONE, "+86 13912345678",
            f" {PHONE} "}


def test_python_and_sql_replace_the_same_ids():
    rows = np.arange(1, len(SAMPLES) + 1)
    expected = [f"row{n}" if v in PERSONAL else v for v, n in zip(SAMPLES, rows, strict=True)]
    assert public_record_ids(np.array(SAMPLES, dtype=object), rows).tolist() == expected
    ids = pa.table({"record_id": SAMPLES, "row_number": rows})  # noqa: F841 (read by DuckDB)
    sql = duckdb.sql(f"SELECT {public_record_id_sql()} AS id FROM ids ORDER BY row_number")
    assert [r[0] for r in sql.fetchall()] == expected


def test_quarantine_shows_row_n_and_flags_the_record_which_stays_accepted():
    rows = [worker_row(record_id=VALID_ID), worker_row(record_id=PHONE, mode="步行"),
            worker_row(record_id="W3")]
    _, outcome = validate("workers", rows)
    found = set(zip(outcome.quarantine["row_number"], outcome.quarantine["record_id"],
                    outcome.quarantine["rule"], outcome.quarantine["severity"], strict=True))
    assert found == {(1, "row1", PERSONAL_RECORD_ID, "warning"),
                     (2, "row2", PERSONAL_RECORD_ID, "warning"),
                     (2, "row2", "worker.mode.unknown", "error")}
    assert outcome.rows_accepted == 2 and outcome.rows_quarantined == 1


def test_source_records_name_personal_ids_by_row():
    records = pa.table({
        "rid": [0, 1], "person": [0, 0], "province": ["44", "44"],
        "report_date": pa.array([date(2020, 3, 1)] * 2, pa.date32()),
        "version": [1, 2], "record_id": [PHONE, "W7"], "row_number": [5, 6],
        "id_number": [None, None], "role": ["sending", "receiving"], "mode": ["bus", "bus"],
        "origin_county": ["440303", "440303"], "destination_province": ["31", "31"],
        "employer_uscc": [None, None],
        "arrival_date": pa.array([date(2020, 2, 28)] * 2, pa.date32()),
    })
    connection = duckdb.connect()
    connection.register("records", records)
    persons, _ = survive(connection, "records", b"k" * 32)
    assert persons["source_records"].to_pylist() == [["44/20200301/v1/row5", "44/20200301/v2/W7"]]
