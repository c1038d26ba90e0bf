"""The warehouse contract of SPEC §6: one schema per table, used by the writer, the tests
and the column dictionary in the docs.

`as_of` is the partition key: it lives in the directory name (`as_of=YYYY-MM-DD`), not in
the Parquet files, and readers get it back through hive partitioning.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    description: str


@dataclass(frozen=True)
class Table:
    name: str
    grain: tuple[str, ...]
    columns: tuple[Column, ...]
    description: str

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.type) for c in self.columns])

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def _c(name: str, type_: pa.DataType, description: str) -> Column:
    return Column(name, type_, description)


_I = pa.int64()
_S = pa.string()
_D = pa.date32()
_T = pa.timestamp("us", tz="UTC")

NATIONAL_SUMMARY = Table(
    "national_summary",
    ("as_of", "date"),
    (
        _c("date", _D, "Day the figures are for (campaign start to as_of)."),
        _c("returns_new", _I, "Persons whose return_date is this date."),
        _c("returns_cumulative", _I, "Persons whose return_date is on or before this date."),
        _c("returns_cumulative_special_train", _I, "Cumulative returns by special train."),
        _c("returns_cumulative_chartered_bus", _I, "Cumulative returns by chartered bus."),
        _c("returns_cumulative_train_carriage", _I, "Cumulative returns in reserved train carriages."),
        _c("returns_cumulative_charter_flight", _I, "Cumulative returns by charter flight."),
        _c("cross_province_new", _I, "New returns whose origin province differs from the destination."),
        _c("cross_province_cumulative", _I, "Cumulative cross-province returns."),
        _c("key_enterprises_resolved_cumulative", _I,
           "Distinct key enterprises whose latest record dated <= date has workers_supplied >= labour_gap."),
        _c("provinces_reporting", _I, "Provinces with an accepted package for this report date."),
    ),
    "National daily figures, one row per date, per vintage (as_of).",
)

RETURNS_DAILY = Table(
    "returns_daily",
    ("as_of", "date", "origin_province", "destination_province", "mode"),
    (
        _c("date", _D, "Return date."),
        _c("origin_province", _S, "Two-digit code of the origin province (from origin_county)."),
        _c("destination_province", _S, "Two-digit code of the destination province."),
        _c("mode", _S, "special_train, chartered_bus, train_carriage or charter_flight."),
        _c("workers_new", _I, "Persons returned on this date along this flow by this mode."),
    ),
    "New returns by date, origin, destination and mode (non-zero cells only).",
)

ENTERPRISES_DAILY = Table(
    "enterprises_daily",
    ("as_of", "date", "province"),
    (
        _c("date", _D, "Status date."),
        _c("province", _S, "Province whose package reported the enterprise."),
        _c("key_enterprises_reported", _I, "Key enterprises with a record dated <= date."),
        _c("key_enterprises_resolved_cumulative", _I,
           "Of those, enterprises whose latest record has workers_supplied >= labour_gap."),
        _c("labour_gap_total", _I, "Sum of labour_gap over their latest records."),
        _c("workers_supplied_total", _I, "Sum of workers_supplied over their latest records."),
    ),
    "Key enterprises by date and reporting province.",
)

PERSON_RETURNS = Table(
    "person_returns",
    ("as_of", "person_key"),
    (
        _c("person_key", _S, "Keyed hash (HMAC-SHA256) of the person; no personal data."),
        _c("return_date", _D, "Earliest arrival_date of the person's records."),
        _c("mode", _S, "From the sending province's record, else the earliest record."),
        _c("origin_province", _S, "First two digits of origin_county."),
        _c("origin_county", _S, "GB/T 2260 county code, from the sending province's record."),
        _c("destination_province", _S, "From the receiving province's record when there is one."),
        _c("employer_uscc", _S, "Employer credit code, from the receiving province's record."),
        _c("n_records", _I, "Accepted worker records linked to the person."),
        _c("source_records", pa.list_(_S),
           "Lineage: <province>/<YYYYMMDD>/v<version>/<record_id> of each record."),
    ),
    "One row per deduplicated person returned as of the vintage.",
)

QUARANTINE = Table(
    "quarantine",
    ("as_of", "package", "file", "row_number"),
    (
        _c("package", _S, "Package name, <province>_<YYYYMMDD>_v<N>."),
        _c("file", _S, "File name inside the package."),
        _c("row_number", _I, "Data row number from 1, header excluded."),
        _c("report_date", _D, "Report date of the package."),
        _c("province", _S, "Province of the package."),
        _c("version", _I, "Package version."),
        _c("record_id", _S, "record_id of the row (for enterprise rows: the USCC as given)."),
        _c("rule", _S, "Stable rule id, e.g. worker.mode.unknown."),
        _c("severity", _S, "Always error: the record is quarantined, not counted."),
        _c("detail", _S, "What was wrong, without personal data."),
    ),
    "Quarantined records: one row per (record, error rule). count(DISTINCT (package, file, "
    "row_number)) counts records; warnings are in record_flags.",
)

RECORD_FLAGS = Table(
    "record_flags",
    ("as_of", "package", "file", "row_number", "rule"),
    tuple(Column(c.name, c.type, "Always warning: the record is kept and counted."
                 if c.name == "severity" else c.description) for c in QUARANTINE.columns),
    "Records kept and counted but flagged by a warning rule: one row per (record, rule).",
)

REPORT_CHECKS = Table(
    "report_checks",
    ("as_of", "package", "check"),
    (
        _c("package", _S, "Package name; null for report.province.missing."),
        _c("check", _S, "report.declared_totals.mismatch, report.package.late or "
                        "report.province.missing."),
        _c("province", _S, "Province of the package, or the province missing."),
        _c("report_date", _D, "Report date of the package, or the date a province is missing."),
        _c("version", _I, "Package version; null for report.province.missing."),
        _c("figure", _S, "The declared figure that differs (returns_by_mode.<mode> or "
                         "key_enterprises_resolved); null for the other checks."),
        _c("declared", _I, "The figure as the manifest's declared_totals state it."),
        _c("observed", _I, "The same figure counted over the package's accepted records."),
        _c("detail", _S, "The finding in words."),
    ),
    "Report-level findings of SPEC §3.3: one row per differing declared figure of an active "
    "package, one per package first processed after its report date, one per province "
    "without a package for the as-of date.",
)

LEDGER = Table(
    "ledger",
    ("as_of", "package", "file"),
    (
        _c("package", _S, "Package name, <province>_<YYYYMMDD>_v<N>."),
        _c("file", _S, "File name inside the package (manifest.json when none could be read)."),
        _c("report_date", _D, "Report date of the package."),
        _c("province", _S, "Province of the package."),
        _c("version", _I, "Package version."),
        _c("status", _S, "accepted, rejected or superseded."),
        _c("rows_received", _I, "Data rows in the file."),
        _c("rows_accepted", _I, "Rows accepted (warnings included)."),
        _c("rows_quarantined", _I, "Rows quarantined by an error rule."),
        _c("rows_merged", _I, "Accepted worker rows that joined an already known person."),
        _c("reason", _S, "Rule id and detail of a rejection, or what superseded the package."),
    ),
    "Where every received row ended, per package file.",
)

VINTAGES = Table(
    "vintages",
    ("as_of",),
    (
        _c("status", _S, "held (not published), approved (published) or rejected."),
        _c("reason", _S, "Why the vintage is held or rejected; null when nothing holds it."),
        _c("provinces_reporting", _I, "Provinces with an accepted package for the as-of date."),
        _c("published_at", _T, "When the run committed this vintage (UTC)."),
        _c("approved_by", _S, "Who approved it: a user of the Airflow UI/API, or auto."),
        _c("approved_at", _T, "When it was approved or rejected (UTC)."),
        _c("delivery", _S, "Bulletin delivery: none, outbox (written, not sent) or sent."),
        _c("sent_at", _T, "When an SMTP server accepted the bulletin (UTC)."),
        _c("code_version", _S, "returnstats version and commit that computed the vintage."),
        _c("key_fingerprint", _S, "Fingerprint of the pseudonymisation key behind person_key."),
    ),
    "One row per run date: the state of its vintage (held, approved, rejected) and its bulletin.",
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (NATIONAL_SUMMARY, RETURNS_DAILY, ENTERPRISES_DAILY, PERSON_RETURNS, QUARANTINE,
              RECORD_FLAGS, REPORT_CHECKS, LEDGER, VINTAGES)
}
