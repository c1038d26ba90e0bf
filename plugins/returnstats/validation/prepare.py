"""Turn a raw file table into the *prepared* frame the record rules (SPEC §3.2) run on.

The prepared frame holds the typed columns of the staging contract (docs/architecture.md)
plus the helper columns the expectations in `include/expectations/` assert: the value as
given (`<column>_raw`, trimmed, null when empty) and booleans or day differences for the
checks Great Expectations has no expectation for. Everything is vectorised; check-digit
work happens once per distinct value inside `returnstats.reports.values`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

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


def _date(series: pd.Series) -> pd.Series:
    """Parsed dates as datetime64 (NaT where unparseable or absent)."""
    parsed = values.parse_date(series)
    return pd.to_datetime(parsed, errors="coerce").astype("datetime64[s]")


def _days(later: pd.Series, earlier: pd.Series | pd.Timestamp) -> pd.Series:
    """Whole days from `earlier` to `later`, Int64 (null when either is missing)."""
    return (later - earlier).dt.days.astype("Int64")


def _bool(series: pd.Series, applies: pd.Series) -> pd.Series:
    """A nullable boolean: the check's outcome where it applies, null elsewhere.

    Column-map expectations skip nulls, so a rule asserting `[True]` on such a column
    only looks at the rows it applies to.
    """
    out = pd.Series(series.to_numpy(dtype=bool, na_value=False), index=series.index,
                    dtype="boolean")
    return out.where(applies.to_numpy(dtype=bool), pd.NA)


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
    valid_ids = id_number.where(valid, None)
    text = valid_ids.astype(object).where(valid_ids.notna(), "")
    text = text.astype(str)
    digit17 = pd.to_numeric(text.str.slice(16, 17), errors="coerce")
    sex = pd.Series(np.where(digit17 % 2 == 1, "M", "F"), index=id_number.index, dtype=object)
    sex = sex.where(digit17.notna(), None)
    birth = pd.to_datetime(text.str.slice(6, 14), format="%Y%m%d", errors="coerce")
    return sex, birth.astype("datetime64[s]")


def prepare_workers(table: pd.DataFrame, ctx: FileContext) -> pd.DataFrame:
    """The prepared frame of a workers file (see the module docstring)."""
    given = {c: _given(table, c) for c in _WORKER_INPUT}
    frame = _context_columns(table, ctx)

    frame["record_id"] = given["record_id"]
    frame["name"] = given["name"]

    id_raw = given["id_number"]
    id_norm = _text(values.normalise_id(id_raw))
    id_norm = id_norm.where(id_norm.notna(), id_raw).where(id_raw.notna(), None)
    id_valid = values.is_valid_id(id_norm).astype(bool) & id_raw.notna()
    frame["id_number_raw"] = id_norm
    frame["id_number"] = id_norm.where(id_valid, None)
    frame["id_valid"] = id_valid
    id_sex, id_birth = _id_facts(id_norm, id_valid)

    frame["sex_raw"] = given["sex"]
    frame["sex"] = _text(values.parse_sex(given["sex"])).where(given["sex"].notna(), None)
    frame["sex_matches_id"] = _bool(frame["sex"] == id_sex,
                                    frame["sex"].notna() & id_sex.notna())

    frame["birth_date_raw"] = given["birth_date"]
    frame["birth_date"] = _date(given["birth_date"])
    frame["birth_date_matches_id"] = _bool(frame["birth_date"] == id_birth,
                                           frame["birth_date"].notna() & id_birth.notna())

    frame["phone_raw"] = given["phone"]
    frame["phone"] = _text(values.normalise_phone(given["phone"])).where(given["phone"].notna(), None)

    county = given["origin_county"]
    frame["origin_county_raw"] = county
    is_county = county.astype(object).fillna("").astype(str).str.fullmatch(r"\d{6}") & \
        values.is_county_code(county).astype(bool)
    frame["origin_county_is_county"] = _bool(is_county, county.notna())
    frame["origin_county"] = county.where(is_county, None)
    frame["origin_province"] = _text(frame["origin_county"].str.slice(0, 2))

    frame["destination_province_raw"] = given["destination_province"]
    frame["destination_province"] = _text(values.parse_province(given["destination_province"]))
    frame["destination_city"] = given["destination_city"]

    uscc_raw = given["employer_uscc"]
    uscc = _text(values.normalise_uscc(uscc_raw)).where(uscc_raw.notna(), None)
    frame["employer_uscc_raw"] = uscc_raw
    frame["employer_uscc"] = uscc.where(values.is_valid_uscc(uscc).astype(bool) & uscc.notna(), None)
    frame["employer_name"] = given["employer_name"]

    frame["mode_raw"] = given["mode"]
    frame["mode"] = _text(values.parse_mode(given["mode"])).where(given["mode"].notna(), None)
    frame["trip_ref"] = given["trip_ref"]

    frame["departure_date_raw"] = given["departure_date"]
    frame["departure_date"] = _date(given["departure_date"])
    frame["arrival_date_raw"] = given["arrival_date"]
    frame["arrival_date"] = _date(given["arrival_date"])
    frame["arrival_days_after_report"] = _days(frame["arrival_date"],
                                               pd.Timestamp(ctx.report_date))
    frame["arrival_days_since_campaign"] = _days(frame["arrival_date"],
                                                 pd.Timestamp(ctx.campaign_start))
    frame["departure_days_before_arrival"] = _days(frame["arrival_date"], frame["departure_date"])

    frame["origin_risk_raw"] = given["origin_risk"]
    frame["origin_risk"] = _text(values.parse_risk(given["origin_risk"])).where(
        given["origin_risk"].notna(), None)

    rid = frame["record_id"]
    frame["record_id_is_duplicate"] = rid.notna() & rid.duplicated(keep="first")

    # The sender organises the transport: a package of the origin province is the sending
    # side even when the worker stays in that province.
    sending = frame["origin_province"] == ctx.province
    receiving = frame["destination_province"] == ctx.province
    frame["role"] = pd.Series(np.select([sending.to_numpy(bool), receiving.to_numpy(bool)],
                                        ["sending", "receiving"], "other"),
                              index=frame.index, dtype=object)
    return frame


def prepare_enterprises(table: pd.DataFrame, ctx: FileContext) -> pd.DataFrame:
    """The prepared frame of an enterprises file (see the module docstring)."""
    given = {c: _given(table, c) for c in _ENTERPRISE_INPUT}
    frame = _context_columns(table, ctx)

    uscc_raw = given["enterprise_uscc"]
    uscc = _text(values.normalise_uscc(uscc_raw)).where(uscc_raw.notna(), None)
    uscc_valid = values.is_valid_uscc(uscc).astype(bool) & uscc.notna()
    frame["enterprise_uscc_raw"] = uscc_raw
    frame["enterprise_uscc"] = uscc
    frame["enterprise_uscc_valid"] = _bool(uscc_valid, uscc.notna())
    frame["uscc_province"] = _text(uscc.where(uscc_valid, None).str.slice(2, 4))
    frame["uscc_in_package_province"] = _bool(frame["uscc_province"] == ctx.province,
                                              frame["uscc_province"].notna())
    frame["enterprise_name"] = given["enterprise_name"]

    frame["key_enterprise_raw"] = given["key_enterprise"]
    frame["key_enterprise"] = values.parse_bool(given["key_enterprise"]).astype("boolean")

    for column, minimum in (("labour_gap", 1), ("workers_supplied", 0)):
        raw = given[column]
        number = values.parse_int(raw).astype("Int64")
        frame[f"{column}_raw"] = raw
        frame[column] = number
        frame[f"{column}_valid"] = _bool(number.notna() & (number.fillna(minimum - 1) >= minimum),
                                         raw.notna())

    frame["channel_raw"] = given["channel"]
    frame["channel"] = _text(values.parse_channel(given["channel"])).where(
        given["channel"].notna(), None)

    frame["status_date_raw"] = given["status_date"]
    frame["status_date"] = _date(given["status_date"])
    frame["status_days_after_report"] = _days(frame["status_date"], pd.Timestamp(ctx.report_date))
    return frame


def prepare(kind: str, table: pd.DataFrame, ctx: FileContext) -> pd.DataFrame:
    """Prepared frame for a file of `kind` ('workers' or 'enterprises')."""
    if kind == "workers":
        return prepare_workers(table, ctx)
    if kind == "enterprises":
        return prepare_enterprises(table, ctx)
    raise ValueError(f"unknown file kind {kind!r}")
