"""A small fixture warehouse with three vintages, written with the schemas of SPEC §6.

Vintage 2020-02-23 brings a late Sichuan package for 2020-02-21, so the figures of
2020-02-21 published on 2020-02-22 are revised; Xizang and Qinghai do not report on
2020-02-23; a Guangdong package is rejected; `report_checks` (SPEC §6, issue 18) holds a
declared-totals mismatch, the late package and the two missing provinces.

`write_campaign` writes the same story for other dates (the year-boundary test).
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from returnstats.config import Settings
from returnstats.reference import provinces
from returnstats.warehouse.schema import TABLES
from returnstats.warehouse.vintages import commit_vintage

CAMPAIGN_START = date(2020, 2, 20)
VINTAGES = (date(2020, 2, 21), date(2020, 2, 22), date(2020, 2, 23))
AS_OF = VINTAGES[-1]
MODES = ("special_train", "chartered_bus", "train_carriage", "charter_flight")

# (origin, destination, mode, workers per day)
FLOWS = (
    ("51", "44", "special_train", 90_000),
    ("43", "44", "chartered_bus", 60_000),
    ("52", "33", "chartered_bus", 40_000),
    ("34", "32", "train_carriage", 25_000),
    ("41", "31", "charter_flight", 2),   # a small cell: suppressed in the tables
    ("44", "44", "chartered_bus", 3_000),  # within one province
    ("23", "11", "special_train", 7),
)
LATE_ROWS = (("51", "33", "special_train", 12_345),)  # Sichuan, 2020-02-21, late


# SPEC §6 report_checks, as issue 18 will write it (as_of is the partition).
REPORT_CHECKS = pa.schema([
    ("package", pa.string()), ("check", pa.string()), ("province", pa.string()),
    ("report_date", pa.date32()), ("version", pa.int64()), ("figure", pa.string()),
    ("declared", pa.int64()), ("observed", pa.int64()), ("detail", pa.string()),
])


@dataclass(frozen=True)
class Campaign:
    start: date
    vintages: tuple[date, ...]
    late: date
    """Report date of the Sichuan package that arrives with the last vintage."""

    @property
    def last(self) -> date:
        return self.vintages[-1]

    def days(self, until: date):
        d = self.start
        while d <= until:
            yield d
            d += timedelta(days=1)


FIXTURE = Campaign(CAMPAIGN_START, VINTAGES, date(2020, 2, 21))


_PENDING: dict[tuple[Path, date], dict[str, pa.Table]] = {}


def _write(root: Path, table: str, as_of: date, rows: list[dict], schema=None) -> None:
    """Keep a table of the vintage `as_of` for `_commit` (a table the warehouse schema
    does not list yet is written as a bare partition file)."""
    schema = schema or TABLES[table].schema
    columns = {name: [row[name] for row in rows] for name in schema.names}
    if table in TABLES:
        _PENDING.setdefault((root, as_of), {})[table] = pa.table(columns, schema=schema)
        return
    part = root / table / f"as_of={as_of.isoformat()}"
    part.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns, schema=schema), part / "part-0.parquet")


def _commit(root: Path, as_of: date, campaign: Campaign) -> None:
    """Commit the vintage `as_of` of the tables written, approved (SPEC §6)."""
    commit_vintage(root, as_of, _PENDING.pop((root, as_of)), status="approved", reason=None,
                   provinces_reporting=len(reporting(as_of, as_of, campaign)),
                   key_fingerprint=None)


def returns_rows(as_of: date, campaign: Campaign = FIXTURE) -> list[dict]:
    rows = []
    for d in campaign.days(as_of):
        for origin, destination, mode, n in FLOWS:
            rows.append(dict(date=d, origin_province=origin, destination_province=destination,
                             mode=mode, workers_new=n + (d - campaign.start).days if n > 100 else n))
        if as_of >= campaign.last and d == campaign.late:
            for origin, destination, mode, n in LATE_ROWS:
                rows.append(dict(date=d, origin_province=origin, destination_province=destination,
                                 mode=mode, workers_new=n))
    return rows


def reporting(as_of: date, report_date: date, campaign: Campaign = FIXTURE) -> list[str]:
    codes = list(provinces())
    if report_date == campaign.last:
        return [c for c in codes if c not in ("54", "63")]
    if report_date == campaign.late and as_of < campaign.last:
        return [c for c in codes if c != "51"]  # Sichuan's package arrives late
    return codes


def write_fixture_warehouse(root: Path) -> None:
    write_campaign(root, FIXTURE)


def write_campaign(root: Path, campaign: Campaign) -> None:
    for as_of in campaign.vintages:
        daily = returns_rows(as_of, campaign)
        _write(root, "returns_daily", as_of, daily)
        summary, cumulative, cross_cum = [], defaultdict(int), 0
        by_date = defaultdict(list)
        for r in daily:
            by_date[r["date"]].append(r)
        for d in campaign.days(as_of):
            today = by_date[d]
            for r in today:
                cumulative[r["mode"]] += r["workers_new"]
            cross_new = sum(r["workers_new"] for r in today
                            if r["origin_province"] != r["destination_province"])
            cross_cum += cross_new
            summary.append(dict(
                date=d,
                returns_new=sum(r["workers_new"] for r in today),
                returns_cumulative=sum(cumulative.values()),
                **{f"returns_cumulative_{m}": cumulative[m] for m in MODES},
                cross_province_new=cross_new,
                cross_province_cumulative=cross_cum,
                key_enterprises_resolved_cumulative=7_000 + 300 * (d - campaign.start).days,
                provinces_reporting=len(reporting(as_of, d, campaign)),
            ))
        _write(root, "national_summary", as_of, summary)

        enterprises = []
        for d in campaign.days(as_of):
            k = (d - campaign.start).days
            for province, reported, resolved in (("44", 5_000, 4_000 + 200 * k),
                                                 ("33", 3_000, 2_997 + k), ("32", 3, 3)):
                enterprises.append(dict(date=d, province=province, key_enterprises_reported=reported,
                                        key_enterprises_resolved_cumulative=min(resolved, reported),
                                        labour_gap_total=10 * reported,
                                        workers_supplied_total=9 * reported))
        _write(root, "enterprises_daily", as_of, enterprises)

        ledger = []
        for d in campaign.days(as_of):
            for code in reporting(as_of, d, campaign):
                package = f"{code}_{d:%Y%m%d}_v1"
                ledger.append(dict(package=package, file="workers.csv", report_date=d,
                                   province=code, version=1, status="accepted",
                                   rows_received=100, rows_accepted=99, rows_quarantined=1,
                                   rows_merged=2, reason=None))
        if as_of >= campaign.last:
            ledger.append(dict(package=f"44_{campaign.last:%Y%m%d}_v2", file="workers.csv",
                               report_date=campaign.last, province="44", version=2,
                               status="rejected", rows_received=50, rows_accepted=0,
                               rows_quarantined=0, rows_merged=0,
                               reason="package.file.sha256: workers.csv differs from the manifest"))
        _write(root, "ledger", as_of, ledger)

        quarantine = []
        for entry in ledger:
            if entry["status"] != "accepted":
                continue
            rule = "worker.mode.unknown" if entry["province"] < "40" else "worker.arrival_date.future"
            quarantine.append(dict(package=entry["package"], file="workers.csv", row_number=7,
                                   report_date=entry["report_date"], province=entry["province"],
                                   version=1, record_id="r7", rule=rule, severity="error",
                                   detail="value not allowed"))
            quarantine.append(dict(package=entry["package"], file="workers.csv", row_number=8,
                                   report_date=entry["report_date"], province=entry["province"],
                                   version=1, record_id="r8", rule="worker.phone.malformed",
                                   severity="warning", detail="treated as absent"))
        _write(root, "quarantine", as_of, quarantine)

        checks = []
        if as_of == campaign.last:
            checks = [
                dict(package=f"44_{as_of:%Y%m%d}_v1", check="report.declared_totals.mismatch",
                     province="44", report_date=as_of, version=1,
                     figure="returns_by_mode.special_train", declared=400, observed=398,
                     detail="declared 400, records 398"),
                dict(package=f"51_{campaign.late:%Y%m%d}_v1", check="report.package.late",
                     province="51", report_date=campaign.late, version=1, figure=None,
                     declared=None, observed=None, detail="first processed on the last day"),
                *(dict(package=None, check="report.province.missing", province=code,
                       report_date=as_of, version=None, figure=None, declared=None,
                       observed=None, detail="no package") for code in ("54", "63")),
            ]
        _write(root, "report_checks", as_of, checks, REPORT_CHECKS)
        _commit(root, as_of, campaign)


@pytest.fixture(scope="session")
def fixture_warehouse(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("warehouse")
    write_fixture_warehouse(root)
    return root


@pytest.fixture
def own_warehouse(fixture_warehouse: Path, tmp_path: Path) -> Path:
    """A copy of the fixture warehouse for a test that changes vintages' state."""
    copy = tmp_path / "own-warehouse"
    shutil.copytree(fixture_warehouse, copy)
    return copy


