"""Issue 3's measure: validating one 1,000,000-row workers file (read → prepare → GX suite →
split into accepted and quarantined rows), the functions `ingest_province` calls."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

from returnstats.bench.day import generate_day

PROVINCE = "44"


def measure_validate_file(root: Path, as_of: date, rows: int) -> dict[str, float]:
    """Seconds per step for one workers file of `rows` rows (GX context warmed up first)."""
    from returnstats.config import load_settings
    from returnstats.reports.landing import scan_landing
    from returnstats.reports.package import read_package
    from returnstats.validation.prepare import FileContext, prepare
    from returnstats.validation.quarantine import split_file
    from returnstats.validation.suites import run_suite

    generate_day(root / "landing", as_of, rows, provinces=(PROVINCE,))
    settings = load_settings()
    (ref,) = scan_landing(root / "landing", as_of, PROVINCE).packages
    seconds: dict[str, float] = {}

    def step(name: str, function, *args):
        started = time.perf_counter()
        result = function(*args)
        seconds[name] = time.perf_counter() - started
        return result

    package = step("read", read_package, ref, settings.limits)
    raw = package.files["workers"]
    ctx = FileContext(package=ref.name, province=ref.province, report_date=ref.report_date,
                      version=ref.version, file=raw.name, campaign_start=settings.campaign_start)
    prepared = step("prepare", prepare, "workers", raw.table, ctx)
    run_suite("workers", prepared.head(5))  # GX context set-up is not the file's cost
    run = step("suite", run_suite, "workers", prepared)
    step("split", split_file, "workers", prepared, run.findings, ctx)
    seconds["total"] = sum(seconds.values())
    seconds["rows"] = float(raw.rows_received)
    return seconds
