"""The report-level findings of SPEC §3.3 (`report_checks`), decided by the GX report
suites in `include/gx/expectations/returnstats/report_*.json`.

Three small frames are validated, one row each per
- declared figure of an active package (`report_totals`: declared against observed),
- active package (`report_packages`: report date against the as-of date of the run that
  first processed it),
- province (`report_provinces`: packages received for the as-of date, accepted or not).

Each frame's (unnamed: GX then reports its values as they are) index labels its rows; the labels a suite's expectations found become the
rows of `report_checks`, under the rule id of the expectation's meta. Publish writes them
to the warehouse; the Data Docs show the same validation results.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd
import pyarrow as pa

from returnstats.validation.suites import run_report_suite
from returnstats.warehouse.schema import REPORT_CHECKS

COLUMNS = [c for c in REPORT_CHECKS.column_names if c != "as_of"]
SCHEMA = pa.schema([REPORT_CHECKS.schema.field(c) for c in COLUMNS])
ORDER = ["check", "report_date", "province", "package", "figure"]


@dataclass(frozen=True)
class ReportChecks:
    table: pa.Table
    """The rows of `report_checks` for the vintage (without `as_of`)."""
    results: dict[str, dict[str, Any]]
    """Each report suite's validation result as JSON, by suite kind (for Data Docs)."""


def _frame(table: pa.Table, columns: list[str]) -> pd.DataFrame:
    return table.select(columns).to_pandas(date_as_object=False)


def report_checks(sent: pa.Table, packages: pa.Table, totals: pa.Table,
                  province_codes: list[str], as_of: date) -> ReportChecks:
    """The findings of vintage `as_of` from the staged relations: `sent` (package,
    province and report_date of every staged package, accepted or not: the staged ledger
    serves),
    `packages` (the active ones, with `first_processed_as_of`) and `totals` (declared and
    observed figures per active package); see `staging.read_report_inputs`."""
    packages = _frame(packages, ["package", "province", "report_date", "version",
                                 "first_processed_as_of"])
    packages = packages[packages["report_date"] <= pd.Timestamp(as_of)]
    packages.index = pd.Index(packages["package"].to_numpy())
    totals = _frame(totals, ["package", "figure", "declared", "observed"])
    totals = totals[totals["package"].isin(packages.index)]
    totals.index = pd.Index((totals["package"] + ":" + totals["figure"]).to_numpy())
    sent = sent.select(["package", "province", "report_date"]).to_pandas(date_as_object=True)
    per_province = sent[sent["report_date"] == as_of].groupby("province")["package"].nunique()
    provinces = pd.DataFrame({"packages": per_province.reindex(province_codes, fill_value=0)
                              .to_numpy(dtype="int64")}, index=pd.Index(province_codes))

    found: dict[str, list[Any]] = {}
    results: dict[str, dict[str, Any]] = {}
    for kind, frame in (("report_totals", totals), ("report_packages", packages),
                        ("report_provinces", provinces)):
        by_rule, results[kind] = run_report_suite(kind, frame)
        for rule_id, labels in by_rule.items():
            found.setdefault(rule_id, []).extend((kind, label) for label in labels)

    rows = [_row(rule_id, kind, label, totals, packages, as_of)
            for rule_id, labels in found.items() for kind, label in labels]
    frame = pd.DataFrame(rows, columns=COLUMNS).sort_values(ORDER, na_position="first",
                                                            kind="stable")
    return ReportChecks(pa.Table.from_pandas(frame, schema=SCHEMA, preserve_index=False),
                        results)


def _row(rule_id: str, kind: str, label: str, totals: pd.DataFrame, packages: pd.DataFrame,
         as_of: date) -> dict[str, Any]:
    """One `report_checks` row for the row `label` of frame `kind` that rule `rule_id` found."""
    if kind == "report_provinces":
        return {"package": None, "check": rule_id, "province": label, "report_date": as_of,
                "version": None, "figure": None, "declared": None, "observed": None,
                "detail": "no package for the as-of date"}
    if kind == "report_totals":
        figure = totals.loc[label]
        package = packages.loc[figure["package"]]
        return {**_package(rule_id, package), "figure": figure["figure"],
                "declared": int(figure["declared"]), "observed": int(figure["observed"]),
                "detail": f"declared {figure['declared']}, accepted records {figure['observed']}"}
    package = packages.loc[label]
    first = package["first_processed_as_of"].date()
    days = (first - package["report_date"].date()).days
    return {**_package(rule_id, package), "figure": None, "declared": None, "observed": None,
            "detail": f"first processed by the run of {first.isoformat()}, {days} days after "
                      "its report date"}


def _package(rule_id: str, package: pd.Series) -> dict[str, Any]:
    return {"package": package["package"], "check": rule_id, "province": package["province"],
            "report_date": package["report_date"].date(), "version": int(package["version"])}
