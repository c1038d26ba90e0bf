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
from returnstats.release import approve, record_delivery
from returnstats.warehouse.catalog import CATALOG_FILE
from returnstats.warehouse.commits import current_commit, history
from returnstats.warehouse.location import locate
from returnstats.warehouse.schema import TABLES
from returnstats.warehouse.store import read_table


def publish_and_approve(settings: Settings, as_of) -> dict:
    summary = publish_as_of(settings, as_of)
    approve(settings.warehouse, as_of, by="test")
    return summary


def test_publish_writes_every_table_and_returns_a_json_summary(settings: Settings) -> None:
    stage_linkage(settings, d(13))
    summary = publish_as_of(settings, d(13))
    json.dumps(summary)
    assert summary["as_of"] == "2020-02-13"
    assert summary["rows"] == {"national_summary": 4, "returns_daily": 5, "enterprises_daily": 8,
                               "person_returns": 6, "quarantine": 1, "record_flags": 1,
                               "report_checks": 29, "ledger": 14}  # 29 provinces missing
    assert summary["headline"]["returns_cumulative"] == 6
    assert summary["headline"]["key_enterprises_resolved_cumulative"] == 1
    assert summary["headline"]["provinces_reporting"] == 2
    # Two of 31 provinces: held, and never approved without a person.
    assert summary["status"] == "held" and "2 of 31 provinces" in summary["reason"]
    record = current_commit(locate(settings.warehouse), d(13))
    assert record.id == summary["commit"] and record.identity
    for name in TABLES:
        files = record.paths(name)
        assert files and all((settings.warehouse / f).is_file() for f in files), name
    assert len(record.segments) == 1  # one file per linkage delta: the fixture has one
    assert record.files["person_returns"] == tuple(record.segments.values())
    assert (settings.warehouse / CATALOG_FILE).exists()


def test_two_vintages_keep_first_published_and_latest(settings: Settings) -> None:
    for as_of in (d(12), d(13)):
        stage_linkage(settings, as_of)
        publish_and_approve(settings, as_of)
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
    assert history(locate(settings.warehouse)) == []


def test_rerun_replaces_the_day_and_keeps_the_earlier_vintage(settings: Settings) -> None:
    for as_of in (d(12), d(13)):
        stage_linkage(settings, as_of)
        publish_as_of(settings, as_of)
    record12 = current_commit(locate(settings.warehouse), d(12))
    first12 = settings.warehouse / record12.paths("national_summary")[0]
    before = first12.stat().st_mtime_ns
    publish_as_of(settings, d(13))
    assert first12.stat().st_mtime_ns == before
    assert current_commit(locate(settings.warehouse), d(12)) == record12
    frame = read_table(settings.warehouse, "national_summary")
    assert sorted(set(frame["as_of"])) == [d(12), d(13)]
    assert len(frame) == 3 + 4


def test_a_late_package_revises_the_earlier_day_and_shows_in_revisions(settings: Settings) -> None:
    # p3 and p4 returned on 02-12 but their packages arrive with report date 02-13: the
    # vintage of 02-12 cannot know them, the vintage of 02-13 revises 02-12.
    for as_of in (d(12), d(13)):
        stage_linkage(settings, as_of)
        publish_and_approve(settings, as_of)
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


def test_a_rerun_that_changes_no_figure_keeps_the_approval_and_the_delivery(
        settings: Settings) -> None:
    stage_linkage(settings, d(13))
    first = publish_and_approve(settings, d(13))
    record_delivery(settings.warehouse, d(13), "sent")
    frames = {name: read_table(settings.warehouse, name) for name in TABLES if name != "vintages"}
    second = publish_as_of(settings, d(13))
    assert second["commit"] != first["commit"] and second["status"] == "approved"
    assert second["corrects"] is None
    vintage = read_table(settings.warehouse, "vintages").iloc[0]
    assert (vintage["status"], vintage["approved_by"], vintage["delivery"]) == (
        "approved", "test", "sent")
    for name, frame in frames.items():
        pd.testing.assert_frame_equal(read_table(settings.warehouse, name), frame, obj=name)


def test_a_rerun_that_changes_an_approved_days_figures_is_held_as_its_correction(
        settings: Settings) -> None:
    stage_linkage(settings, d(12))
    approved = publish_and_approve(settings, d(12))
    sent = record_delivery(settings.warehouse, d(12), "sent")
    # A province's package for 02-12 accepted after the approval (a late arrival).
    late = inputs_as_of(d(12)).ledger
    row = late.iloc[[0]].assign(package="44_20200212_v1", province="44", file="workers.csv",
                                report_date=d(12), version=1, status="accepted", reason=None,
                                rows_received=0, rows_accepted=0, rows_quarantined=0)
    sys.modules["returnstats.validation.staging"].ledgers[d(12)] = pd.concat([late, row])
    changed = publish_as_of(settings, d(12))
    assert changed["headline"]["provinces_reporting"] == approved["headline"][
        "provinces_reporting"] + 1
    assert changed["status"] == "held" and "needs approval again" in changed["reason"]
    assert changed["corrects"] == sent.id  # the newest record of the approved figures
    vintage = read_table(settings.warehouse, "vintages").iloc[0]
    assert vintage["delivery"] == "none" and pd.isna(vintage["approved_by"])
    con = duckdb.connect(str(settings.warehouse / CATALOG_FILE), read_only=True)
    try:  # the corrected figures are not published until approved
        assert con.execute("SELECT count(*) FROM latest_national_summary").fetchone() == (0,)
    finally:
        con.close()
