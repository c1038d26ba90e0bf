"""Record ids that are personal data (SPEC §6): a `record_id` that looks like an ID number
(18 characters, or 15 digits) or a mainland mobile number is published as
`row<row_number>` in `quarantine.record_id` and `person_returns.source_records`, and the
row is flagged `worker.record_id.personal` (a warning: the record is kept). Staging, in
the restricted zone, keeps the id as given. "Looks like", not "is valid": a mistyped ID
number is as personal as a valid one.
"""

from __future__ import annotations

import re

import numpy as np

PERSONAL_RECORD_ID = "worker.record_id.personal"
PERSONAL_DETAIL = ("record_id looks like an ID or mobile number; published as "
                   "row<row_number>")
PATTERN = r"\s*(?:[0-9]{17}[0-9Xx]|[0-9]{15}|(?:\+?86[ -]?)?1[3-9][0-9]{9})\s*"
_PERSONAL = re.compile(PATTERN)


def personal_mask(record_ids: np.ndarray) -> np.ndarray:
    """True where the record id looks like an ID or mobile number."""
    return np.fromiter((isinstance(v, str) and _PERSONAL.fullmatch(v) is not None
                        for v in record_ids), dtype=bool, count=len(record_ids))


def public_record_ids(record_ids: np.ndarray, row_numbers: np.ndarray) -> np.ndarray:
    """The record ids as published: personal ones replaced by `row<row_number>`."""
    out = np.array(record_ids, dtype=object, copy=True)
    for at in np.flatnonzero(personal_mask(out)):
        out[at] = f"row{int(row_numbers[at])}"
    return out


def public_record_id_sql(record_id: str = "record_id", row_number: str = "row_number") -> str:
    """The same replacement as a DuckDB expression."""
    return (f"CASE WHEN regexp_full_match({record_id}, '{PATTERN}') "
            f"THEN 'row' || {row_number}::VARCHAR ELSE {record_id} END")
