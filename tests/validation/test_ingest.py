"""Ingest into the staging contract: end to end, reruns, new versions, conflicts,
rejections, and the ledger invariant."""

from __future__ import annotations

import json
import re
import shutil
from datetime import date

import pandas as pd
import pyarrow.parquet as pq
import pytest
from returnstats.config import Settings
from returnstats.validation.data_docs import build_data_docs
from returnstats.validation.ingest import ingest_province
from returnstats.validation.ledger import check_ledger
from returnstats.validation.staging import (
    ENTERPRISES_SCHEMA,
    WORKERS_SCHEMA,
    StagedFormatError,
    packages_dir,
    read_arrow,
    read_meta,
    read_staged,
)

from tests.builders import (
    ENTERPRISE_HEADERS,
    VALID_ID,
    WORKER_HEADERS,
    PackageBuilder,
    csv_bytes,
    enterprise_row,
    worker_row,
)

D1 = date(2020, 3, 1)
D2 = date(2020, 3, 2)


@pytest.fixture
def settings(tmp_path) -> Settings:
    s = Settings(landing=tmp_path / "landing", warehouse=tmp_path / "warehouse",
                 output=tmp_path / "output", staging=tmp_path / "staging",
                 campaign_start=date(2020, 2, 10))
    s.ensure_dirs()
    return s


def package(settings: Settings, version: int = 1, workers: list[dict] | None = None,
            report_date: date = D1) -> PackageBuilder:
    pkg = PackageBuilder(settings.landing, report_date=report_date, version=version)
    workers = workers if workers is not None else [
        worker_row(record_id="W1"),
        worker_row(record_id="W2", id_number="", sex="", birth_date=""),
        worker_row(record_id="W3", mode="步行"),           # error
        worker_row(record_id="W4", phone="12345"),         # warning
    ]
    pkg.add("workers", "workers.csv", csv_bytes(WORKER_HEADERS, workers))
    pkg.add("enterprises", "enterprises.csv", csv_bytes(ENTERPRISE_HEADERS, [enterprise_row()]))
    return pkg


def by_package(summary: dict) -> dict[str, dict]:
    return {p["package"]: p for p in summary["packages"]}


def test_package_is_ingested_end_to_end_into_staging(settings):
    package(settings).write()
    summary = ingest_province(settings, "44", D1)
    json.dumps(summary)  # JSON-able for XCom
    entry = by_package(summary)["44_20200301_v1"]
    assert entry["status"] == "accepted" and entry["reason"] is None
    assert (entry["rows_received"], entry["rows_accepted"], entry["rows_quarantined"]) == (5, 4, 1)

    folder = packages_dir(settings.staging) / "44_20200301_v1"
    assert sorted(p.name for p in folder.iterdir()) == [
        "enterprises.arrow", "ledger.arrow", "meta.json", "quarantine.arrow",
        "workers.parquet"]
    assert pq.read_schema(folder / "workers.parquet").remove_metadata() == WORKERS_SCHEMA
    assert read_arrow(settings.staging, "44_20200301_v1", "enterprises").schema == ENTERPRISES_SCHEMA
    meta = read_meta(settings.staging, "44_20200301_v1")
    assert meta["status"] == "accepted" and meta["first_processed_as_of"] == "2020-03-01"
    assert meta["files"] == [{"kind": "workers", "name": "workers.csv"},
                             {"kind": "enterprises", "name": "enterprises.csv"}]

    staged = read_staged(settings, D1)
    assert staged.workers["record_id"].tolist() == ["W1", "W2", "W4"]
    w4 = staged.workers.set_index("record_id").loc["W4"]
    assert pd.isna(w4["phone"]) and w4["id_number"] == VALID_ID and w4["role"] == "receiving"
    assert w4["arrival_date"] == date(2020, 3, 1)
    q = staged.quarantine.set_index("rule")
    assert q.loc["worker.mode.unknown", "severity"] == "error"
    assert q.loc["worker.mode.unknown", "record_id"] == "W3"
    # The warning row stays accepted, its flag is in the quarantine table.
    assert q.loc["worker.phone.invalid", "severity"] == "warning"
    assert q.loc["worker.phone.invalid", "row_number"] == 4
    assert len(staged.enterprises) == 1 and bool(staged.enterprises["key_enterprise"][0])
    assert check_ledger(staged.ledger) == []
    assert set(staged.ledger["status"]) == {"accepted"}

    docs = (settings.staging / "data_docs_results" / "as_of=2020-03-01" / "44_20200301_v1"
            / "workers.json")
    result = docs.read_text(encoding="utf-8")
    assert "worker.mode.unknown" in result
    assert VALID_ID not in result and "张三" not in result and "步行" not in result


