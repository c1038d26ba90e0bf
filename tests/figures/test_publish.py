"""publish_as_of end to end over hand-made staging and linkage outputs."""

from __future__ import annotations

import json
import sys
import types
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from campaign_days import CAMPAIGN_START, d, inputs_as_of
from returnstats.config import Settings
from returnstats.figures.publish import LedgerImbalance, publish_as_of
from returnstats.warehouse.catalog import CATALOG_FILE
from returnstats.warehouse.schema import TABLES
from returnstats.warehouse.store import read_table


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    settings = Settings(
        landing=tmp_path / "landing", warehouse=tmp_path / "warehouse",
        output=tmp_path / "output", staging=tmp_path / "staging", campaign_start=CAMPAIGN_START,
    )
    settings.ensure_dirs()
    ledgers: dict[date, pa.Table] = {}

    def read_staged(settings_: Settings, as_of: date) -> types.SimpleNamespace:
        # The interface of returnstats.validation.staging.read_staged.
        inputs = inputs_as_of(as_of)
        return types.SimpleNamespace(
            workers=None, enterprises=inputs.enterprises, quarantine=inputs.quarantine,
            ledger=ledgers.get(as_of, inputs.ledger),
        )

    fake = types.ModuleType("returnstats.validation.staging")
    fake.read_staged = read_staged
    fake.ledgers = ledgers
    monkeypatch.setitem(sys.modules, "returnstats.validation.staging", fake)
    return settings


def stage_linkage(settings: Settings, as_of: date) -> None:
    inputs = inputs_as_of(as_of)
    directory = settings.staging / "linkage" / f"as_of={as_of.isoformat()}"
    directory.mkdir(parents=True)
    pq.write_table(pa.Table.from_pandas(inputs.persons, preserve_index=False,
                                        schema=TABLES["person_returns"].schema),
                   directory / "persons.parquet")
    pq.write_table(pa.Table.from_pandas(inputs.record_person, preserve_index=False),
                   directory / "record_person.parquet")


def test_publish_writes_every_table_and_returns_a_json_summary(settings: Settings) -> None:
    stage_linkage(settings, d(13))
    summary = publish_as_of(settings, d(13))
    json.dumps(summary)
    assert summary["as_of"] == "2020-02-13"
    assert summary["rows"] == {"national_summary": 4, "returns_daily": 5, "enterprises_daily": 8,
                               "person_returns": 6, "quarantine": 2, "ledger": 14}
    assert summary["headline"]["returns_cumulative"] == 6
    assert summary["headline"]["key_enterprises_resolved_cumulative"] == 1
    assert summary["headline"]["provinces_reporting"] == 2
    for name in TABLES:
        assert (settings.warehouse / name / "as_of=2020-02-13" / "part-0.parquet").exists()
    assert (settings.warehouse / CATALOG_FILE).exists()


def test_two_vintages_keep_first_published_and_latest(settings: Settings) -> None:
    for as_of in (d(12), d(13)):
        stage_linkage(settings, as_of)
        publish_as_of(settings, as_of)
    con = duckdb.connect(str(settings.warehouse / CATALOG_FILE), read_only=True)
    try:
        revised = con.execute(
            "SELECT figure, first_value, latest_value FROM revisions WHERE date = $day"
            " ORDER BY figure", {"day": d(12)}).fetchall()
    finally:
        con.close()
    # p3 and p4 (returned 02-12) first reported on 02-13; E4 and E5 un-resolved by 42's report.
    assert revised == [
        ("cross_province_cumulative", 2, 4),
        ("cross_province_new", 1, 3),
        ("key_enterprises_resolved_cumulative", 4, 2),
        ("returns_cumulative", 3, 5),
        ("returns_cumulative_charter_flight", 0, 1),
        ("returns_cumulative_special_train", 2, 3),
        ("returns_new", 1, 3),
    ]


def test_ledger_imbalance_writes_nothing(settings: Settings) -> None:
    stage_linkage(settings, d(13))
    bad = inputs_as_of(d(13)).ledger
    bad.loc[bad["package"].eq("42_20200213_v1") & bad["file"].eq("workers.csv"),
            "rows_accepted"] = 5
    sys.modules["returnstats.validation.staging"].ledgers[d(13)] = bad
    with pytest.raises(LedgerImbalance, match="42_20200213_v1/workers.csv"):
        publish_as_of(settings, d(13))
    assert not any((settings.warehouse / name).exists() for name in TABLES)


def test_rerun_replaces_the_day_and_keeps_the_earlier_vintage(settings: Settings) -> None:
    for as_of in (d(12), d(13)):
        stage_linkage(settings, as_of)
        publish_as_of(settings, as_of)
    first12 = (settings.warehouse / "national_summary" / "as_of=2020-02-12" / "part-0.parquet")
    before = first12.stat().st_mtime_ns
    publish_as_of(settings, d(13))
    assert first12.stat().st_mtime_ns == before
    frame = read_table(settings.warehouse, "national_summary")
    assert sorted(set(frame["as_of"])) == [d(12), d(13)]
    assert len(frame) == 3 + 4
