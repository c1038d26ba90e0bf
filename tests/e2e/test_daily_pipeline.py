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

from scripts import run_days
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
def pipeline_run(airflow_db, tmp_path_factory):
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
    from airflow.models.dagrun import DagRun

    states, started = {}, datetime.now(UTC)
    for i in range(DAYS):
        as_of = START + timedelta(days=i)
        deliver(sample=sample, landing=root / "landing", through=as_of)
        # through the script behind `make run` / `make day`, as an operator runs a day
        run_days.main([as_of.isoformat(), "--logs", str(root / "logs")])
        (run,) = [r for r in DagRun.find(dag_id="return_to_work_daily")
                  if r.logical_date == datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC)]
        states[as_of] = str(run.state)
    yield {"root": root, "sample": sample, "states": states, "started": started,
           "ended": datetime.now(UTC)}
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


# What an operator sees of the same runs (run by scripts/run_days.py, as `make day` does).

def _runs():
    from airflow.models.dagrun import DagRun

    return {r.logical_date.date(): r for r in DagRun.find(dag_id="return_to_work_daily")
            if START <= r.logical_date.date() <= LAST}


def test_runs_carry_their_as_of_date_real_times_and_a_log(pipeline_run):
    runs = _runs()
    assert set(runs) == set(pipeline_run["states"])
    for as_of, run in runs.items():
        assert run.run_id == f"manual__{as_of.isoformat()}T00:00:00+00:00"
        assert pipeline_run["started"] <= run.start_date <= run.end_date <= pipeline_run["ended"]
        assert (pipeline_run["root"] / "logs" / f"{as_of}.log").is_file()


def test_province_tasks_are_named_and_skipped_when_nothing_was_accepted(pipeline_run):
    con = _warehouse(pipeline_run)
    truth_ledger = _truth(pipeline_run, "ledger.csv")
    missing = _truth(pipeline_run, "provinces_missing.csv")
    faulted = _truth(pipeline_run, "planted_package_faults.csv")
    for as_of, run in _runs().items():
        tis = [ti for ti in run.get_task_instances() if ti.task_id == "ingest_province"]
        labels = {ti.rendered_map_index for ti in tis}
        assert "44 广东 Guangdong" in labels and len(labels) == 31
        skipped = {ti.rendered_map_index[:2] for ti in tis if str(ti.state) == "skipped"}
        assert {str(ti.state) for ti in tis} <= {"success", "skipped"}
        # the grid agrees with the warehouse: skipped = no accepted package for D
        accepted = {p for (p,) in con.execute(
            "select distinct province from ledger where as_of = ? and report_date = ?"
            " and status = 'accepted'", [as_of, as_of]).fetchall()}
        assert skipped == {ti.rendered_map_index[:2] for ti in tis} - accepted
        # and with the generator's truth: missing provinces, and faulted packages never
        # corrected, are skipped
        day = as_of.strftime("%Y%m%d")
        never_accepted = {p[:11] for p in faulted["package"]} - {
            p[:11] for p in truth_ledger.loc[truth_ledger["status"] == "accepted", "package"]}
        expected = set(missing.loc[missing["report_date"] == as_of.isoformat(), "province"]) | {
            p[:2] for p in never_accepted if p[3:11] == day}
        assert expected <= skipped, (as_of, expected, skipped)


def test_an_approval_is_an_asset_event_for_downstream_dags(pipeline_run):
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        extras = session.execute(
            select(AssetEvent.extra).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.name == "returnstats.approved")).scalars().all()
    con = _warehouse(pipeline_run)
    approved = {d.isoformat() for (d,) in con.execute(
        "select as_of from vintages where status = 'approved' and approved_by = 'auto'").fetchall()}
    assert approved and approved <= {e.get("as_of") for e in extras}


def test_airflow_dags_list_and_dags_show_work(pipeline_run):
    import json
    import os
    import subprocess
    import sys

    airflow = os.path.join(os.path.dirname(sys.executable), "airflow")

    def cli(*args: str) -> str:
        done = subprocess.run([airflow, *args], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    listed = {d["dag_id"] for d in json.loads(cli("dags", "list", "--output", "json"))}
    assert {"return_to_work_daily", "statistics_weekly_extract"} <= listed
    dot = cli("dags", "show", "return_to_work_daily")
    assert "digraph return_to_work_daily" in dot and "publish_warehouse" in dot


def test_the_weekly_extract_holds_the_approved_week_as_the_truth_has_it(pipeline_run, dagbag):
    """The downstream DAG (scheduled on the approval Asset), run with dag.test() on the
    warehouse of these runs: the newest approved vintage's seven days, as CSV and Excel."""
    mp = pytest.MonkeyPatch()
    for zone in ("warehouse", "output"):
        mp.setenv(f"RETURNSTATS_{zone.upper()}", str(pipeline_run["root"] / zone))
    try:
        run = dagbag.dags["statistics_weekly_extract"].test()
    finally:
        mp.undo()
    assert str(run.state) == "success"
    con = _warehouse(pipeline_run)
    (as_of,) = con.execute("select max(as_of) from vintages where status = 'approved'").fetchone()
    csv = pipeline_run["root"] / "output" / "extracts" / f"returns_week_{as_of}.csv"
    extract = pd.read_csv(csv, dtype={"date": str})
    truth = _truth(pipeline_run, "national_summary.csv")
    truth = truth[truth["as_of"] == as_of.isoformat()].tail(7)
    assert list(extract["date"]) == list(truth["date"])
    assert list(extract["provinces_reporting"]) == [int(v) for v in truth["provinces_reporting"]]
    true = truth["returns_cumulative"].astype("int64").to_numpy()
    error = abs(extract["returns_cumulative"].to_numpy() - true) / true.clip(min=1)
    assert error.max() <= RETURNS_TOLERANCE
    sheets = pd.read_excel(csv.with_suffix(".xlsx"), sheet_name=None)
    assert set(sheets) == {"national_summary", "returns_daily"}
    assert len(sheets["national_summary"]) == 7
