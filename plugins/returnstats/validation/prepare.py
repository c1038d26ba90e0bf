"""Turn a raw file table into the *prepared* frame the record rules (SPEC §3.2) run on.

The prepared frame holds the typed columns of the staging contract (docs/architecture.md)
plus the helper columns the expectations in `include/expectations/` assert: for a field
`f`, `f_given` (a non-empty value was given) and `f_parsed` (it was given and understood),
booleans for the checks Great Expectations has no expectation for (GB 11643, GB 32100,
county codes, duplicates) and day differences as float64. Helpers are numpy booleans and
floats so that validating a million rows stays vectorised. Check-digit work happens once
per distinct value inside `returnstats.reports.values`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from returnstats.reports import values


@dataclass(frozen=True)
class FileContext:
    """Where a file's rows come from: its package and the dates the rules compare with."""

    package: str
    province: str
    report_date: date
    version: int
    file: str
    campaign_start: date


WORKER_STAGED_COLUMNS = (
    "package", "province", "report_date", "version", "file", "row_number", "record_id",
    "name", "id_number", "id_number_raw", "sex", "birth_date", "phone", "origin_county",
    "origin_province", "destination_province", "destination_city", "employer_uscc",
    "employer_name", "mode", "trip_ref", "departure_date", "arrival_date", "origin_risk", "role",
)

ENTERPRISE_STAGED_COLUMNS = (
    "package", "province", "report_date", "version", "file", "row_number", "enterprise_uscc",
    "enterprise_name", "key_enterprise", "labour_gap", "workers_supplied", "channel",
    "status_date",
)

_WORKER_INPUT = (
    "record_id", "name", "id_number", "sex", "birth_date", "phone", "origin_county",
    "destination_province", "destination_city", "employer_uscc", "employer_name", "mode",
    "trip_ref", "departure_date", "arrival_date", "origin_risk",
)
_ENTERPRISE_INPUT = (
    "enterprise_uscc", "enterprise_name", "key_enterprise", "labour_gap", "workers_supplied",
    "channel", "status_date",
)


def _given(table: pd.DataFrame, column: str) -> pd.Series:
    """The column as given: trimmed text, null when absent or empty (object dtype)."""
    if column not in table.columns:
        return pd.Series([None] * len(table), index=table.index, dtype=object)
    text = table[column].astype(object)
    present = text.notna()
    out = pd.Series([None] * len(table), index=table.index, dtype=object)
    stripped = text[present].astype(str).str.strip()
    out[present] = stripped.where(stripped != "", None)
    return out.astype(object).where(out.notna(), None)


def _text(series: pd.Series) -> pd.Series:
    """Object-dtype text with None for missing (what the parquet writer and GX expect)."""
    series = series.astype(object)
    return series.where(series.notna(), None)


def _nfkc(series: pd.Series) -> pd.Series:
    """NFKC-normalised text (full-width digits to ASCII), None kept."""
    array = pc.utf8_normalize(pa.array(series.to_numpy(dtype=object), type=pa.string(),
                                       from_pandas=True), "NFKC")
    return _text(pd.Series(array.to_numpy(zero_copy_only=False), index=series.index))


def _date(series: pd.Series) -> pd.Series:
    """Parsed dates as datetime64 (NaT where unparseable or absent)."""
    parsed = values.parse_date(series)
    return pd.to_datetime(parsed, errors="coerce").astype("datetime64[s]")


def _days(later: pd.Series, earlier: pd.Series | pd.Timestamp) -> pd.Series:
    """Days from `earlier` to `later` as float64 (NaN when either is missing).

    float64, not Int64: Great Expectations compares native numeric dtypes vectorised
    and nullable extension dtypes one value at a time.
    """
    return (later - earlier).dt.days.astype("float64")


def _flag(series: pd.Series) -> pd.Series:
    """A plain numpy bool column (missing counts as False)."""
    return pd.Series(series.to_numpy(dtype=bool, na_value=False), index=series.index)


