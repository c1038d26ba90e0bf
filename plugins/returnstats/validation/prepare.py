"""Turn a raw file table into the *prepared* frame the record rules (SPEC §3.2) run on.

Preparation only normalises: canonical codes (mode, province, sex, risk, channel,
key_enterprise) where a value is a known alias, the text as given where it is not;
parsed dates (NaT where absent or unparseable) beside the raw text (`<date>_raw`);
ID numbers, credit codes, county codes and phones without spaces and full-width forms.
It decides nothing: whether a value breaks a rule is the verdict of the expectations
in `include/gx/expectations/` (`suites.run_suite`). A value a warning flags is staged as
null afterwards (`quarantine.split_file`, the expectation's `treated_as_absent`).
Normalising happens once per distinct value inside `returnstats.reports.values`.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from returnstats.reference import province_code
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
    """The input columns as given: the reader's cells (`RawFile.table`) are already
    trimmed text, None when empty, so nothing is trimmed or replaced again here. An
    absent column is all None; any other missing marker (NaN) becomes None."""

    def __init__(self, table: pd.DataFrame, columns: tuple[str, ...]) -> None:
        self.text: dict[str, pd.Series] = {}
        for column in columns:
            if column in table.columns:
                cells = table[column].to_numpy(dtype=object)
                missing = pd.isna(cells)
                if missing.any():
                    cells = cells.copy()
                    cells[missing] = None
            else:
                cells = np.full(len(table), None, dtype=object)
            self.text[column] = pd.Series(cells, index=table.index, dtype=object)

    def __getitem__(self, column: str) -> pd.Series:
        return self.text[column]


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


def _canonical(parsed: pd.Series, given: pd.Series) -> pd.Series:
    """The canonical value where the text is a known alias, the text as given elsewhere
    (an unknown value stays visible to the expectation that rejects it)."""
    return parsed.where(parsed.notna(), given)


def _frame(columns: Columns, index: pd.Index) -> pd.DataFrame:
    """The prepared frame from its columns, built once (no column-by-column inserts)."""
    return pd.DataFrame(columns, index=index, copy=False)


def prepare_workers(table: pd.DataFrame, ctx: FileContext) -> pd.DataFrame:
    """The prepared frame of a workers file (see the module docstring)."""
    given = _Given(table, _WORKER_INPUT)
    frame = _context_columns(table, ctx)
    frame["campaign_start"] = pd.Series(
        np.full(len(table), np.datetime64(ctx.campaign_start, "s")), index=table.index)
    frame["record_id"] = given["record_id"]
    frame["name"] = given["name"]

    ids = values.normalise_id(given["id_number"])
    frame["id_number"] = ids
    frame["id_number_raw"] = ids
    # Columns with few distinct values are categorical: the expectations compare, filter
    # and take them as small integer codes.
    frame["sex"] = values.canonical(given["sex"], values.sex_of)
    for column in ("birth_date", "departure_date", "arrival_date"):
        frame[column], frame[f"{column}_raw"] = values.parse_dates_keeping_text(given[column])
    frame["phone"] = values.normalise_phone_text(given["phone"])

    county = values.canonical(given["origin_county"],
                              lambda text: unicodedata.normalize("NFKC", text).strip())
    frame["origin_county"] = county
    frame["origin_province"] = values.derive(county, lambda code: code[:2])
    frame["destination_province"] = values.canonical(given["destination_province"],
                                                     province_code)
    frame["destination_city"] = given["destination_city"]
    frame["employer_uscc"] = values.canonical(given["employer_uscc"], values.uscc_of)
    frame["employer_name"] = given["employer_name"]
    frame["mode"] = values.canonical(given["mode"], values.mode_of)
    frame["trip_ref"] = given["trip_ref"]
    frame["origin_risk"] = values.canonical(given["origin_risk"], values.risk_of)

    # The sender organises the transport: a package of the origin province is the sending
    # side even when the worker stays in that province.
    sending = (frame["origin_province"] == ctx.province).to_numpy(dtype=bool)
    receiving = (frame["destination_province"] == ctx.province).to_numpy(dtype=bool)
    frame["role"] = pd.Series(np.select([sending, receiving],
                                        ["sending", "receiving"], "other"),
                              index=table.index, dtype=object)
    return _frame(frame, table.index)


def prepare_enterprises(table: pd.DataFrame, ctx: FileContext) -> pd.DataFrame:
    """The prepared frame of an enterprises file (see the module docstring)."""
    given = _Given(table, _ENTERPRISE_INPUT)
    frame = _context_columns(table, ctx)

    frame["enterprise_uscc_raw"] = given["enterprise_uscc"]
    frame["enterprise_uscc"] = values.normalise_uscc(given["enterprise_uscc"])
    frame["enterprise_name"] = given["enterprise_name"]
    frame["key_enterprise"] = _canonical(values.parse_bool(given["key_enterprise"]),
                                         given["key_enterprise"])
    for column in ("labour_gap", "workers_supplied"):
        frame[f"{column}_raw"] = given[column]
        frame[column] = values.parse_int(given[column])
    frame["channel"] = _canonical(values.parse_channel(given["channel"]), given["channel"])
    frame["status_date_raw"] = given["status_date"]
    frame["status_date"] = values.parse_datetime64(given["status_date"])
    return _frame(frame, table.index)


def prepare(kind: str, table: pd.DataFrame, ctx: FileContext) -> pd.DataFrame:
    """Prepared frame for a file of `kind` ('workers' or 'enterprises')."""
    if kind == "workers":
        return prepare_workers(table, ctx)
    if kind == "enterprises":
        return prepare_enterprises(table, ctx)
    raise ValueError(f"unknown file kind {kind!r}")