def test_ingest_saves_results_and_data_docs_are_built_once_for_the_run(settings):
    package(settings).write()
    PackageBuilder(settings.landing, province="11", report_date=D1).add(
        "workers", "workers.csv", csv_bytes(WORKER_HEADERS, [worker_row(record_id="B1")])
    ).write()
    ingest_province(settings, "44", D1)
    ingest_province(settings, "11", D1)
    folder = settings.output / "data_docs" / "2020-03-01"
    assert not (folder / "index.html").exists()  # ingest only saves the results

    index = build_data_docs(settings, D1)
    assert index == folder / "index.html" and index.is_file()
    pages = {p.name for p in folder.glob("validations/**/*.html")}
    assert any("44_20200301_v1" in name for name in pages)
    assert any("11_20200301_v1" in name for name in pages)
    assert build_data_docs(settings, D1) == index  # a rerun rebuilds the same site
    assert not (folder / ".lock").exists()
    # Self-contained: no page loads anything from the network (no CDN, no web font).
    for page in folder.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", html, re.I), page
    rule_pages = " ".join(p.read_text(encoding="utf-8")
                          for p in folder.glob("validations/**/*.html"))
    assert "gb11643" in rule_pages or "worker.id_number.invalid" in rule_pages


def test_data_docs_show_the_report_checks_of_the_run(settings):
    """SPEC §3.3 findings are in the Data Docs: the report suites' results, naming the
    package and figure whose declared total differs, and the provinces missing."""
    pkg = package(settings)
    pkg.manifest_overrides["declared_totals"] = {
        "returns_by_mode": {"special_train": 7, "chartered_bus": 0, "train_carriage": 0,
                            "charter_flight": 0}, "key_enterprises_resolved": 1}
    pkg.write()
    ingest_province(settings, "44", D1)
    folder = build_data_docs(settings, D1).parent
    pages = {p.name: p.read_text(encoding="utf-8") for p in folder.glob("validations/**/*.html")}
    totals = next(html for name, html in pages.items() if "report.report_totals" in name)
    assert "report.declared_totals.mismatch" in totals
    assert "44_20200301_v1:returns_by_mode.special_train" in totals
    provinces = next(html for name, html in pages.items() if "report.report_provinces" in name)
    assert "report.province.missing" in provinces
    # The offline index links every result itself (GX's list needs a script from a CDN).
    index = (folder / "index.html").read_text(encoding="utf-8")
    links = re.findall(r'href="(validations/[^"]+)">([^<]+)</a></td><td>(\w+)', index)
    assert {(name, status) for _, name, status in links} >= {
        ("report.report_totals", "findings"), ("report.report_packages", "passed"),
        ("44_20200301_v1.workers", "findings")}
    assert all((folder / href).is_file() for href, _, _ in links)


def test_the_pages_come_from_the_checkpoint_actions_in_the_gx_project(settings, tmp_path,
                                                                     monkeypatch):
    from returnstats.validation import data_docs

    checkpoint = json.loads(data_docs.CHECKPOINT_FILE.read_text(encoding="utf-8"))
    checkpoint["actions"] = []  # a data engineer removes the UpdateDataDocsAction
    edited = tmp_path / "returnstats_data_docs.json"
    edited.write_text(json.dumps(checkpoint), encoding="utf-8")
    monkeypatch.setattr(data_docs, "CHECKPOINT_FILE", edited)
    package(settings).write()
    ingest_province(settings, "44", D1)
    folder = settings.output / "data_docs" / "2020-03-01"
    assert build_data_docs(settings, D1) == folder / "index.html"
    assert not list(folder.glob("validations/**/*.html"))


def test_data_docs_failure_is_logged_not_raised(settings, caplog):
    (settings.output / "data_docs").write_text("not a folder", encoding="utf-8")
    assert build_data_docs(settings, D1) is None
    assert "data docs for 2020-03-01 not built" in caplog.text


def test_rerun_reuses_the_staged_package_and_keeps_first_processed(settings):
    package(settings).write()
    ingest_province(settings, "44", D1)
    again = ingest_province(settings, "44", D2)
    assert by_package(again)["44_20200301_v1"]["reused"] is True
    assert read_meta(settings.staging, "44_20200301_v1")["first_processed_as_of"] == "2020-03-01"