def _context_columns(table: pd.DataFrame, ctx: FileContext) -> pd.DataFrame:
    n = len(table)
    return pd.DataFrame(
        {
            "package": pd.Series([ctx.package] * n, dtype=object, index=table.index),
            "province": pd.Series([ctx.province] * n, dtype=object, index=table.index),
            "report_date": pd.Series(np.full(n, np.datetime64(ctx.report_date, "s")),
                                     index=table.index),
            "version": pd.Series(np.full(n, ctx.version, dtype="int64"), index=table.index),
            "file": pd.Series([ctx.file] * n, dtype=object, index=table.index),
            "row_number": table["row_number"].astype("int64"),
        }
    )


def _id_facts(id_number: pd.Series, valid: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Sex ('M'/'F') and birth date encoded in valid GB 11643 numbers (null otherwise)."""
    text = id_number.where(valid, None)
    text = text.astype(object).where(text.notna(), "").astype(str)
    digit17 = pd.to_numeric(text.str.slice(16, 17), errors="coerce")
    sex = pd.Series(np.where(digit17 % 2 == 1, "M", "F"), index=id_number.index, dtype=object)
    sex = sex.where(digit17.notna(), None)
    birth = pd.to_datetime(text.str.slice(6, 14), format="%Y%m%d", errors="coerce")
    return sex, birth.astype("datetime64[s]")


def _parsed(frame: pd.DataFrame, column: str, given: pd.Series, parsed: pd.Series) -> None:
    """Add `column` (parsed value, null when not given), `<column>_given` and
    `<column>_parsed` (a given value that parsed)."""
    frame[column] = parsed.where(given.notna(), None) if parsed.dtype == object else parsed
    frame[f"{column}_given"] = _flag(given.notna())
    frame[f"{column}_parsed"] = _flag(given.notna() & parsed.notna())


def prepare_workers(table: pd.DataFrame, ctx: FileContext) -> pd.DataFrame:
    """The prepared frame of a workers file (see the module docstring)."""
    given = {c: _given(table, c) for c in _WORKER_INPUT}
    frame = _context_columns(table, ctx)

    for column in ("record_id", "name"):
        frame[column] = given[column]
        frame[f"{column}_given"] = _flag(given[column].notna())

    id_raw = given["id_number"]
    id_norm = _text(values.normalise_id(id_raw))
    id_norm = id_norm.where(id_norm.notna(), id_raw).where(id_raw.notna(), None)
    id_valid = _flag(values.is_valid_id(id_norm)) & id_raw.notna()
    frame["id_number_raw"] = id_norm
    frame["id_number"] = id_norm.where(id_valid, None)
    frame["id_number_given"] = _flag(id_raw.notna())
    frame["id_valid"] = id_valid
    id_sex, id_birth = _id_facts(id_norm, id_valid)

    _parsed(frame, "sex", given["sex"], _text(values.parse_sex(given["sex"])))
    frame["sex_matches_id"] = _flag(frame["sex"] == id_sex)
    _parsed(frame, "birth_date", given["birth_date"], _date(given["birth_date"]))
    frame["birth_date_matches_id"] = _flag(frame["birth_date"] == id_birth)
    _parsed(frame, "phone", given["phone"], _text(values.normalise_phone(given["phone"])))

    county = _nfkc(given["origin_county"])
    is_county = _flag(values.is_county_code(county))
    frame["origin_county"] = county.where(is_county, None)
    frame["origin_county_given"] = _flag(county.notna())
    frame["origin_county_is_county"] = is_county
    frame["origin_province"] = _text(frame["origin_county"].str.slice(0, 2))

    _parsed(frame, "destination_province", given["destination_province"],
            _text(values.parse_province(given["destination_province"])))
    frame["destination_city"] = given["destination_city"]

    uscc_raw = given["employer_uscc"]
    uscc = _text(values.normalise_uscc(uscc_raw)).where(uscc_raw.notna(), None)
    _parsed(frame, "employer_uscc", uscc_raw,
            uscc.where(_flag(values.is_valid_uscc(uscc)) & uscc.notna(), None))
    frame["employer_name"] = given["employer_name"]

    _parsed(frame, "mode", given["mode"], _text(values.parse_mode(given["mode"])))
    frame["trip_ref"] = given["trip_ref"]

    _parsed(frame, "departure_date", given["departure_date"], _date(given["departure_date"]))
    _parsed(frame, "arrival_date", given["arrival_date"], _date(given["arrival_date"]))
    frame["arrival_days_after_report"] = _days(frame["arrival_date"],
                                               pd.Timestamp(ctx.report_date))
    frame["arrival_days_since_campaign"] = _days(frame["arrival_date"],
                                                 pd.Timestamp(ctx.campaign_start))
    frame["departure_days_before_arrival"] = _days(frame["arrival_date"], frame["departure_date"])

    _parsed(frame, "origin_risk", given["origin_risk"],
            _text(values.parse_risk(given["origin_risk"])))
    frame["origin_risk_elevated"] = _flag(frame["origin_risk"].isin(["medium", "high"]))

    rid = frame["record_id"]
    frame["record_id_is_duplicate"] = _flag(rid.notna() & rid.duplicated(keep="first"))

    # The sender organises the transport: a package of the origin province is the sending
    # side even when the worker stays in that province.
    sending = _flag(frame["origin_province"] == ctx.province)
    receiving = _flag(frame["destination_province"] == ctx.province)
    frame["role"] = pd.Series(np.select([sending.to_numpy(), receiving.to_numpy()],
                                        ["sending", "receiving"], "other"),
                              index=frame.index, dtype=object)
    return frame


def prepare_enterprises(table: pd.DataFrame, ctx: FileContext) -> pd.DataFrame:
    """The prepared frame of an enterprises file (see the module docstring)."""
    given = {c: _given(table, c) for c in _ENTERPRISE_INPUT}
    frame = _context_columns(table, ctx)

    uscc_raw = given["enterprise_uscc"]
    uscc = _text(values.normalise_uscc(uscc_raw)).where(uscc_raw.notna(), None)
    uscc_valid = _flag(values.is_valid_uscc(uscc)) & uscc.notna()
    frame["enterprise_uscc_raw"] = uscc_raw
    frame["enterprise_uscc"] = uscc
    frame["enterprise_uscc_given"] = _flag(uscc_raw.notna())
    frame["enterprise_uscc_valid"] = uscc_valid
    frame["uscc_province"] = _text(uscc.where(uscc_valid, None).str.slice(2, 4))
    frame["uscc_in_package_province"] = _flag(frame["uscc_province"] == ctx.province)

    frame["enterprise_name"] = given["enterprise_name"]
    frame["enterprise_name_given"] = _flag(given["enterprise_name"].notna())

    key = values.parse_bool(given["key_enterprise"]).astype("boolean")
    _parsed(frame, "key_enterprise", given["key_enterprise"], key)

    for column, minimum in (("labour_gap", 1), ("workers_supplied", 0)):
        number = values.parse_int(given[column]).astype("Int64")
        _parsed(frame, column, given[column], number)
        frame[f"{column}_valid"] = _flag(number.notna() & (number.fillna(minimum - 1) >= minimum))

    _parsed(frame, "channel", given["channel"], _text(values.parse_channel(given["channel"])))
    _parsed(frame, "status_date", given["status_date"], _date(given["status_date"]))
    frame["status_days_after_report"] = _days(frame["status_date"], pd.Timestamp(ctx.report_date))
    return frame


def prepare(kind: str, table: pd.DataFrame, ctx: FileContext) -> pd.DataFrame:
    """Prepared frame for a file of `kind` ('workers' or 'enterprises')."""
    if kind == "workers":
        return prepare_workers(table, ctx)
    if kind == "enterprises":
        return prepare_enterprises(table, ctx)
    raise ValueError(f"unknown file kind {kind!r}")
