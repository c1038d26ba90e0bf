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


Columns = dict[str, pd.Series]


class _Given:
    """The input columns as given, and where a value was given: the reader's cells
    (`RawFile.table`) are already trimmed text, None when empty, so nothing is trimmed or
    replaced again here. An absent column is all None; any other missing marker (NaN)
    becomes None. Each column is tested for missing values once."""

    def __init__(self, table: pd.DataFrame, columns: tuple[str, ...]) -> None:
        self.text: dict[str, pd.Series] = {}
        self.present: dict[str, np.ndarray] = {}
        for column in columns:
            if column in table.columns:
                cells = table[column].to_numpy(dtype=object)
                missing = pd.isna(cells)
                if missing.any():
                    cells = cells.copy()
                    cells[missing] = None
            else:
                cells = np.full(len(table), None, dtype=object)
                missing = np.ones(len(table), dtype=bool)
            self.text[column] = pd.Series(cells, index=table.index, dtype=object)
            self.present[column] = ~missing

    def __getitem__(self, column: str) -> pd.Series:
        return self.text[column]


def _text(series: pd.Series) -> pd.Series:
    """Object-dtype text with None for missing (what the parquet writer and GX expect)."""
    series = series.astype(object)
    return series.where(series.notna(), None)


def _nfkc(series: pd.Series) -> pd.Series:
    """NFKC-normalised text (full-width digits to ASCII), None kept."""
    array = pc.utf8_normalize(pa.array(series.to_numpy(dtype=object), type=pa.string(),
                                       from_pandas=True), "NFKC")
    return _text(pd.Series(array.to_numpy(zero_copy_only=False), index=series.index))


def _days(later: pd.Series, earlier: pd.Series | pd.Timestamp) -> pd.Series:
    """Days from `earlier` to `later` as float64 (NaN when either is missing).

    float64, not Int64: Great Expectations compares native numeric dtypes vectorised
    and nullable extension dtypes one value at a time.
    """
    return (later - earlier).dt.days.astype("float64")


def _flag(series: pd.Series | np.ndarray, index: pd.Index | None = None) -> pd.Series:
    """A plain numpy bool column (missing counts as False)."""
    if isinstance(series, np.ndarray):
        return pd.Series(series.astype(bool, copy=False), index=index, dtype=bool)
    return pd.Series(series.to_numpy(dtype=bool, na_value=False), index=series.index)


def _context_columns(table: pd.DataFrame, ctx: FileContext) -> Columns:
    n, index = len(table), table.index

    def constant(value: object, dtype: object) -> pd.Series:
        return pd.Series(np.full(n, value, dtype=dtype), index=index, dtype=dtype)

    return {
        "package": constant(ctx.package, object),
        "province": constant(ctx.province, object),
        "report_date": constant(np.datetime64(ctx.report_date, "s"), "datetime64[s]"),
        "version": constant(ctx.version, "int64"),
        "file": constant(ctx.file, object),
        "row_number": table["row_number"].astype("int64"),
    }


def _parsed(frame: Columns, column: str, present: np.ndarray, parsed: pd.Series) -> None:
    """Add `column` (parsed value, null when not given), `<column>_given` and
    `<column>_parsed` (a given value that parsed)."""
    if parsed.dtype == object:
        parsed = pd.Series(np.where(present, parsed.to_numpy(dtype=object), None),
                           index=parsed.index, dtype=object)
    frame[column] = parsed
    frame[f"{column}_given"] = _flag(present, parsed.index)
    frame[f"{column}_parsed"] = _flag(present & parsed.notna().to_numpy(), parsed.index)


def _frame(columns: Columns, index: pd.Index) -> pd.DataFrame:
    """The prepared frame from its columns, built once (no column-by-column inserts)."""
    return pd.DataFrame(columns, index=index, copy=False)