def test_a_package_staged_in_the_older_parquet_layout_is_refused_by_name(settings):
    package(settings).write()
    ingest_province(settings, "44", D1)
    folder = packages_dir(settings.staging) / "44_20200301_v1"
    pq.write_table(read_arrow(settings.staging, "44_20200301_v1", "ledger"),
                   folder / "ledger.parquet")
    (folder / "ledger.arrow").unlink()
    with pytest.raises(StagedFormatError, match=r"44_20200301_v1 holds ledger\.parquet"):
        read_staged(settings, D1)


def test_package_dated_after_as_of_is_not_ingested(settings):
    package(settings, report_date=D2).write()
    assert ingest_province(settings, "44", D1)["packages"] == []
    assert read_staged(settings, D1).ledger.empty


def test_resubmitted_version_supersedes_the_earlier_one(settings):
    package(settings).write()
    ingest_province(settings, "44", D1)
    package(settings, version=2, workers=[worker_row(record_id="N1")]).write()
    summary = ingest_province(settings, "44", D2)
    assert by_package(summary)["44_20200301_v2"]["status"] == "accepted"

    staged = read_staged(settings, D2)
    assert staged.workers["record_id"].tolist() == ["N1"]
    assert set(staged.workers["package"]) == {"44_20200301_v2"}
    v1 = staged.ledger[staged.ledger["package"] == "44_20200301_v1"]
    assert set(v1["status"]) == {"superseded"}
    assert (v1["rows_accepted"] == 0).all() and v1["rows_received"].sum() == 5
    assert set(v1["reason"]) == {"superseded by 44_20200301_v2"}
    assert check_ledger(staged.ledger) == []
    assert read_meta(settings.staging, "44_20200301_v2")["first_processed_as_of"] == "2020-03-02"


def test_different_content_under_an_accepted_name_is_a_rejected_conflict(settings):
    path = package(settings).write()
    ingest_province(settings, "44", D1)
    shutil.rmtree(path)
    package(settings, workers=[worker_row(record_id="X1")]).write()

    summary = ingest_province(settings, "44", D2)
    conflicts = [p for p in summary["packages"] if "#conflict-" in p["package"]]
    assert len(conflicts) == 1
    conflict = conflicts[0]
    assert conflict["status"] == "rejected" and conflict["reason"] == "package.version.conflict"
    assert conflict["rows_accepted"] == 0 and conflict["rows_received"] == 2

    staged = read_staged(settings, D2)
    assert staged.workers["record_id"].tolist() == ["W1", "W2", "W4"]  # the accepted one kept
    rejected = staged.ledger[staged.ledger["status"] == "rejected"]
    assert set(rejected["package"]) == {conflict["package"]}
    assert rejected["reason"].str.startswith("package.version.conflict").all()
    assert check_ledger(staged.ledger) == []
    # Rerunning records the conflict once.
    again = ingest_province(settings, "44", D2)
    assert by_package(again)[conflict["package"]]["reused"] is True


def test_rejected_package_is_staged_with_its_reason(settings):
    pkg = package(settings)
    pkg.files[0].present = False
    pkg.write()
    entry = by_package(ingest_province(settings, "44", D1))["44_20200301_v1"]
    assert entry["status"] == "rejected" and entry["reason"] == "package.file.missing"
    staged = read_staged(settings, D1)
    assert staged.workers.empty
    assert staged.ledger["status"].tolist() == ["rejected"]
    assert check_ledger(staged.ledger) == []


def test_symlinked_package_is_staged_as_rejected(settings, tmp_path):
    real = package(settings).write()
    target = tmp_path / "elsewhere"
    shutil.move(real, target)
    (settings.landing / "44" / "44_20200301_v1").symlink_to(target, target_is_directory=True)
    entry = by_package(ingest_province(settings, "44", D1))["44_20200301_v1"]
    assert entry["status"] == "rejected" and entry["reason"] == "package.symlink"


def test_check_ledger_reports_violations():
    ledger = pd.DataFrame([
        {"package": "44_20200301_v1", "file": "workers.csv", "status": "accepted",
         "rows_received": 10, "rows_accepted": 8, "rows_quarantined": 1},
        {"package": "44_20200301_v2", "file": "workers.csv", "status": "superseded",
         "rows_received": 3, "rows_accepted": 3, "rows_quarantined": 0},
        {"package": "44_20200301_v3", "file": "workers.csv", "status": "accepted",
         "rows_received": 3, "rows_accepted": 2, "rows_quarantined": 1},
    ])
    problems = check_ledger(ledger)
    assert len(problems) == 2
    assert "44_20200301_v1/workers.csv" in problems[0]
    assert "superseded" in problems[1]
