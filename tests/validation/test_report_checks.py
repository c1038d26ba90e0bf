"""The GX report suites (SPEC §3.3) on crafted staged relations: each check's breaking
row, its passing row and its edge, and the rows of `report_checks` they give."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
from returnstats.figures.publish import RELATIONS
from returnstats.validation.report_checks import report_checks

AS_OF = date(2020, 2, 18)
PROVINCES = ["11", "12", "13"]


def packages(*rows: tuple[str, str, date, int, date]) -> pa.Table:
    names = ["package", "province", "report_date", "version", "first_processed_as_of"]
    return pa.Table.from_pylist([dict(zip(names, r, strict=True)) for r in rows],
                                schema=RELATIONS["packages_staged"])


def totals(*rows: tuple[str, str, int, int]) -> pa.Table:
    names = ["package", "figure", "declared", "observed"]
    return pa.Table.from_pylist([dict(zip(names, r, strict=True)) for r in rows],
                                schema=RELATIONS["totals_staged"])


def ledger(*sent: tuple[str, date, str]) -> pa.Table:
    """A ledger row per (province, report_date, status) sent."""
    schema = RELATIONS["ledger_staged"]
    return pa.Table.from_pylist(
        [{"package": f"{p}_{d:%Y%m%d}_v1", "file": "workers.csv", "report_date": d,
          "province": p, "version": 1, "status": status, "rows_received": 0,
          "rows_accepted": 0, "rows_quarantined": 0, "rows_merged": 0, "reason": None,
          **({"as_of": AS_OF} if "as_of" in schema.names else {})}
         for p, d, status in sent], schema=schema)


def checks(table: pa.Table) -> list[tuple]:
    return [(r["check"], r["province"], r["package"], r["figure"], r["declared"],
             r["observed"], r["detail"]) for r in table.to_pylist()]


def test_each_check_finds_its_breaking_rows_and_only_them() -> None:
    found = report_checks(
        ledger(("11", AS_OF, "accepted"), ("12", AS_OF, "rejected"),
               ("13", date(2020, 2, 17), "accepted")),
        packages(("11_20200218_v1", "11", AS_OF, 1, AS_OF),  # on time (edge: same day)
                 ("13_20200217_v1", "13", date(2020, 2, 17), 1, AS_OF),  # one day late
                 ("13_20200219_v1", "13", date(2020, 2, 19), 1, date(2020, 2, 20))),  # future
        totals(("11_20200218_v1", "returns_by_mode.special_train", 5, 5),  # agrees
               ("11_20200218_v1", "returns_by_mode.chartered_bus", 3, 2),  # differs
               ("11_20200218_v1", "key_enterprises_resolved", 0, 1),  # differs (edge: 0)
               ("13_20200219_v1", "key_enterprises_resolved", 9, 1)),  # after as_of
        PROVINCES, AS_OF)
    assert checks(found.table) == [
        ("report.declared_totals.mismatch", "11", "11_20200218_v1", "key_enterprises_resolved",
         0, 1, "declared 0, accepted records 1"),
        ("report.declared_totals.mismatch", "11", "11_20200218_v1",
         "returns_by_mode.chartered_bus", 3, 2, "declared 3, accepted records 2"),
        ("report.package.late", "13", "13_20200217_v1", None, None, None,
         "first processed by the run of 2020-02-18, 1 days after its report date"),
        # 12 sent a package (rejected): not missing; 13's package is for another date
        ("report.province.missing", "13", None, None, None, None,
         "no package for the as-of date"),
    ]
    assert found.table.schema.field("declared").type == pa.int64()
    assert {kind: result["success"] for kind, result in found.results.items()} == {
        "report_totals": False, "report_packages": False, "report_provinces": False}


def test_nothing_to_report_gives_no_rows_and_passing_results() -> None:
    found = report_checks(
        ledger(*((p, AS_OF, "accepted") for p in PROVINCES)),
        packages(("11_20200218_v1", "11", AS_OF, 2, AS_OF)),
        totals(("11_20200218_v1", "returns_by_mode.special_train", 5, 5)),
        PROVINCES, AS_OF)
    assert found.table.num_rows == 0
    assert all(result["success"] for result in found.results.values())


def test_the_data_docs_result_names_the_packages_and_figures_found() -> None:
    found = report_checks(
        ledger(*((p, AS_OF, "accepted") for p in PROVINCES)),
        packages(("11_20200218_v1", "11", AS_OF, 1, AS_OF)),
        totals(("11_20200218_v1", "returns_by_mode.special_train", 5, 4)),
        PROVINCES, AS_OF)
    result = found.results["report_totals"]["results"][0]
    assert result["expectation_config"]["meta"]["rule_id"] == "report.declared_totals.mismatch"
    assert result["result"]["unexpected_index_list"] == [
        "11_20200218_v1:returns_by_mode.special_train"]
