"""Which record speaks for a person (SPEC §4), and the person key and lineage (SPEC §6)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from returnstats.linkage.keys import person_key
from returnstats.warehouse.schema import PERSON_RETURNS

RECORD_PERSON_COLUMNS = ["package", "file", "row_number", "record_id", "person_key", "merged"]


def _pick(records: pd.DataFrame, preferred_role: str) -> pd.DataFrame:
    """Per person, the preferred role's record if any, else the earliest; ties broken by
    arrival_date, then founding order (report_date, package, row_number)."""
    ranked = records.assign(_not_preferred=(records["role"] != preferred_role).astype("int8"))
    ranked = ranked.sort_values(["person", "_not_preferred", "arrival_date", "rid"], kind="mergesort")
    return ranked.drop_duplicates("person").set_index("person")


def survive(records: pd.DataFrame, key: bytes) -> tuple[pd.DataFrame, pd.DataFrame]:
    """persons (the person_returns columns) and record_person from linked records.

    `records` has, besides the staged worker columns, `rid` (founding order), `person`
    (rid of the person's founding record) and `valid_id` (valid ID number or null).
    """
    founding = records[records["rid"] == records["person"]].set_index("person")
    valid_ids = records.dropna(subset=["valid_id"]).drop_duplicates("person").set_index("person")
    lineage = (
        records["province"].astype(str) + "/"
        + pd.to_datetime(records["report_date"]).dt.strftime("%Y%m%d")
    )
    source_record = lineage + "/v" + records["version"].astype("int64").astype(str) + "/" \
        + records["record_id"].astype(str)
    # The anchor of a person without an ID leaves out the version: a corrected package
    # that keeps its record ids keeps its person keys.
    founding_anchor = ("record:" + lineage + "/" + records["record_id"].astype(str))[
        records["rid"] == records["person"]
    ]
    founding_anchor.index = founding.index

    anchors = founding_anchor.copy()
    with_id = valid_ids.index
    anchors.loc[with_id] = "id:" + valid_ids["valid_id"].astype(str)
    keys = anchors.map(lambda anchor: person_key(key, anchor))

    sending = _pick(records, "sending")
    receiving = _pick(records, "receiving")
    grouped = records.groupby("person", sort=True)
    by_person = pd.DataFrame({"person": records["person"], "source": source_record}).sort_values(
        ["person", "source"], kind="mergesort")
    boundaries = np.flatnonzero(np.diff(by_person["person"].to_numpy())) + 1
    sources = pd.Series(
        [list(chunk) for chunk in np.split(by_person["source"].to_numpy(dtype=object), boundaries)]
        if len(by_person) else [],
        index=by_person["person"].drop_duplicates().to_numpy(), dtype=object,
    )
    persons = pd.DataFrame(
        {
            "person_key": keys,
            "return_date": pd.to_datetime(records["arrival_date"])
            .groupby(records["person"]).min().dt.date,
            "mode": sending["mode"],
            "origin_province": sending["origin_county"].astype(str).str[:2],
            "origin_county": sending["origin_county"],
            "destination_province": receiving["destination_province"],
            "employer_uscc": receiving["employer_uscc"],
            "n_records": grouped.size().astype("int64"),
            "source_records": sources,
        }
    )
    persons = persons.sort_values("person_key", kind="mergesort").reset_index(drop=True)
    persons = persons[PERSON_RETURNS.column_names]

    record_person = pd.DataFrame(
        {
            "package": records["package"],
            "file": records["file"],
            "row_number": records["row_number"].astype("int64"),
            "record_id": records["record_id"],
            "person_key": records["person"].map(keys),
            "merged": (records["rid"] != records["person"]).astype(bool),
        }
    )
    record_person = record_person.sort_values(
        ["package", "file", "row_number"], kind="mergesort"
    ).reset_index(drop=True)
    return persons, record_person
