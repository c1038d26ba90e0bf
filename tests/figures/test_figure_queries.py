"""The queries of include/sql reproduce the SPEC §5 figures worked out by hand (conftest.py)."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest
from campaign_days import CAMPAIGN_START, d, inputs_as_of
from returnstats.figures.publish import (
    COMPUTED,
    FigureInputs,
    LedgerImbalance,
    check_ledger,
    compute_tables,
)
from returnstats.figures.sql import load_sql, parameters
from returnstats.warehouse.schema import TABLES

NATIONAL_COLUMNS = [
    "date", "returns_new", "returns_cumulative", "returns_cumulative_special_train",
    "returns_cumulative_chartered_bus", "returns_cumulative_train_carriage",
    "returns_cumulative_charter_flight", "cross_province_new", "cross_province_cumulative",
    "key_enterprises_resolved_cumulative", "provinces_reporting",
]


def rows(table: pa.Table, columns: list[str]) -> list[tuple]:
    data = table.select(columns).to_pylist()
    return [tuple(r[c] for c in columns) for r in data]


@pytest.fixture
def tables13(day13: FigureInputs) -> dict[str, pa.Table]:
    return compute_tables(day13, d(13), CAMPAIGN_START)


def test_every_table_has_one_query_with_a_header_naming_grain_and_spec_section() -> None:
    # `vintages` is the commit's state; `report_checks` the GX report suites' findings
    for name in (n for n in COMPUTED if n != "report_checks"):
        sql = load_sql(name)
        header = sql.split("\n", 1)[0]
        assert header.startswith(f"-- {name}:")
        assert "SPEC §" in sql.split("\n\n", 1)[0] or "SPEC §" in sql[:400]
        assert parameters(sql) <= {"as_of", "campaign_start"}
        assert "{" not in sql.replace("{'as_of'", "")  # nothing formatted in


def test_national_summary_matches_hand_computed_figures(tables13) -> None:
    assert rows(tables13["national_summary"], NATIONAL_COLUMNS) == [
        # date new cum  ST CB TC CF xnew xcum keyres prov
        (d(10), 2, 2, 1, 1, 0, 0, 1, 1, 2, 2),
        (d(11), 0, 2, 1, 1, 0, 0, 0, 1, 3, 1),  # zero-filled day; 51's v1 superseded, v2 rejected
        (d(12), 3, 5, 3, 1, 0, 1, 3, 4, 2, 1),  # 33 rejected; 42's header-only package counts
        (d(13), 1, 6, 3, 1, 1, 1, 0, 4, 1, 2),  # E1 un-resolved by a later record
    ]


def test_national_summary_has_the_contract_types(tables13) -> None:
    assert tables13["national_summary"].schema == TABLES["national_summary"].schema


def test_key_enterprise_latest_record_rules(tables13) -> None:
    resolved = dict(rows(tables13["national_summary"], ["date", "key_enterprises_resolved_cumulative"]))
    # 02-10: E2, E4 (E1 short of its gap, E3 not key).
    assert resolved[d(10)] == 2
    # 02-11: E1 now resolved; E5's 44 record is resolved but 42's record for the same
    # status date comes from a later report, so it wins; the superseded E2 record is ignored.
    assert resolved[d(11)] == 3
    # 02-12: of E4's two records for the same date the higher row_number (3/1) wins;
    # E6 of the rejected package never counts.
    assert resolved[d(12)] == 2
    # 02-13: E1's latest record has a bigger gap; 44_0214 (after as_of) does not touch E2.
    assert resolved[d(13)] == 1


def test_returns_daily_holds_non_zero_cells_only(tables13) -> None:
    columns = ["date", "origin_province", "destination_province", "mode", "workers_new"]
    assert sorted(rows(tables13["returns_daily"], columns)) == [
        (d(10), "42", "44", "special_train", 1),
        (d(10), "44", "44", "chartered_bus", 1),
        (d(12), "42", "44", "special_train", 2),
        (d(12), "51", "33", "charter_flight", 1),
        (d(13), "33", "33", "train_carriage", 1),
    ]


def test_enterprises_daily_sums_latest_records_per_reporting_province(tables13) -> None:
    columns = [c.name for c in TABLES["enterprises_daily"].columns]
    assert rows(tables13["enterprises_daily"], columns) == [
        # date province reported resolved gap supplied
        (d(10), "42", 1, 1, 3, 3),
        (d(10), "44", 2, 1, 15, 10),
        (d(11), "42", 2, 1, 5, 3),  # E5 backdated to 02-11 by 42's report of 02-13
        (d(11), "44", 3, 3, 17, 17),
        (d(12), "42", 2, 0, 5, 1),
        (d(12), "44", 3, 3, 17, 17),
        (d(13), "42", 2, 0, 5, 1),
        (d(13), "44", 3, 2, 19, 17),
    ]


def test_enterprises_daily_skips_dates_before_a_province_reported() -> None:
    inputs = inputs_as_of(d(13))
    enterprises = inputs.enterprises
    late = enterprises[enterprises["enterprise_uscc"] != "E4"]  # 42 first reports on 02-11
    tables = compute_tables(
        FigureInputs(inputs.persons, inputs.record_person, late, inputs.ledger, inputs.quarantine),
        d(13), CAMPAIGN_START,
    )
    dates_42 = [r["date"] for r in tables["enterprises_daily"].to_pylist() if r["province"] == "42"]
    assert dates_42 == [d(11), d(12), d(13)]


def test_ledger_counts_merged_records_and_drops_packages_after_as_of(tables13) -> None:
    ledger = {(r["package"], r["file"]): r for r in tables13["ledger"].to_pylist()}
    assert ("44_20200214_v1", "enterprises.csv") not in ledger
    assert ledger[("44_20200210_v1", "workers.csv")]["rows_merged"] == 1
    assert ledger[("42_20200213_v1", "workers.csv")]["rows_merged"] == 1
    assert ledger[("42_20200210_v1", "workers.csv")]["rows_merged"] == 0
    assert ledger[("44_20200211_v1", "enterprises.csv")]["status"] == "superseded"
    assert len(ledger) == 14


def test_quarantine_and_person_returns_pass_through(tables13) -> None:
    quarantine = tables13["quarantine"].to_pylist()
    assert {(r["package"], r["row_number"], r["rule"]) for r in quarantine} == {
        ("44_20200210_v1", 3, "worker.mode.unknown"),
    }
    flags = tables13["record_flags"].to_pylist()
    assert {(r["package"], r["row_number"], r["rule"], r["severity"]) for r in flags} == {
        ("44_20200210_v1", 1, "worker.phone.malformed", "warning"),
    }
    persons = {r["person_key"]: r for r in tables13["person_returns"].to_pylist()}
    assert len(persons) == 6
    assert persons["p1"]["source_records"] == ["42/20200210/v1/w1", "44/20200210/v1/a2"]
    assert persons["p1"]["n_records"] == 2 and persons["p4"]["origin_province"] == "51"


def test_an_earlier_vintage_sees_only_packages_reported_by_then() -> None:
    tables = compute_tables(inputs_as_of(d(12)), d(12), CAMPAIGN_START)
    assert rows(tables["national_summary"], ["date", "returns_new", "returns_cumulative",
                                             "key_enterprises_resolved_cumulative",
                                             "provinces_reporting"]) == [
        (d(10), 2, 2, 2, 2),
        (d(11), 0, 2, 4, 1),  # E5 resolved: 42's later record is not in yet
        (d(12), 1, 3, 4, 1),
    ]


def test_empty_inputs_give_zero_filled_days_and_empty_tables() -> None:
    empty = FigureInputs(*(pa.table({}) for _ in range(5)))
    tables = compute_tables(empty, d(11), CAMPAIGN_START)
    assert rows(tables["national_summary"], NATIONAL_COLUMNS) == [
        (d(10), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
        (d(11), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    ]
    for name in ("returns_daily", "enterprises_daily", "person_returns", "quarantine", "ledger"):
        assert tables[name].num_rows == 0
        assert tables[name].schema == TABLES[name].schema


def test_as_of_before_campaign_start_gives_no_days() -> None:
    tables = compute_tables(inputs_as_of(d(13)), date(2020, 2, 9), CAMPAIGN_START)
    assert tables["national_summary"].num_rows == 0


def test_ledger_imbalance_names_the_offending_file(tables13) -> None:
    check_ledger(tables13["ledger"])  # the fixture balances
    bad = tables13["ledger"].to_pylist()
    for row in bad:
        if (row["package"], row["file"]) == ("42_20200213_v1", "enterprises.csv"):
            row["rows_quarantined"] = 1
        if row["package"] == "33_20200212_v1":
            row["rows_accepted"] = 1
    with pytest.raises(LedgerImbalance) as caught:
        check_ledger(pa.Table.from_pylist(bad, schema=tables13["ledger"].schema))
    assert "42_20200213_v1/enterprises.csv" in str(caught.value)
    assert "33_20200212_v1/enterprises.csv: rejected" in str(caught.value)


def test_input_missing_a_column_fails_loudly(day13: FigureInputs) -> None:
    persons = day13.persons.drop(columns=["mode"])
    with pytest.raises(ValueError, match="persons lacks columns \\['mode'\\]"):
        compute_tables(
            FigureInputs(persons, day13.record_person, day13.enterprises, day13.ledger,
                         day13.quarantine),
            d(13), CAMPAIGN_START,
        )


def test_ledger_with_more_merged_than_accepted_rows_is_an_imbalance(tables13) -> None:
    # publish checks with returnstats.validation.ledger.check_ledger, the one ledger rule set.
    bad = tables13["ledger"].to_pylist()
    for row in bad:
        if (row["package"], row["file"]) == ("42_20200213_v1", "workers.csv"):
            row["rows_merged"] = row["rows_accepted"] + 1
    with pytest.raises(LedgerImbalance, match="42_20200213_v1/workers.csv: rows_merged"):
        check_ledger(pa.Table.from_pylist(bad, schema=tables13["ledger"].schema))
