"""The back test's frozen day (RAP manner): a tiny landing set generated once by
`returnstats.sample.generate`, run through ingest -> link -> publish for two as-of days,
and the published tables compared with CSVs frozen (and checked against the generator's
truth) by `python -m tests.backtests.refreeze`."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
INPUTS = HERE / "inputs"  # arrivals/<day>/<province>/<package>, truth/*.csv
EXPECTED = HERE / "expected"  # <table>.csv, every vintage

CAMPAIGN_START = date(2020, 2, 10)
AS_OF_DAYS = (date(2020, 2, 17), date(2020, 2, 18))
LINKAGE_KEY = b"k" * 32
# generate(...) arguments; the enterprise register is shrunk too (see refreeze.py).
GENERATE = {"start": AS_OF_DAYS[0], "days": len(AS_OF_DAYS), "persons_per_day": 40, "seed": 5,
            "campaign_start": CAMPAIGN_START}
KEY_ENTERPRISES_PER_PROVINCE, OTHER_ENTERPRISES_PER_PROVINCE = 8, 2
TRUTH_FILES = ("national_summary.csv", "ledger.csv", "planted_package_faults.csv",
               "planted_record_errors.csv")

FROZEN_TABLES = ("national_summary", "returns_daily", "enterprises_daily", "ledger",
                 "quarantine")
EXACT_FIGURES = ("key_enterprises_resolved_cumulative", "provinces_reporting")
MAX_DIFFERENCES = 20


def run_pipeline(work: Path):
    """Deliver, ingest the 31 provinces, link and publish each as-of day; the Settings used."""
    from returnstats.config import Settings
    from returnstats.figures.publish import publish_as_of
    from returnstats.linkage.run import link_as_of
    from returnstats.reference import provinces
    from returnstats.sample import deliver
    from returnstats.validation.ingest import ingest_province

    settings = Settings(landing=work / "landing", warehouse=work / "warehouse",
                        output=work / "output", staging=work / "staging",
                        campaign_start=CAMPAIGN_START)
    settings.ensure_dirs()
    for as_of in AS_OF_DAYS:
        deliver(sample=INPUTS, landing=settings.landing, through=as_of)
        for province in provinces():
            ingest_province(settings, province, as_of)
        link_as_of(settings, as_of, LINKAGE_KEY)
        publish_as_of(settings, as_of)
    return settings


def _text(value: object) -> str:
    """One cell as the frozen CSV holds it: '' for null, ISO dates, plain integers."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def published(warehouse: Path, table_name: str) -> pd.DataFrame:
    """A published table, every vintage, as text in grain order (the frozen form)."""
    from returnstats.warehouse.store import read_table

    frame = read_table(warehouse, table_name)
    return frame.astype(object).map(_text) if not frame.empty else frame.astype(str)


def read_frozen(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def differences(table_name: str, expected: pd.DataFrame, actual: pd.DataFrame) -> list[str]:
    """Readable differences naming table, key and column; empty when equal."""
    from returnstats.warehouse.schema import TABLES

    grain = list(TABLES[table_name].grain)
    if list(expected.columns) != list(actual.columns):
        return [f"{table_name}: columns {list(actual.columns)}, frozen {list(expected.columns)}"]
    merged = expected.merge(actual, on=grain, how="outer", suffixes=("_frozen", "_published"),
                            indicator=True)
    problems = []
    for row in merged.to_dict("records"):
        key = ", ".join(f"{c}={row[c]}" for c in grain)
        if row["_merge"] == "left_only":
            problems.append(f"{table_name} ({key}): frozen row not published")
            continue
        if row["_merge"] == "right_only":
            problems.append(f"{table_name} ({key}): published row not in the frozen file")
            continue
        for column in expected.columns.difference(grain, sort=False):
            frozen, now = row[f"{column}_frozen"], row[f"{column}_published"]
            if frozen != now:
                problems.append(f"{table_name} ({key}) {column}: frozen {frozen!r}, "
                                f"published {now!r}")
    if len(problems) > MAX_DIFFERENCES:
        problems = problems[:MAX_DIFFERENCES] + [f"... {len(problems) - MAX_DIFFERENCES} more"]
    return problems


def truth_differences(national_summary: pd.DataFrame) -> list[str]:
    """The exact figures of a (text) national_summary against the generator's truth."""
    truth = read_frozen(INPUTS / "truth" / "national_summary.csv")
    truth = truth[truth["as_of"].isin([d.isoformat() for d in AS_OF_DAYS])]
    columns = ["as_of", "date", *EXACT_FIGURES]
    return differences("national_summary", truth[columns].reset_index(drop=True),
                       national_summary[columns].reset_index(drop=True))
