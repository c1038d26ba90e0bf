"""What a user sees of bad input: log lines and details that say where and which rule,
never whose data, and never a traceback (SPEC §9)."""

from __future__ import annotations

import logging
from datetime import date

from returnstats.config import Settings
from returnstats.validation.ingest import ingest_province
from returnstats.validation.staging import read_meta

from tests.builders import WORKER_HEADERS, PackageBuilder, csv_bytes
from tests.corpus.packages import CAMPAIGN_START, PERSONAL, workers

AS_OF = date(2020, 3, 1)


def test_rejected_package_and_quarantined_row_are_logged_by_place_and_rule(tmp_path, caplog):
    settings = Settings(landing=tmp_path / "landing", warehouse=tmp_path / "warehouse",
                        output=tmp_path / "output", staging=tmp_path / "staging",
                        campaign_start=CAMPAIGN_START)
    settings.ensure_dirs()
    rejected = PackageBuilder(settings.landing, province="44", report_date=AS_OF)
    long_name = workers(rejected, 2)
    long_name[1]["name"] = "张三" * 40_000  # past the 64 KiB field limit, on data row 2
    rejected.add("workers", "workers.csv", csv_bytes(WORKER_HEADERS, long_name), rows=2)
    rejected.write()
    flagged = PackageBuilder(settings.landing, province="36", report_date=AS_OF)
    flagged.add("workers", "workers.csv",
                csv_bytes(WORKER_HEADERS, workers(flagged, 3, mode="步行")))
    flagged.write()

    with caplog.at_level(logging.INFO, logger="returnstats"):
        ingest_province(settings, "44", AS_OF)
        ingest_province(settings, "36", AS_OF)

    messages = [r.getMessage() for r in caplog.records]
    rejection = next(m for m in messages if "rejected" in m)
    for part in ("44_20200301_v1", "workers.csv", "row 2", "package.file.field_too_long",
                 "column 'name'"):
        assert part in rejection, rejection
    quarantine = next(m for m in messages if "worker.mode.unknown" in m)
    for part in ("36_20200301_v1", "workers.csv", "rows 3", "(error)"):
        assert part in quarantine, quarantine
    for record in caplog.records:
        assert record.exc_info is None and "Traceback" not in record.getMessage()
        assert not any(value in record.getMessage() for value in PERSONAL), record.getMessage()
    detail = read_meta(settings.staging, "44_20200301_v1")["detail"]
    assert detail == "workers.csv: row 2, column 'name' is longer than 65536 bytes"
