"""The day always completes and only what may be published is (SPEC §8), through the real
DAG run by `dag.test()`: a province whose ingest task raises is recorded as failed and the
nation goes on without it; a day with no new package is held and `latest_*` stays on the
last approved day. Checked against the sample generator's truth."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import duckdb
import pandas as pd
import pytest
from returnstats.reference import provinces
from returnstats.sample import deliver, generate

START = date(2020, 2, 17)
FAILING = "44"


@pytest.fixture(scope="module")
def day_runs(airflow_db, dagbag, tmp_path_factory):
    """Day 1 with Guangdong's ingest crashing, then day 2 (with it working again), then a
    day 3 when nothing new arrives."""
    root = tmp_path_factory.mktemp("day-completes")
    sample = root / "sample"
    generate(out=sample, start=START, days=2, persons_per_day=400, seed=31,
             campaign_start=date(2020, 2, 10))
    mp = pytest.MonkeyPatch()
    for zone in ("landing", "staging", "warehouse", "output"):
        mp.setenv(f"RETURNSTATS_{zone.upper()}", str(root / zone))
    mp.setenv("RETURNSTATS_CAMPAIGN_START", "2020-02-10")
    mp.delenv("AIRFLOW_CONN_SMTP_DEFAULT", raising=False)
    from returnstats.validation import ingest as ingest_module

    real_ingest = ingest_module.ingest_province

    def crash_in_guangdong(settings, province, as_of):
        if province == FAILING:
            raise MemoryError("simulated crash of the province's ingest")
        return real_ingest(settings, province, as_of)

    dag = dagbag.dags["return_to_work_daily"]
    runs = {}
    try:
        for i, crash in ((0, True), (1, False), (2, False)):
            as_of = START + timedelta(days=i)
            deliver(sample=sample, landing=root / "landing", through=min(as_of, START + timedelta(1)))
            mp.setattr(ingest_module, "ingest_province",
                       crash_in_guangdong if crash else real_ingest)
            run = dag.test(logical_date=datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC))
            runs[as_of] = {ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]":
                           str(ti.state) for ti in run.get_task_instances()} | {
                               "__run__": str(run.state)}
    finally:
        mp.undo()
    return {"root": root, "sample": sample, "runs": runs}


def _sql(root, sql: str) -> list[tuple]:
    con = duckdb.connect(str(root / "warehouse" / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_a_crashing_province_fails_alone_and_the_day_is_published(day_runs):
    states = day_runs["runs"][START]
    index = list(provinces()).index(FAILING)  # the DAG maps over the codes in this order
    assert states[f"ingest_province[{index}]"] == "failed"
    assert states["__run__"] == "success"
    for task in ("collect_ingest", "link_persons", "publish_warehouse", "render_bulletin",
                 "send_bulletin"):
        assert states[task] == "success", (task, states[task])


def test_the_failed_provinces_package_is_rejected_for_the_day_and_taken_the_next(day_runs):
    root = day_runs["root"]
    first = _sql(root, "SELECT package, status, reason FROM ledger WHERE as_of = DATE "
                 f"'{START}' AND province = '{FAILING}'")
    assert first and {r[1] for r in first} == {"rejected"}
    assert all(r[2].startswith("package.ingest.failed") for r in first)
    second = _sql(root, "SELECT DISTINCT status FROM ledger WHERE as_of = DATE "
                  f"'{START + timedelta(1)}' AND package = '{first[0][0]}'")
    assert second == [("accepted",)], "the next run ingests what the crash left"


def test_provinces_reporting_counts_the_others_as_the_truth_does(day_runs):
    truth = pd.read_csv(day_runs["sample"] / "truth" / "national_summary.csv", dtype=str)
    true_day1 = truth[(truth["as_of"] == str(START)) & (truth["date"] == str(START))]
    expected = int(true_day1["provinces_reporting"].iloc[0])
    published = _sql(day_runs["root"], "SELECT provinces_reporting FROM national_summary "
                     f"WHERE as_of = DATE '{START}' AND date = as_of")
    guangdong_reported = _sql(day_runs["root"], "SELECT count(*) FROM ledger WHERE as_of = "
                              f"DATE '{START + timedelta(1)}' AND province = '{FAILING}' AND "
                              f"report_date = DATE '{START}' AND status = 'accepted'")[0][0] > 0
    assert published == [(expected - guangdong_reported,)]


def test_the_oncall_alert_names_the_province(day_runs):
    alerts = list((day_runs["root"] / "output" / "outbox" / "alerts").glob("failure-*.eml"))
    texts = [a.read_text(encoding="utf-8", errors="replace") for a in alerts]
    assert any("ingest_province" in t for t in texts)
    from email import message_from_bytes
    from email.policy import default

    bodies = [message_from_bytes(a.read_bytes(), policy=default).get_content() for a in alerts]
    assert any("44 广东 Guangdong" in body for body in bodies)


def test_a_day_with_no_new_package_is_held_and_latest_stays_on_the_last_approved_day(day_runs):
    root, last, idle = day_runs["root"], START + timedelta(1), START + timedelta(2)
    assert day_runs["runs"][idle]["__run__"] == "success"
    assert day_runs["runs"][idle]["send_bulletin"] == "skipped"
    (status, reason, provinces), = _sql(root, "SELECT status, reason, provinces_reporting FROM "
                                        f"vintages WHERE as_of = DATE '{idle}'")
    assert (status, provinces) == ("held", 0) and "0 of 31 provinces" in reason
    assert _sql(root, "SELECT DISTINCT as_of FROM latest_national_summary") == [(last,)]
    assert _sql(root, "SELECT as_of FROM latest_vintages") == [(last,)]
    assert not (root / "output" / "outbox" / f"{idle}.eml").exists()
