"""A province folder that is a symlink is recorded as rejected for the day, never followed,
and the rest of the day completes (issue 17)."""

from __future__ import annotations

from datetime import date

from returnstats.config import Settings
from returnstats.figures.publish import publish_as_of
from returnstats.linkage.run import link_as_of
from returnstats.validation.ingest import ingest_province
from returnstats.validation.ledger import check_ledger
from returnstats.warehouse.store import read_table

from tests.builders import WORKER_HEADERS, PackageBuilder, csv_bytes
from tests.corpus.packages import CAMPAIGN_START, workers

AS_OF = date(2020, 3, 1)


def test_symlinked_province_folder_is_rejected_and_the_day_completes(tmp_path):
    settings = Settings(landing=tmp_path / "landing", warehouse=tmp_path / "warehouse",
                        output=tmp_path / "output", staging=tmp_path / "staging",
                        campaign_start=CAMPAIGN_START)
    settings.ensure_dirs()
    for province, landing in (("11", settings.landing), ("44", tmp_path / "elsewhere")):
        pkg = PackageBuilder(landing, province=province, report_date=AS_OF)
        pkg.add("workers", "workers.csv", csv_bytes(WORKER_HEADERS, workers(pkg, 2)))
        pkg.write()
    (settings.landing / "44").symlink_to(tmp_path / "elsewhere" / "44", target_is_directory=True)

    good = ingest_province(settings, "11", AS_OF)
    linked = ingest_province(settings, "44", AS_OF)
    assert [(p["package"], p["status"], p["reason"]) for p in linked["packages"]] == [
        ("44_20200301_symlinked-folder", "rejected", "package.symlink")]
    assert good["packages"][0]["status"] == "accepted"

    link_as_of(settings, AS_OF, b"k" * 32)
    publish_as_of(settings, AS_OF)
    ledger = read_table(settings.warehouse, "ledger", AS_OF)
    assert check_ledger(ledger) == []
    rows = {(r["package"], r["status"]) for r in ledger.to_dict("records")}
    assert rows == {("11_20200301_v1", "accepted"), ("44_20200301_symlinked-folder", "rejected")}
    assert ledger[ledger["province"] == "44"]["reason"].str.contains("not followed").all()
    # Nothing behind the link was read: only province 11's records were staged and linked.
    returns = read_table(settings.warehouse, "person_returns", AS_OF)
    sources = [s for records in returns["source_records"] for s in records]
    assert sorted(sources) == ["11/20200301/v1/W1", "11/20200301/v1/W2"]