@pytest.fixture
def settings(fixture_warehouse: Path, tmp_path: Path) -> Settings:
    return Settings(
        landing=tmp_path / "landing",
        warehouse=fixture_warehouse,
        output=tmp_path / "output",
        staging=tmp_path / "staging",
        campaign_start=CAMPAIGN_START,
        recipients=("bulletin@example.org",),
        mail_from="returnstats@example.org",
    )


PUBLIC_BASE_URL = "https://stats.example.gov.cn/returnstats/"


@pytest.fixture(scope="session")
def rendered(fixture_warehouse: Path, tmp_path_factory):
    """The bulletin rendered once for the session (rendering takes a few seconds), with a
    public base URL configured and the day's Data Docs present, so that it links them."""
    from returnstats.bulletin.render import render_bulletin

    out = tmp_path_factory.mktemp("output")
    docs = out / "data_docs" / AS_OF.isoformat() / "index.html"
    docs.parent.mkdir(parents=True)
    docs.write_text("<html></html>", encoding="utf-8")
    s = Settings(landing=out / "l", warehouse=fixture_warehouse, output=out, staging=out / "s",
                 campaign_start=CAMPAIGN_START, recipients=("bulletin@example.org",),
                 mail_from="returnstats@example.org", public_base_url=PUBLIC_BASE_URL,
                 issuer_zh="国家统计测试局", issuer_en="Test Statistics Office",
                 contact="press@example.gov.cn")
    return s, render_bulletin(s, AS_OF)


