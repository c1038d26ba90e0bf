"""publish_as_of end to end over hand-made staging and linkage outputs."""

from __future__ import annotations

import json
import sys

import duckdb
import pandas as pd
import pytest
from campaign_days import d, inputs_as_of
from conftest import stage_linkage
from returnstats.config import Settings
from returnstats.figures.publish import LedgerImbalance, publish_as_of
from returnstats.warehouse.catalog import CATALOG_FILE
from returnstats.warehouse.schema import TABLES
from returnstats.warehouse.store import read_table


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
        partition = settings.warehouse / name / "as_of=2020-02-13"
        vintage = json.loads((partition / "_vintage.json").read_text())
        if name == "person_returns":  # one file per linkage delta: the fixture has one
            assert sorted(p.name for p in partition.glob("*.parquet")) == list(
                vintage["segments"].values())
            assert len(vintage["segments"]) == 1
        else:
            assert (partition / "part-0.parquet").exists()
        assert vintage["identity"]
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


def test_a_late_package_revises_the_earlier_day_and_shows_in_revisions(settings: Settings) -> None:
    # p3 and p4 returned on 02-12 but their packages arrive with report date 02-13: the
    # vintage of 02-12 cannot know them, the vintage of 02-13 revises 02-12.
    for as_of in (d(12), d(13)):
        stage_linkage(settings, as_of)
        publish_as_of(settings, as_of)
    con = duckdb.connect(str(settings.warehouse / CATALOG_FILE), read_only=True)
    try:
        rows = con.execute(
            "SELECT first_value, first_as_of, latest_value, latest_as_of, difference"
            " FROM revisions WHERE date = $day AND figure = 'returns_new'", {"day": d(12)}
        ).fetchall()
        unrevised = con.execute(
            "SELECT count(*) FROM revisions WHERE date = $day AND figure = 'returns_new'",
            {"day": d(10)}).fetchone()
    finally:
        con.close()
    assert rows == [(1, d(12), 3, d(13), 2)]
    assert unrevised == (0,)  # 02-10 was complete when first published


def test_rerunning_a_day_gives_byte_identical_partitions(settings: Settings) -> None:
    stage_linkage(settings, d(13))
    first = publish_as_of(settings, d(13))
    files = {path.relative_to(settings.warehouse): path
             for name in TABLES for path in (settings.warehouse / name).rglob("*") if path.is_file()}
    assert len(files) >= 2 * len(TABLES)  # every partition: its files and _vintage.json
    before = {name: path.read_bytes() for name, path in files.items()}
    frames = {name: read_table(settings.warehouse, name) for name in TABLES}
    second = publish_as_of(settings, d(13))
    assert second == first
    assert {path.relative_to(settings.warehouse) for name in TABLES
            for path in (settings.warehouse / name).rglob("*") if path.is_file()} == set(files)
    for name, path in files.items():
        assert path.read_bytes() == before[name], name
    for name in TABLES:
        pd.testing.assert_frame_equal(read_table(settings.warehouse, name), frames[name])