def prepare_workers(table: pd.DataFrame, ctx: FileContext) -> pd.DataFrame:
    """The prepared frame of a workers file (see the module docstring)."""
    given = _Given(table, _WORKER_INPUT)
    present = given.present
    frame = _context_columns(table, ctx)

    for column in ("record_id", "name"):
        frame[column] = given[column]
        frame[f"{column}_given"] = _flag(present[column], table.index)

    id_raw = given["id_number"]
    id_norm, id_valid = values.check_ids(id_raw)
    id_norm = id_norm.where(id_norm.notna(), id_raw).where(present["id_number"], None)
    id_valid = id_valid & present["id_number"]
    frame["id_number_raw"] = id_norm
    frame["id_number"] = id_norm.where(id_valid, None)
    frame["id_number_given"] = _flag(present["id_number"], table.index)
    frame["id_valid"] = id_valid
    id_sex, id_birth = values.id_facts(id_norm, id_valid)

    _parsed(frame, "sex", present["sex"], values.parse_sex(given["sex"]))
    frame["sex_matches_id"] = _flag(frame["sex"] == id_sex)
    _parsed(frame, "birth_date", present["birth_date"],
            values.parse_datetime64(given["birth_date"]))
    frame["birth_date_matches_id"] = _flag(frame["birth_date"] == id_birth)
    _parsed(frame, "phone", present["phone"], values.normalise_phone(given["phone"]))

    county = _nfkc(given["origin_county"])
    is_county = _flag(values.is_county_code(county))
    frame["origin_county"] = county.where(is_county, None)
    frame["origin_county_given"] = _flag(county.notna())
    frame["origin_county_is_county"] = is_county
    frame["origin_province"] = values.map_distinct(frame["origin_county"], lambda v: v[:2])

    _parsed(frame, "destination_province", present["destination_province"],
            values.parse_province(given["destination_province"]))
    frame["destination_city"] = given["destination_city"]

    uscc_raw = given["employer_uscc"]
    uscc, uscc_valid = values.check_usccs(uscc_raw)
    uscc = uscc.where(present["employer_uscc"], None)
    _parsed(frame, "employer_uscc", present["employer_uscc"],
            uscc.where(uscc_valid & uscc.notna(), None))
    frame["employer_name"] = given["employer_name"]

    _parsed(frame, "mode", present["mode"], values.parse_mode(given["mode"]))
    frame["trip_ref"] = given["trip_ref"]

    _parsed(frame, "departure_date", present["departure_date"],
            values.parse_datetime64(given["departure_date"]))
    _parsed(frame, "arrival_date", present["arrival_date"],
            values.parse_datetime64(given["arrival_date"]))
    frame["arrival_days_after_report"] = _days(frame["arrival_date"],
                                               pd.Timestamp(ctx.report_date))
    frame["arrival_days_since_campaign"] = _days(frame["arrival_date"],
                                                 pd.Timestamp(ctx.campaign_start))
    frame["departure_days_before_arrival"] = _days(frame["arrival_date"], frame["departure_date"])

    _parsed(frame, "origin_risk", present["origin_risk"], values.parse_risk(given["origin_risk"]))
    frame["origin_risk_elevated"] = _flag(frame["origin_risk"].isin(["medium", "high"]))

    rid = frame["record_id"]
    frame["record_id_is_duplicate"] = _flag(present["record_id"]
                                            & rid.duplicated(keep="first").to_numpy(), table.index)

    # The sender organises the transport: a package of the origin province is the sending
    # side even when the worker stays in that province.
    sending = _flag(frame["origin_province"] == ctx.province)
    receiving = _flag(frame["destination_province"] == ctx.province)
    frame["role"] = pd.Series(np.select([sending.to_numpy(), receiving.to_numpy()],
                                        ["sending", "receiving"], "other"),
                              index=table.index, dtype=object)
    return _frame(frame, table.index)


def prepare_enterprises(table: pd.DataFrame, ctx: FileContext) -> pd.DataFrame:
    """The prepared frame of an enterprises file (see the module docstring)."""
    given = _Given(table, _ENTERPRISE_INPUT)
    present = given.present
    frame = _context_columns(table, ctx)

    uscc_raw = given["enterprise_uscc"]
    uscc, uscc_valid = values.check_usccs(uscc_raw)
    uscc = uscc.where(present["enterprise_uscc"], None)
    uscc_valid = uscc_valid & uscc.notna()
    frame["enterprise_uscc_raw"] = uscc_raw
    frame["enterprise_uscc"] = uscc
    frame["enterprise_uscc_given"] = _flag(present["enterprise_uscc"], table.index)
    frame["enterprise_uscc_valid"] = uscc_valid
    frame["uscc_province"] = values.map_distinct(uscc.where(uscc_valid, None), lambda v: v[2:4])
    frame["uscc_in_package_province"] = _flag(frame["uscc_province"] == ctx.province)

    frame["enterprise_name"] = given["enterprise_name"]
    frame["enterprise_name_given"] = _flag(present["enterprise_name"], table.index)

    key = values.parse_bool(given["key_enterprise"]).astype("boolean")
    _parsed(frame, "key_enterprise", present["key_enterprise"], key)

    for column, minimum in (("labour_gap", 1), ("workers_supplied", 0)):
        number = values.parse_int(given[column]).astype("Int64")
        _parsed(frame, column, present[column], number)
        frame[f"{column}_valid"] = _flag(number.notna() & (number.fillna(minimum - 1) >= minimum))

    _parsed(frame, "channel", present["channel"], values.parse_channel(given["channel"]))
    _parsed(frame, "status_date", present["status_date"],
            values.parse_datetime64(given["status_date"]))
    frame["status_days_after_report"] = _days(frame["status_date"], pd.Timestamp(ctx.report_date))
    return _frame(frame, table.index)


def prepare(kind: str, table: pd.DataFrame, ctx: FileContext) -> pd.DataFrame:
    """Prepared frame for a file of `kind` ('workers' or 'enterprises')."""
    if kind == "workers":
        return prepare_workers(table, ctx)
    if kind == "enterprises":
        return prepare_enterprises(table, ctx)
    raise ValueError(f"unknown file kind {kind!r}")
