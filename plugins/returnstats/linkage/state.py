"""The linkage state's rows: one per linked record (docs/linkage.md, "Incremental state"),
and how a staged worker record becomes one. Restricted: they hold normalised names, IDs
and phones. Everything here is Arrow; no record passes through pandas.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from returnstats.linkage import normalise

_S, _I, _D, _B = pa.string(), pa.int64(), pa.date32(), pa.bool_()

FOUNDING_ORDER = ["report_date", "package", "row_number", "file"]
"""A record founds its person when it comes first in this order."""

LINEAGE = ["package", "file", "row_number"]

PROFILE_COLUMNS = [
    "name_norm", "name_pinyin", "name_tail", "id_number", "id_number_raw", "id_lead",
    "id_head", "id_tail", "phone", "birth_date", "sex", "origin_county", "destination_province",
    "arrival_date",
]
"""The columns Splink compares (`id_number` is the valid ID or null; `id_number_raw` the
ID as given when it is intact, valid or not, and `id_lead` that or what survives of a
damaged one, see `normalise.id_lead`; `birth_date` is ISO text, compared by edit
distance)."""

SURVIVORSHIP_COLUMNS = ["record_id", "province", "report_date", "version", "role", "mode",
                        "employer_uscc"]

STATE_SCHEMA = pa.schema(
    [
        ("package", _S), ("file", _S), ("row_number", _I), ("record_id", _S),
        ("province", _S), ("report_date", _D), ("version", _I), ("role", _S), ("mode", _S),
        ("employer_uscc", _S),
        *[(c, _D if c == "arrival_date" else _S) for c in PROFILE_COLUMNS],
        ("person_key", _S), ("merged", _B), ("attached", _B),
    ]
)
"""Keyed by lineage (package, file, row_number): the comparison profile, the survivorship
fields, the record's person, and whether a probabilistic edge already joined it."""

BLOCKING_KEYS: tuple[tuple[str, ...], ...] = (
    ("name_pinyin", "origin_county"),
    ("phone",),
    ("birth_date", "origin_county"),
    ("id_head", "name_tail"),
    ("id_tail",),
)
"""The columns of each blocking rule (`model.BLOCKING_RULES`): records block together when
they agree on all of them."""

KEY_COLUMNS = [*(f"key_{i}" for i in range(len(BLOCKING_KEYS))), "key_id"]
"""Stored beside each state row: the hash of each blocking key and of the valid ID, null
where a part is null, so that finding what a new record reaches reads a few integers per
known record instead of hashing its strings."""


def key_sql(alias: str = "") -> list[str]:
    """The SQL of each `KEY_COLUMNS` value over the state row `alias` (e.g. "l.")."""
    def key(columns: tuple[str, ...]) -> str:
        missing = " OR ".join(f"{alias}{c} IS NULL" for c in columns)
        return f"CASE WHEN {missing} THEN NULL ELSE hash({', '.join(alias + c for c in columns)}) END"

    return [*(key(columns) for columns in BLOCKING_KEYS), key(("id_number",))]


RECORD_PERSON_SCHEMA = pa.schema(
    [("package", _S), ("file", _S), ("row_number", _I), ("record_id", _S),
     ("person_key", _S), ("merged", _B)]
)

# The staged worker columns linkage reads, with their staging types.
_WORKER_COLUMNS = {
    "package": _S, "file": _S, "row_number": _I, "record_id": _S, "province": _S,
    "report_date": _D, "version": _I, "role": _S, "mode": _S, "employer_uscc": _S,
    "name": _S, "id_number": _S, "id_number_raw": _S, "sex": _S, "birth_date": _D,
    "phone": _S, "origin_county": _S, "destination_province": _S, "arrival_date": _D,
}


def worker_table(workers: pa.Table | pd.DataFrame) -> pa.Table:
    """The staged worker columns linkage reads, typed; `id_number_raw` defaults to
    `id_number` (frames built by hand may lack it)."""
    if isinstance(workers, pd.DataFrame):
        frame = workers.copy()
        if "id_number_raw" not in frame:
            frame["id_number_raw"] = frame["id_number"]
        for column in ("report_date", "birth_date", "arrival_date"):
            frame[column] = pd.to_datetime(frame[column], errors="coerce").dt.date
        frame = frame[list(_WORKER_COLUMNS)]
        frame = frame.astype({c: object for c, t in _WORKER_COLUMNS.items() if t == _S})
        workers = pa.Table.from_pandas(frame.where(frame.notna(), None), preserve_index=False)
    elif "id_number_raw" not in workers.column_names:
        workers = workers.append_column("id_number_raw", workers["id_number"])
    return pa.table({c: workers[c].cast(t) for c, t in _WORKER_COLUMNS.items()})


def new_state_rows(workers: pa.Table | pd.DataFrame) -> pa.Table:
    """Staged worker records as state rows (normalised, not linked yet), in founding order."""
    table = worker_table(workers)
    table = table.take(pc.sort_indices(table, [(c, "ascending") for c in FOUNDING_ORDER]))
    given = normalise.normalise_id_numbers(table["id_number_raw"])
    raw = normalise.intact_id_numbers(given)
    lead = normalise.id_lead(given)
    names = normalise.normalise_names(table["name"])
    profile = {
        "name_norm": names,
        "name_pinyin": normalise.name_pinyin(names),
        "name_tail": normalise.name_tail(names),
        "id_number": normalise.valid_id_numbers(table["id_number"]),
        "id_number_raw": raw,
        "id_lead": lead,
        "id_head": pc.utf8_slice_codeunits(raw, 0, 9),
        "id_tail": pc.utf8_slice_codeunits(raw, -9),
        "phone": normalise.normalise_phones(table["phone"]),
        # A missing birth date is read from the ID (or what survives of it), when it
        # spells one: a sending province that left the column empty still gave it.
        "birth_date": pc.coalesce(table["birth_date"].cast(_S), normalise.id_birth_dates(lead)),
        "sex": table["sex"],
        "origin_county": table["origin_county"],
        "destination_province": table["destination_province"],
        "arrival_date": table["arrival_date"],
    }
    n = table.num_rows
    columns = {
        **{c: table[c] for c in LINEAGE + SURVIVORSHIP_COLUMNS},
        **profile,
        "person_key": pa.nulls(n, _S),
        "merged": pa.array([False] * n, _B),
        "attached": pa.array([False] * n, _B),
    }
    return pa.table({name: columns[name] for name in STATE_SCHEMA.names}).cast(STATE_SCHEMA)
