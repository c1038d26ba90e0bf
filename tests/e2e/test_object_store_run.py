"""End to end on a real S3 server (moto, tests/s3.py): the DAG, run by `dag.test()` with
staging (with the linkage state) and the warehouse in a bucket and the credentials in the
`aws_default` connection, gives what the same days give on local directories: the same
national_summary, ledger and quarantine, and the same bulletin text."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from returnstats.sample import deliver, generate
from returnstats.warehouse.store import read_table

START = date(2020, 2, 17)
DAYS = 2
COMPARED = ("national_summary", "ledger", "quarantine")


def _run_days(dag, mp, root, sample, zones: dict[str, str]) -> dict[date, str]:
    for name, value in {**zones, "RETURNSTATS_LANDING": str(root / "landing"),
                        "RETURNSTATS_OUTPUT": str(root / "output")}.items():
        mp.setenv(name, value)
    states = {}
    for i in range(DAYS):
        as_of = START + timedelta(days=i)
        deliver(sample=sample, landing=root / "landing", through=as_of)
        run = dag.test(logical_date=datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC))
        states[as_of] = str(run.state)
    return states


@pytest.fixture(scope="module")
def runs(airflow_db, dagbag, tmp_path_factory, s3_server):
    root = tmp_path_factory.mktemp("s3e2e")
    sample = root / "sample"
    generate(out=sample, start=START, days=DAYS, persons_per_day=300, seed=23,
             campaign_start=date(2020, 2, 10))
    bucket = s3_server.new_bucket()
    mp = pytest.MonkeyPatch()
    mp.setenv("RETURNSTATS_CAMPAIGN_START", "2020-02-10")
    mp.setenv("RETURNSTATS_CACHE", str(root / "cache"))
    mp.setenv("AIRFLOW_CONN_AWS_DEFAULT", s3_server.connection_uri())
    mp.delenv("AIRFLOW_CONN_SMTP_DEFAULT", raising=False)
    dag = dagbag.dags["return_to_work_daily"]
    local = _run_days(dag, mp, root / "local", sample, {
        "RETURNSTATS_STAGING": str(root / "local" / "staging"),
        "RETURNSTATS_WAREHOUSE": str(root / "local" / "warehouse")})
    remote = _run_days(dag, mp, root / "s3", sample, {
        "RETURNSTATS_STAGING": f"s3://{bucket}/staging",
        "RETURNSTATS_WAREHOUSE": f"s3://{bucket}/warehouse"})
    mp.undo()
    yield {"root": root, "bucket": bucket, "states": (local, remote)}


def test_both_runs_succeed(runs):
    local, remote = runs["states"]
    assert set(local.values()) == set(remote.values()) == {"success"}, runs["states"]


def test_staging_linkage_and_warehouse_live_in_the_bucket_not_on_disk(runs, s3_server):
    fs = s3_server.filesystem()
    bucket = runs["bucket"]
    assert fs.find(f"{bucket}/staging/packages")
    assert fs.find(f"{bucket}/staging/linkage/deltas")
    assert fs.exists(f"{bucket}/staging/linkage/as_of={START + timedelta(days=DAYS - 1)}/chain.json")
    assert fs.exists(f"{bucket}/warehouse/warehouse.duckdb")
    assert fs.find(f"{bucket}/warehouse/_commits")
    assert not (runs["root"] / "s3" / "staging").exists()
    assert not (runs["root"] / "s3" / "warehouse").exists()


@pytest.mark.parametrize("table", COMPARED)
def test_the_tables_equal_the_local_run(runs, s3_server, table):
    from upath import UPath

    local = read_table(runs["root"] / "local" / "warehouse", table)
    remote = read_table(UPath(f"s3://{runs['bucket']}/warehouse", **s3_server.options), table)
    assert len(local) > 0
    pd.testing.assert_frame_equal(remote, local)


def test_the_bulletin_text_equals_the_local_run(runs):
    for i in range(DAYS):
        day = (START + timedelta(days=i)).isoformat()
        for lang in ("zh", "en"):
            name = f"bulletins/{day}/bulletin.{lang}.txt"
            local = (runs["root"] / "local" / "output" / name).read_text(encoding="utf-8")
            remote = (runs["root"] / "s3" / "output" / name).read_text(encoding="utf-8")
            assert remote == local
