"""End to end: the real DAG, run by Airflow's `dag.test()` for three as-of days on generated
reports, checked against the sample generator's ground truth (never against numbers the
pipeline produced)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes
from email.policy import default

import duckdb
import pandas as pd
import pytest
from returnstats.sample import deliver, generate
from returnstats.warehouse.schema import TABLES

from tests.documents import PACKAGE_NAME, RULE_ID, html_part, pdf_info, pdf_pages, require

START = date(2020, 2, 17)
DAYS = 3
LAST = START + timedelta(days=DAYS - 1)
RETURNS_TOLERANCE = 0.01  # relative; linkage is probabilistic (SPEC §4)
EXACT_FIGURES = ["key_enterprises_resolved_cumulative", "provinces_reporting"]
RETURN_FIGURES = [
    "returns_new", "returns_cumulative", "returns_cumulative_special_train",
    "returns_cumulative_chartered_bus", "returns_cumulative_train_carriage",
    "returns_cumulative_charter_flight", "cross_province_new", "cross_province_cumulative",
]


@pytest.fixture(scope="module")
def pipeline_run(airflow_db, dagbag, tmp_path_factory):
    """Generate three days of reports, then run the DAG for each as-of day in order."""
    root = tmp_path_factory.mktemp("e2e")
    sample = root / "sample"
    generate(out=sample, start=START, days=DAYS, persons_per_day=1500, seed=11,
             campaign_start=date(2020, 2, 10))
    env = {
        "RETURNSTATS_LANDING": root / "landing",
        "RETURNSTATS_STAGING": root / "staging",
        "RETURNSTATS_WAREHOUSE": root / "warehouse",
        "RETURNSTATS_OUTPUT": root / "output",
        "RETURNSTATS_CAMPAIGN_START": "2020-02-10",
    }
    mp = pytest.MonkeyPatch()
    for name, value in env.items():
        mp.setenv(name, str(value))
    mp.delenv("AIRFLOW_CONN_SMTP_DEFAULT", raising=False)
    dag = dagbag.dags["return_to_work_daily"]
    states = {}
    for i in range(DAYS):
        as_of = START + timedelta(days=i)
        deliver(sample=sample, landing=root / "landing", through=as_of)
        run = dag.test(logical_date=datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC))
        states[as_of] = str(run.state)
    yield {"root": root, "sample": sample, "states": states}
    mp.undo()


def _warehouse(run) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(run["root"] / "warehouse" / "warehouse.duckdb"), read_only=True)


def _truth(run, name: str) -> pd.DataFrame:
    return pd.read_csv(run["sample"] / "truth" / name, dtype=str, keep_default_na=False)


def test_every_day_runs_to_success(pipeline_run):
    assert set(pipeline_run["states"].values()) == {"success"}, pipeline_run["states"]


def test_every_table_and_column_of_the_contract_exists(pipeline_run):
    con = _warehouse(pipeline_run)
    for table in TABLES.values():
        for view in (table.name, f"latest_{table.name}"):
            columns = [row[0] for row in con.execute(f"describe {view}").fetchall()]
            assert set(table.column_names) | {"as_of"} <= set(columns), view


def test_national_summary_matches_the_truth(pipeline_run):
    con = _warehouse(pipeline_run)
    published = con.execute("select * from national_summary").df()
    truth = _truth(pipeline_run, "national_summary.csv")
    truth["as_of"] = pd.to_datetime(truth["as_of"]).dt.date
    truth["date"] = pd.to_datetime(truth["date"]).dt.date
    published["as_of"] = pd.to_datetime(published["as_of"]).dt.date
    published["date"] = pd.to_datetime(published["date"]).dt.date
    merged = truth.merge(published, on=["as_of", "date"], suffixes=("_true", ""), how="left",
                         validate="one_to_one")
    assert merged["returns_new"].notna().all(), "a (as_of, date) of the truth was not published"
    for figure in EXACT_FIGURES:
        mismatch = merged[merged[f"{figure}_true"].astype("int64") != merged[figure]]
        assert mismatch.empty, mismatch[["as_of", "date", f"{figure}_true", figure]]
    for figure in RETURN_FIGURES:
        true = merged[f"{figure}_true"].astype("int64")
        error = (merged[figure] - true).abs() / true.clip(lower=1)
        worst = merged.loc[error.idxmax()]
        assert error.max() <= RETURNS_TOLERANCE, (figure, worst["as_of"], worst["date"],
                                                  worst[f"{figure}_true"], worst[figure])


def test_every_planted_record_error_is_quarantined_with_its_rule(pipeline_run):
    """Errors in quarantine, warnings in record_flags (SPEC §6), each with its rule."""
    con = _warehouse(pipeline_run)
    quarantined = con.execute(
        "select package, file, row_number, rule, 'error' from latest_quarantine union all "
        "select package, file, row_number, rule, 'warning' from latest_record_flags"
    ).df()
    found = set(zip(quarantined["package"], quarantined["file"],
                    quarantined["row_number"].astype(int), quarantined["rule"]))
    planted = _truth(pipeline_run, "planted_record_errors.csv")
    by_table = dict(zip(zip(quarantined["package"], quarantined["file"],
                            quarantined["row_number"].astype(int), quarantined["rule"]),
                        quarantined.iloc[:, 4]))
    assert all(by_table.get((r.package, r.file, int(r.row_number), r.rule), r.severity)
               == r.severity for r in planted.itertuples())
    rejected = set(con.execute(
        "select package from latest_ledger where status <> 'accepted'").df()["package"])
    missing = [
        (row.package, row.file, int(row.row_number), row.rule)
        for row in planted.itertuples()
        if row.package not in rejected
        and (row.package, row.file, int(row.row_number), row.rule) not in found
    ]
    assert planted.shape[0] > 0
    assert missing == []


def test_every_planted_package_fault_is_rejected_with_its_reason(pipeline_run):
    con = _warehouse(pipeline_run)
    ledger = con.execute("select package, status, reason from latest_ledger").df()
    planted = _truth(pipeline_run, "planted_package_faults.csv")
    assert planted.shape[0] > 0
    for fault in planted.itertuples():
        rows = ledger[ledger["package"] == fault.package]
        assert not rows.empty, f"{fault.package} missing from the ledger"
        assert set(rows["status"]) == {"rejected"}, (fault.package, set(rows["status"]))
        assert rows["reason"].str.startswith(fault.reason).all(), (fault.package, rows["reason"].tolist())


def test_ledger_balances_and_matches_the_truth(pipeline_run):
    con = _warehouse(pipeline_run)
    ledger = con.execute("select * from latest_ledger").df()
    accepted = ledger[ledger["status"] == "accepted"]
    assert (accepted["rows_received"] == accepted["rows_accepted"] + accepted["rows_quarantined"]).all()
    assert (ledger.loc[ledger["status"] != "accepted", "rows_accepted"] == 0).all()
    truth = _truth(pipeline_run, "ledger.csv")
    for column in ("rows_received", "rows_accepted", "rows_quarantined"):
        truth[column] = truth[column].astype("int64")
    merged = truth.merge(ledger, on=["package", "file"], suffixes=("_true", ""), how="left")
    assert merged["status"].notna().all(), merged[merged["status"].isna()]["package"].tolist()
    for column in ("status", "rows_received", "rows_accepted", "rows_quarantined"):
        bad = merged[merged[f"{column}_true"] != merged[column]]
        assert bad.empty, bad[["package", "file", f"{column}_true", column]]


def test_bulletins_are_written_and_mailed_to_the_outbox(pipeline_run):
    output = pipeline_run["root"] / "output"
    directory = output / "bulletins" / LAST.isoformat()
    for name in ("bulletin.zh.html", "bulletin.en.html", "bulletin.zh.txt", "bulletin.en.txt"):
        assert (directory / name).stat().st_size > 0, name
    assert (output / "outbox" / f"{LAST.isoformat()}.eml").exists()


def test_bulletin_pdfs_fit_four_pages_and_every_page_shows_the_warehouse_figures(pipeline_run):
    """SPEC §7 on generated data: each PDF edition at most 4 tagged A4 pages, page 1 the
    release section with the exact key figures of national_summary, no link but absolute
    ones in the mail."""
    require("pdfinfo", "pdftotext")
    directory = pipeline_run["root"] / "output" / "bulletins" / LAST.isoformat()
    figures = _warehouse(pipeline_run).execute(
        "select returns_cumulative, returns_new, cross_province_cumulative, "
        "key_enterprises_resolved_cumulative, provinces_reporting from national_summary "
        "where as_of = ? and date = ?", [LAST, LAST]).fetchone()
    for lang in ("zh", "en"):
        pdf = directory / f"bulletin.{lang}.pdf"
        info = pdf_info(pdf)
        assert info["Tagged"] == "yes" and info["Page size"].endswith("(A4)")
        assert 1 <= int(info["Pages"]) <= 4, (lang, info["Pages"])
        pages = pdf_pages(pdf)
        first = "".join(pages[0].split()).replace(",", "")
        for value in figures:
            assert str(value) in first, (lang, value)
        assert not PACKAGE_NAME.search(pages[0]) and not RULE_ID.search(pages[0])
    eml = (pipeline_run["root"] / "output" / "outbox" / f"{LAST.isoformat()}.eml").read_bytes()
    html = html_part(message_from_bytes(eml, policy=default))
    assert [h for h in re.findall(r'href="([^"]*)"', html) if not h.startswith("#")] == []


def test_no_personal_data_reaches_the_warehouse_or_the_bulletin(pipeline_run):
    staged = pd.concat(
        pd.read_parquet(path, columns=["name", "id_number", "phone"])
        for path in (pipeline_run["root"] / "staging" / "packages").glob("*/workers.parquet")
    )
    secrets = {v for column in ("id_number", "phone", "name")
               for v in staged[column].dropna().astype(str).unique() if len(v) >= 3}
    assert len(secrets) > 1000
    con = _warehouse(pipeline_run)
    published: set[str] = set()
    for table in TABLES.values():
        frame = con.execute(f"select * from {table.name}").df()
        for column in frame.columns:
            values = frame[column].explode() if column == "source_records" else frame[column]
            published.update(values.dropna().astype(str))
    assert published.isdisjoint(secrets)
    bulletin_text = "".join(
        path.read_text(encoding="utf-8")
        for path in (pipeline_run["root"] / "output" / "bulletins").rglob("*.txt"))
    assert [v for v in secrets if v in bulletin_text] == []


def test_planted_declared_total_mismatches_and_only_they_are_in_report_checks(pipeline_run):
    """SPEC §3.3: the generator adds 7 to chartered_bus in the declared totals of a few
    packages (sample.json); every other package's totals agree with its records."""
    import json

    meta = json.loads((pipeline_run["sample"] / "truth" / "sample.json").read_text())
    superseded = {r["superseded"] for r in meta["resubmitted"]
                  if date.fromisoformat(r["visible_on"]) <= LAST}
    not_yet = {p["package"] for p in meta["late_packages"]
               if date.fromisoformat(p["visible_on"]) > LAST}
    planted = set(meta["wrong_declared_totals"]) - superseded - not_yet
    assert planted, "the sample plants no mismatch in these days"
    rows = _warehouse(pipeline_run).execute(
        "SELECT package, figure, declared - observed FROM latest_report_checks "
        "WHERE \"check\" = 'report.declared_totals.mismatch'").fetchall()
    assert {r[0] for r in rows} == planted
    assert {(r[1], r[2]) for r in rows} == {("returns_by_mode.chartered_bus", 7)}
    late = {r[0] for r in _warehouse(pipeline_run).execute(
        "SELECT package FROM latest_report_checks WHERE \"check\" = 'report.package.late'"
    ).fetchall()}
    assert {p["package"] for p in meta["late_packages"]} - not_yet <= late
