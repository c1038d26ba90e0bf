"""Provinces whose ingest failed after its retries (SPEC §8 "the day always completes").

The national tasks go on without them. What each failed province had waiting in the
landing zone is recorded in `<staging>/failures/as_of=D.json` and appears in that day's
ledger as rejected (`package.ingest.failed`); nothing of it is staged, so the next run
tries those packages again. Only package names and the error's class are kept, never
input content.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from typing import Any

import pyarrow as pa

from returnstats.config import Settings
from returnstats.reports.landing import scan_landing
from returnstats.validation.ledger import NO_FILE
from returnstats.warehouse.location import Root, locate, put_atomic
from returnstats.warehouse.schema import LEDGER

INGEST_FAILED = "package.ingest.failed"


def failures_path(as_of: date) -> str:
    """The day's failures record, relative to the staging zone."""
    return f"failures/as_of={as_of.isoformat()}.json"


def record_ingest_failures(settings: Settings, as_of: date,
                           failed: Mapping[str, str]) -> list[dict[str, Any]]:
    """Record the packages left unprocessed by each failed province (province → what
    failed, e.g. the error's class); returns the records. A rerun of the day replaces
    them, and a day without failures has none."""
    from returnstats.validation.staging import read_meta

    records = []
    for province, error in sorted(failed.items()):
        scan = scan_landing(settings.landing, as_of=as_of, province=province)
        for ref in scan.packages:
            if read_meta(settings.staging, ref.name) is not None:
                continue  # processed before the failure: already in the ledger
            records.append({
                "province": province, "package": ref.name,
                "report_date": ref.report_date.isoformat(), "version": ref.version,
                "reason": (f"{INGEST_FAILED}: the ingest of province {province} failed after "
                           f"its retries ({error}); the next run tries the package again"),
            })
    location = locate(settings.staging)
    if not failed:
        location.remove(failures_path(as_of))
        return records
    put_atomic(location, failures_path(as_of),
               json.dumps(records, ensure_ascii=False, indent=1).encode("utf-8"))
    return records


def failure_ledger(staging: Root, as_of: date) -> pa.Table:
    """The ledger rows of the day's recorded failures (rejected, nothing received)."""
    try:
        records = json.loads(locate(staging).read_bytes(failures_path(as_of)))
    except FileNotFoundError:
        records = []
    rows = [{
        "package": r["package"], "file": NO_FILE, "report_date": date.fromisoformat(r["report_date"]),
        "province": r["province"], "version": r["version"], "status": "rejected",
        "rows_received": 0, "rows_accepted": 0, "rows_quarantined": 0, "rows_merged": 0,
        "reason": r["reason"],
    } for r in records]
    return pa.Table.from_pylist(rows, schema=LEDGER.schema)
