"""A small hand-made day of the campaign whose figures are worked out by hand in the tests.

Campaign start 2020-02-10; vintages as of 2020-02-12 and 2020-02-13.

Persons (return date, mode, origin -> destination):
  p1 02-10 special_train  42->44  cross        p4 02-12 charter_flight  51->33  cross
  p2 02-10 chartered_bus  44->44               p5 02-12 special_train   42->44  cross
  p3 02-12 special_train  42->44  cross        p6 02-13 train_carriage  33->33
Nobody returns on 02-11 (a zero-filled day).

Packages (ledger): 44_0210 accepted, 42_0210 accepted, 44_0211 v1 superseded by v2
(accepted), 51_0211 v1 superseded and v2 rejected, 33_0212 rejected, 42_0212 accepted with
a header-only workers file, 42_0213 and 44_0213 accepted, 44_0214 accepted but after the
as-of dates.

Key enterprises (status_date: gap/supplied, package):
  E1 (44): 10: 10/5 44_0210; 11: 10/10 44_0211v2; 13: 12/10 44_0213 (un-resolves)
  E2 (44): 10: 5/5 44_0210; superseded 44_0211v1 says 11: 5/0; 44_0214 says 13: 5/0
  E3 (44): not key, 10: 1/1
  E4 (42): 10: 3/3 42_0210; 42_0213 has two rows for 12: row 1 3/3, row 2 3/1
  E5 (44): 11: 2/2 44_0211v2;  E5 (42): 11: 2/0 42_0213 (same status date, later report)
  E6 (33): 12: 1/1 in the rejected 33_0212
"""

from __future__ import annotations

from datetime import date

import pandas as pd
from returnstats.figures.publish import FigureInputs

CAMPAIGN_START = date(2020, 2, 10)


def d(day: int) -> date:
    return date(2020, 2, day)


PERSONS = [
    # person_key, return_date, mode, origin_county, destination_province, sources
    ("p1", d(10), "special_train", "420102", "44", ["42/20200210/v1/w1", "44/20200210/v1/a2"]),
    ("p2", d(10), "chartered_bus", "440103", "44", ["44/20200210/v1/a1"]),
    ("p3", d(12), "special_train", "420102", "44", ["42/20200213/v1/w1"]),
    ("p4", d(12), "charter_flight", "510104", "33", ["42/20200213/v1/w2"]),
    ("p5", d(12), "special_train", "420111", "44", ["42/20200210/v1/w2"]),
    ("p6", d(13), "train_carriage", "330106", "33", ["44/20200213/v1/a1"]),
]


def persons_frame(until: date) -> pd.DataFrame:
    rows = [
        {
            "person_key": key, "return_date": ret, "mode": mode, "origin_province": county[:2],
            "origin_county": county, "destination_province": dest, "employer_uscc": None,
            "n_records": len(sources), "source_records": sources,
        }
        for key, ret, mode, county, dest, sources in PERSONS
        if ret <= until
    ]
    return pd.DataFrame(rows)


def record_person_frame() -> pd.DataFrame:
    return pd.DataFrame(
        [
            ("44_20200210_v1", "workers.csv", 1, "a1", "p2", False),
            ("44_20200210_v1", "workers.csv", 2, "a2", "p1", True),
            ("42_20200210_v1", "workers.csv", 1, "w1", "p1", False),
            ("42_20200210_v1", "workers.csv", 2, "w2", "p5", False),
            ("42_20200213_v1", "workers.csv", 1, "w1", "p3", True),
            ("42_20200213_v1", "workers.csv", 2, "w2", "p4", False),
            ("44_20200213_v1", "workers.csv", 1, "a1", "p6", False),
        ],
        columns=["package", "file", "row_number", "record_id", "person_key", "merged"],
    )


def _package(name: str) -> tuple[str, date, int]:
    province, day, version = name.split("_")
    return province, date(int(day[:4]), int(day[4:6]), int(day[6:])), int(version[1:])


LEDGER = [
    # package, file, status, received, accepted, quarantined, reason
    ("44_20200210_v1", "workers.csv", "accepted", 3, 2, 1, None),
    ("44_20200210_v1", "enterprises.csv", "accepted", 3, 3, 0, None),
    ("42_20200210_v1", "workers.csv", "accepted", 2, 2, 0, None),
    ("42_20200210_v1", "enterprises.csv", "accepted", 1, 1, 0, None),
    ("44_20200211_v1", "enterprises.csv", "superseded", 1, 0, 0, "superseded by 44_20200211_v2"),
    ("44_20200211_v2", "enterprises.csv", "accepted", 2, 2, 0, None),
    ("51_20200211_v1", "workers.csv", "superseded", 1, 0, 0, "superseded by 51_20200211_v2"),
    ("51_20200211_v2", "manifest.json", "rejected", 0, 0, 0, "package.manifest.invalid"),
    ("33_20200212_v1", "enterprises.csv", "rejected", 1, 0, 0, "package.file.sha256"),
    ("42_20200212_v1", "workers.csv", "accepted", 0, 0, 0, None),
    ("42_20200213_v1", "workers.csv", "accepted", 2, 2, 0, None),
    ("42_20200213_v1", "enterprises.csv", "accepted", 3, 3, 0, None),
    ("44_20200213_v1", "workers.csv", "accepted", 1, 1, 0, None),
    ("44_20200213_v1", "enterprises.csv", "accepted", 1, 1, 0, None),
    ("44_20200214_v1", "enterprises.csv", "accepted", 1, 1, 0, None),
]


def ledger_frame() -> pd.DataFrame:
    rows = []
    for package, file, status, received, accepted, quarantined, reason in LEDGER:
        province, report_date, version = _package(package)
        rows.append({
            "package": package, "file": file, "report_date": report_date, "province": province,
            "version": version, "status": status, "rows_received": received,
            "rows_accepted": accepted, "rows_quarantined": quarantined, "rows_merged": 0,
            "reason": reason,
        })
    return pd.DataFrame(rows)


ENTERPRISES = [
    # package, row_number, uscc, key, gap, supplied, status_date
    ("44_20200210_v1", 1, "E1", True, 10, 5, d(10)),
    ("44_20200210_v1", 2, "E2", True, 5, 5, d(10)),
    ("44_20200210_v1", 3, "E3", False, 1, 1, d(10)),
    ("42_20200210_v1", 1, "E4", True, 3, 3, d(10)),
    ("44_20200211_v1", 1, "E2", True, 5, 0, d(11)),
    ("44_20200211_v2", 1, "E1", True, 10, 10, d(11)),
    ("44_20200211_v2", 2, "E5", True, 2, 2, d(11)),
    ("33_20200212_v1", 1, "E6", True, 1, 1, d(12)),
    ("42_20200213_v1", 1, "E4", True, 3, 3, d(12)),
    ("42_20200213_v1", 2, "E4", True, 3, 1, d(12)),
    ("42_20200213_v1", 3, "E5", True, 2, 0, d(11)),
    ("44_20200213_v1", 1, "E1", True, 12, 10, d(13)),
    ("44_20200214_v1", 1, "E2", True, 5, 0, d(13)),
]


def enterprises_frame() -> pd.DataFrame:
    rows = []
    for package, row_number, uscc, key, gap, supplied, status_date in ENTERPRISES:
        province, report_date, version = _package(package)
        rows.append({
            "package": package, "province": province, "report_date": report_date,
            "version": version, "file": "enterprises.csv", "row_number": row_number,
            "enterprise_uscc": uscc, "enterprise_name": f"企业{uscc}", "key_enterprise": key,
            "labour_gap": gap, "workers_supplied": supplied, "channel": None,
            "status_date": status_date,
        })
    return pd.DataFrame(rows)


def quarantine_frame() -> pd.DataFrame:
    rows = [
        ("44_20200210_v1", "workers.csv", 3, "a3", "worker.mode.unknown", "error", "mode 'boat'"),
        ("44_20200210_v1", "workers.csv", 1, "a1", "worker.phone.malformed", "warning", "10 digits"),
        ("44_20200214_v1", "enterprises.csv", 1, "E2", "enterprise.registered_elsewhere",
         "warning", "registered in 11"),
    ]
    out = []
    for package, file, row_number, record_id, rule, severity, detail in rows:
        province, report_date, version = _package(package)
        out.append({
            "package": package, "file": file, "row_number": row_number,
            "report_date": report_date, "province": province, "version": version,
            "record_id": record_id, "rule": rule, "severity": severity, "detail": detail,
        })
    return pd.DataFrame(out)


def inputs_as_of(as_of: date) -> FigureInputs:
    """The inputs as the run for `as_of` sees them (linkage only knows persons seen so far)."""
    persons = persons_frame(as_of)
    if as_of < d(13):
        # p3 and p4 were reported by 42_0213: unknown before it arrived.
        persons = persons[~persons["person_key"].isin(["p3", "p4"])]
    return FigureInputs(
        persons=persons,
        record_person=record_person_frame(),
        enterprises=enterprises_frame(),
        ledger=ledger_frame(),
        quarantine=quarantine_frame(),
    )
